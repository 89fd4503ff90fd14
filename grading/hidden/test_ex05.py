"""Hidden checks for exercise 05: long dilation lists, 4-level µ-law, a wide causal
convolution, a long ring buffer, a third WaveNet configuration and a deep stack to measure."""
import numpy as np
import torch

from arcourse import make_generator, mu_law_decode, mu_law_encode
from arcourse.decoding import generate
from arcourse.grading.api import check_close, points, question
from arcourse.models import CausalConv1d, WaveNet, WaveNetConfig


@question("receptive_field")
class TestReceptiveFieldHidden:
    @points(1)
    def test_formula_on_long_stacks(self, student):
        for K, dilations in [(2, [2 ** i for i in range(10)] * 3), (3, [1, 3, 9, 27]), (1, [5, 7])]:
            want = 1 + (K - 1) * sum(dilations)
            got = student.receptive_field(K, dilations)
            assert got == want, f"receptive_field({K}, {dilations}) returned {got!r}, expected {want}"


@question("mu_law")
class TestMuLawHidden:
    @points(1)
    def test_four_levels_at_the_ends(self, student):
        x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
        got = torch.as_tensor(student.mu_law_encode(x, 4))
        check_close(got, mu_law_encode(x, 4), "mu_law_encode(x, levels=4)", atol=0, x=x)
        check_close(student.mu_law_decode(torch.arange(4), 4), mu_law_decode(torch.arange(4), 4),
                    "mu_law_decode(0..3, levels=4)", atol=1e-6)


@question("causal_conv1d")
class TestCausalConvHidden:
    @points(1)
    def test_wide_kernel_and_dilation(self, student):
        torch.manual_seed(51)
        conv = CausalConv1d(4, 2, 5, 3).double()
        x = torch.randn(3, 4, 30, dtype=torch.float64)
        got = student.causal_conv1d(x, conv.weight.detach(), conv.bias.detach(), 3)
        check_close(got, conv(x).detach(), "causal_conv1d with K=5, dilation=3", x=x)


@question("conv_step")
class TestConvStepHidden:
    @points(1)
    def test_long_queue(self, student):
        torch.manual_seed(52)
        conv = CausalConv1d(1, 1, 4, 8).double()
        x = torch.randn(1, 1, 40, dtype=torch.float64)
        full = conv(x).detach()
        queue = torch.zeros(1, 1, 24, dtype=torch.float64)
        for t in range(40):
            y, queue = student.conv_step(queue, x[:, :, t], conv.weight.detach(), conv.bias.detach(), 8, t)
            check_close(y, full[:, :, t], f"conv_step output at t={t} (K=4, dilation=8)")


@question("conv_step")
class TestFastGenerationHidden:
    @points(1)
    def test_one_stack_of_kernel_two(self, student):
        config = WaveNetConfig.tiny(kernel_size=2, n_stacks=1)
        torch.manual_seed(53)
        model = WaveNet(config).eval()
        with torch.no_grad():  # sharper conditionals: samples that depend on every layer's state
            for p in model.head.parameters():
                p.mul_(4.0)
        prompt = torch.randint(config.vocab_size, (4, 5), generator=torch.Generator().manual_seed(53))
        want = generate(model, prompt, 30, generator=make_generator(9), use_cache=False)
        got = torch.as_tensor(np.asarray(student.fast_generate(model, prompt, 30, 9)))
        check_close(got, want, "fast_generate(model, prompt, 30, seed=9)", atol=0, rtol=0)


@question("measure_receptive_field")
class TestMeasureReceptiveFieldHidden:
    @points(1)
    def test_deep_doubling_stack(self, student):
        torch.manual_seed(54)
        layers = []
        for n, d in enumerate([1, 2, 4, 8, 16, 32, 64]):
            layers += [CausalConv1d(1 if n == 0 else 2, 2, 2, d).double(), torch.nn.Tanh()]
        got = student.measure_receptive_field(torch.nn.Sequential(*layers[:-1]), 150, 5)
        assert got == 128, f"a stack of K = 2, dilations 1 ... 64 reaches 128 inputs; measure_receptive_field gave {got!r}"
