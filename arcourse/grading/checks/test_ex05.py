"""Checks for exercise 05 (WaveNet): receptive field, µ-law (warm-up); a causal convolution
from its taps, a ring-buffer step and the fast sampler built on it (core); measuring a stack's
receptive field by perturbation (stretch, an experiment)."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arcourse import make_generator, mu_law_decode, mu_law_encode
from arcourse.grading.api import check_close, points, question
from arcourse.decoding import generate
from arcourse.models import CausalConv1d, WaveNet, WaveNetConfig, input_gradient

FEW = settings(max_examples=12, deadline=None, derandomize=True)


def measured_receptive_field(conv_stack: torch.nn.Sequential, length: int) -> int:
    """How far back the last output of a stack of causal convolutions reaches: from the
    earliest input with a non-zero gradient to the last input. (Dilations that are not
    powers of two can leave holes inside that span; the span is what the formula gives.)"""
    x = torch.randn(3, 1, length, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(conv_stack(x)[:, :, -1].sum(), x)
    seen = (grad.abs().sum(dim=(0, 1)) != 0).nonzero().flatten()
    return int(length - seen[0])


def random_conv(seed: int, c_in: int, c_out: int, kernel_size: int, dilation: int) -> CausalConv1d:
    torch.manual_seed(seed)
    return CausalConv1d(c_in, c_out, kernel_size, dilation).double()


@question("receptive_field", "1 + (K - 1) * sum(dilations), measured by the gradient of the last output",
          tier="warm-up", write=("arcourse.models.wavenet.receptive_field",))
class TestReceptiveField:
    @points(2)
    @FEW
    @given(st.integers(2, 4), st.integers(1, 4), st.integers(1, 3))
    def test_wavenets(self, student, kernel_size, layers_per_stack, n_stacks):
        config = WaveNetConfig.tiny(kernel_size=kernel_size, layers_per_stack=layers_per_stack, n_stacks=n_stacks)
        torch.manual_seed(0)
        model = WaveNet(config).double()
        measured = int((input_gradient(model, config.receptive_field + 10) != 0).sum())
        got = student.receptive_field(kernel_size, list(config.dilations))
        assert got == measured, (f"receptive_field({kernel_size}, {list(config.dilations)}) returned {got!r}; "
                                 f"the gradient of a real WaveNet's last output is non-zero on {measured} inputs")

    @points(2)
    @FEW
    @given(st.integers(1, 5), st.lists(st.integers(1, 6), min_size=1, max_size=4))
    def test_any_dilations(self, student, kernel_size, dilations):
        stack = torch.nn.Sequential(*(random_conv(i, 1, 1, kernel_size, d) for i, d in enumerate(dilations)))
        measured = measured_receptive_field(stack, 5 + (kernel_size - 1) * sum(dilations))
        got = student.receptive_field(kernel_size, dilations)
        assert got == measured, (f"receptive_field({kernel_size}, {dilations}) returned {got!r}; the gradient "
                                 f"of a stack of causal convolutions spans {measured} inputs (the current one included)")
        assert student.receptive_field(kernel_size, []) == 1, "with no layers an output sees its own input only"


def random_signal(seed: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    loud = torch.rand(n, generator=gen) * 2 - 1
    quiet = (torch.rand(n, generator=gen) * 2 - 1) * 0.01
    return torch.cat([loud, quiet, torch.tensor([-1.0, 0.0, 1.0])])


@question("mu_law", "µ-law encoding and decoding against the library on random signals; round-trip error",
          tier="warm-up", write=("arcourse.data.audio.mu_law_encode", "arcourse.data.audio.mu_law_decode", "arcourse.data.audio.mu_law_compress",
                 "arcourse.data.audio.mu_law_expand"))
class TestMuLaw:
    @points(2)
    def test_encode(self, student):
        for seed, levels in [(0, 256), (1, 256), (2, 16)]:
            x = random_signal(seed, 500)
            got = torch.as_tensor(student.mu_law_encode(x, levels))
            want = mu_law_encode(x, levels)
            assert not got.is_floating_point(), f"mu_law_encode must return integer levels, got dtype {got.dtype}"
            off = (got != want).nonzero().flatten()
            # float rounding may flip a sample that sits on a level boundary, nothing more
            if len(off) > 2 or (got - want).abs().max() > 1:
                i = int(off[0])
                raise AssertionError(f"mu_law_encode(x, levels={levels}) gives level {int(got[i])} for "
                                     f"x = {float(x[i]):.6g}, expected {int(want[i])} "
                                     f"({len(off)} of {len(x)} samples differ)")

    @points(2)
    def test_decode(self, student):
        for levels in (256, 16):
            q = torch.arange(levels)
            check_close(student.mu_law_decode(q, levels), mu_law_decode(q, levels),
                        f"mu_law_decode(q, levels={levels})", atol=1e-5, q=q)

    @points(1)
    @FEW
    @given(st.integers(0, 2**31 - 1))
    def test_round_trip(self, student, seed):
        x = random_signal(seed, 100)
        back = torch.as_tensor(student.mu_law_decode(student.mu_law_encode(x)))
        mu = 255
        bound = (1 / mu + x.abs()) * ((1 + mu) ** (1 / mu) - 1) + 1e-6
        worst = int(((back - x).abs() - bound).argmax())
        assert (back - x).abs()[worst] <= bound[worst], (
            f"decode(encode(x)) = {float(back[worst]):.6g} for x = {float(x[worst]):.6g}: the error should be at "
            f"most half a level, {float(bound[worst]):.3g}")


@question("causal_conv1d", "a sum of shifted taps equals a causal F.conv1d for any kernel size; no future "
          "sample leaks into the output", tier="core",
          write=("torch.nn.functional.conv1d", "torch.nn.Conv1d", "arcourse.models.wavenet.CausalConv1d"))
class TestCausalConv:
    @points(2)
    @FEW
    @given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 12))
    def test_matches_reference(self, student, c_in, c_out, kernel_size, dilation, length):
        conv = random_conv(length, c_in, c_out, kernel_size, dilation)
        x = torch.randn(2, c_in, length, dtype=torch.float64)
        got = student.causal_conv1d(x, conv.weight.detach(), conv.bias.detach(), dilation)
        check_close(got, conv(x).detach(), "causal_conv1d(x, weight, bias, dilation)", x=x,
                    weight=conv.weight, dilation=dilation)

    @points(1)
    def test_kernel_size_three_by_hand(self, student):
        """K = 3, dilation 2: y_t = 100 x_{t-4} + 10 x_{t-2} + x_t + 0.5 (the last tap reads the present)."""
        x = torch.arange(1.0, 8.0, dtype=torch.float64).view(1, 1, 7)
        w = torch.tensor([[[100.0, 10.0, 1.0]]], dtype=torch.float64)
        want = torch.tensor([[[1.5, 2.5, 13.5, 24.5, 135.5, 246.5, 357.5]]], dtype=torch.float64)
        check_close(student.causal_conv1d(x, w, torch.tensor([0.5], dtype=torch.float64), 2), want,
                    "causal_conv1d with K = 3, dilation 2", x=x, weight=w)

    @points(2)
    def test_future_does_not_leak(self, student):
        conv = random_conv(0, 2, 3, 3, 2)
        x = torch.randn(1, 2, 16, dtype=torch.float64)
        y = torch.as_tensor(student.causal_conv1d(x, conv.weight.detach(), conv.bias.detach(), 2))
        for t in (0, 5, 11):
            future = x.clone()
            future[..., t + 1:] = torch.randn_like(future[..., t + 1:]) * 10
            z = torch.as_tensor(student.causal_conv1d(future, conv.weight.detach(), conv.bias.detach(), 2))
            assert z.shape == y.shape == (1, 3, 16), f"the output must keep the input's length, got {tuple(z.shape)}"
            assert torch.allclose(z[..., :t + 1], y[..., :t + 1]), (
                f"changing the inputs after t = {t} changed outputs at or before t: the future leaks in")
            now = x.clone()
            now[..., t] += 1.0
            moved = torch.as_tensor(student.causal_conv1d(now, conv.weight.detach(), conv.bias.detach(), 2))
            assert not torch.allclose(moved[..., t], y[..., t]), f"the output at t = {t} ignores the input at t"


def ring_after(x, L):
    """The ring buffer after inputs x (B, C, T): slot s % L holds x_s for the last L steps."""
    T = x.shape[-1]
    queue = torch.zeros(*x.shape[:2], L, dtype=x.dtype)
    for s in range(max(0, T - L), T):
        queue[:, :, s % L] = x[:, :, s]
    return queue


@question("conv_step", "one ring-buffer step at a time equals the full causal convolution; the fast sampler built "
          "on it draws the naive sampler's samples", tier="core",
          write=("arcourse.models.wavenet.CausalConv1d.step", "arcourse.models.wavenet.WaveNet.step",
                 "arcourse.models.wavenet.WaveNet.start", "arcourse.decoding.generate.generate"))
class TestConvStep:
    @points(2)
    def test_steps_equal_full_convolution(self, student):
        for seed, (c_in, c_out, kernel_size, dilation) in enumerate([(1, 1, 2, 1), (2, 3, 2, 4), (3, 2, 3, 2),
                                                                     (2, 2, 3, 3)]):
            conv = random_conv(seed, c_in, c_out, kernel_size, dilation)
            x = torch.randn(2, c_in, 15, dtype=torch.float64)
            full = conv(x).detach()
            L = (kernel_size - 1) * dilation
            queue = torch.zeros(2, c_in, L, dtype=torch.float64)
            for t in range(15):
                y, queue = student.conv_step(queue, x[:, :, t], conv.weight.detach(), conv.bias.detach(), dilation, t)
                check_close(y, full[:, :, t], f"conv_step output at t={t} (K={kernel_size}, dilation={dilation})")
            check_close(queue, ring_after(x, L), f"the ring buffer after 15 steps (K={kernel_size}, "
                        f"dilation={dilation}): slot s % {L} holds x_s")

    @points(2)
    def test_fast_equals_naive(self, student):
        for seed, config in enumerate([WaveNetConfig.tiny(), WaveNetConfig.tiny(kernel_size=3, n_stacks=1)]):
            torch.manual_seed(seed)
            model = WaveNet(config).eval()
            prompt = torch.randint(config.vocab_size, (2, 3), generator=torch.Generator().manual_seed(seed))
            want = generate(model, prompt, 40, generator=make_generator(seed), use_cache=False)
            got = torch.as_tensor(np.asarray(student.fast_generate(model, prompt, 40, seed)))
            check_close(got, want, f"fast_generate(model, prompt, 40, seed={seed})", atol=0, rtol=0, prompt=prompt)


def conv_stack(kernel_size, dilations, seed=0, zero_oldest=()):
    """Causal convolutions (1 channel in, 3 between layers) with tanh between them, in float64;
    the layers listed in `zero_oldest` have their oldest tap set to zero."""
    torch.manual_seed(seed)
    layers = []
    for n, d in enumerate(dilations):
        conv = CausalConv1d(1 if n == 0 else 3, 3, kernel_size, d).double()
        if n in zero_oldest:
            with torch.no_grad():
                conv.weight[:, :, 0] = 0
        layers += [conv, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def check_measured(student, kernel_size, dilations, length, *, zero_oldest=(), what=""):
    stack = conv_stack(kernel_size, dilations, seed=len(dilations), zero_oldest=zero_oldest)
    truth = measured_receptive_field(stack, length)
    got = student.measure_receptive_field(stack, length, 3)
    assert got == truth, (f"measure_receptive_field on a stack with K = {kernel_size}, dilations {dilations}"
                          f"{what} returned {got!r}; the last output depends on inputs back to {truth} steps "
                          "(the current one included)")
    return truth


@question("measure_receptive_field", "the receptive field measured by perturbation equals the true reach of any stack, "
          "holes and zeroed taps included", tier="stretch", experiment=True,
          write=("arcourse.models.wavenet.input_gradient", "arcourse.models.wavenet.receptive_field"))
class TestMeasureReceptiveField:
    @points(1)
    def test_dense_stacks(self, student):
        """stacks whose dilations leave no holes: the measurement equals 1 + (K - 1) sum(d)."""
        for K, dilations in [(2, [1, 2, 4, 8]), (3, [1, 2, 4]), (4, [1, 3])]:
            assert check_measured(student, K, dilations, 40) == 1 + (K - 1) * sum(dilations)

    @points(1)
    def test_stacks_with_holes(self, student):
        """dilations [2, 2] and the like: some inputs inside the span are never read, the span still counts."""
        for K, dilations in [(2, [2, 2]), (2, [3, 1, 5]), (3, [4, 4])]:
            check_measured(student, K, dilations, 30)

    @points(1)
    def test_zeroed_taps(self, student):
        """a layer's oldest tap set to zero: the true reach is shorter than the formula."""
        for K, dilations, zero in [(3, [1, 2, 4], (2,)), (2, [1, 2, 4, 8], (3,)), (3, [2, 1, 3], (0, 2))]:
            truth = check_measured(student, K, dilations, 40, zero_oldest=zero,
                                   what=f" (oldest tap of layers {list(zero)} zeroed)")
            assert truth < 1 + (K - 1) * sum(dilations)  # the check's own premise
