"""Hidden checks for exercise 01: a larger joint in an unusual order, big parameter counts,
a sampler on conditionals that no joint was made from, fitted tables with a prefix never seen."""
import math

import torch

from arcourse.grading.api import check_close, points, question
from arcourse.metrics import chi_square_test


def _tables(joint, order):
    n, K = joint.ndim, joint.shape[0]
    permuted = joint.permute(*order)
    out = []
    for i in range(n):
        upto = permuted.sum(dim=tuple(range(i + 1, n))) if i + 1 < n else permuted
        prefix = upto.sum(dim=-1, keepdim=True)
        out.append(torch.where(prefix > 0, upto / prefix.clamp_min(1e-300), torch.full_like(upto, 1 / K)))
    return out


@question("conditional_tables")
class TestConditionalTablesHidden:
    @points(1)
    def test_four_variables_reversed_order_with_zeros(self, student):
        gen = torch.Generator().manual_seed(2024)
        joint = torch.rand(3, 3, 3, 3, generator=gen, dtype=torch.float64)
        joint[1] = 0.0                                   # x0 = 1 is impossible
        joint /= joint.sum()
        order = [3, 1, 0, 2]
        for i, (got, want) in enumerate(zip(student.conditional_tables(joint, order), _tables(joint, order))):
            check_close(got, want, f"conditional_tables(joint, {order})[{i}]", atol=1e-10)


@question("joint_from_conditionals")
class TestJointFromConditionalsHidden:
    @points(1)
    def test_five_binary_variables(self, student):
        gen = torch.Generator().manual_seed(7)
        joint = torch.rand(*(2,) * 5, generator=gen, dtype=torch.float64)
        joint /= joint.sum()
        order = [4, 2, 0, 3, 1]
        got = student.joint_from_conditionals(_tables(joint, order), order)
        check_close(got, joint, f"joint_from_conditionals(tables, {order})", atol=1e-12)


@question("ar_param_count")
class TestArParamCountHidden:
    @points(1)
    def test_huge_counts_are_exact_integers(self, student):
        mixed = 9 + 255 * (10 + 10 * 256 + 10 * 256**2 + 37 * 256**3)   # a label, then 40 bytes, context 3
        for sizes, context, want in (([1000] * 20, None, 1000**20 - 1), ([256] * 64, None, 256**64 - 1),
                                     ([10] + [256] * 40, 3, mixed)):
            got = student.ar_param_count(sizes, context)
            assert isinstance(got, int) and got == want, f"ar_param_count({sizes[:3]}..., {context}) returned {got!r}"


@question("ancestral_sample")
class TestAncestralSampleHidden:
    @points(1)
    def test_arbitrary_conditionals_with_a_certain_path(self, student):
        """Conditionals not derived from a joint, K = 4: the samples follow their product."""
        gen = torch.Generator().manual_seed(31)
        K = 4
        tables = []
        for i in range(3):
            e = -torch.rand((K,) * (i + 1), generator=gen, dtype=torch.float64).log()
            tables.append(e / e.sum(dim=-1, keepdim=True))
        tables[1][2] = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)   # x0 = 2 forces x1 = 3
        joint = tables[0][:, None, None] * tables[1][:, :, None] * tables[2]    # (4, 4, 4)
        out = torch.as_tensor(student.ancestral_sample(tables, 30_000, 11))
        assert tuple(out.shape) == (30_000, 3), f"expected shape (30000, 3), got {tuple(out.shape)}"
        assert (out[out[:, 0] == 2][:, 1] == 3).all(), "x0 = 2 must always be followed by x1 = 3"
        index = out.long() @ torch.tensor([16, 4, 1])
        p_value = chi_square_test(torch.bincount(index, minlength=64), joint.reshape(-1))[1]
        assert p_value > 1e-6, f"the samples do not follow the tables: chi-square p-value {p_value:.1e}"


@question("fit_tables")
class TestFitTablesHidden:
    @points(1)
    def test_unseen_prefix_without_smoothing_is_uniform(self, student):
        samples = torch.tensor([[0, 0, 1], [0, 0, 2], [2, 1, 0]])             # x0 = 1 never happens
        third = student.fit_tables(samples, 3, 0.0)[2]
        want = torch.full((3, 3, 3), 1 / 3, dtype=torch.float64)
        want[0, 0] = torch.tensor([0.0, 0.5, 0.5])
        want[2, 1] = torch.tensor([1.0, 0.0, 0.0])
        check_close(third, want, "fit_tables(samples, 3, 0.0)[2]", atol=1e-12, samples=samples)
        assert math.isclose(float(student.fit_tables(samples, 3, 2.0)[0].sum()), 1.0), "smoothed tables must sum to 1"
