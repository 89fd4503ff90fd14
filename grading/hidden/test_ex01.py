"""Hidden checks for exercise 01: a larger joint in an unusual order, big parameter counts,
deterministic tables for the sampler."""
import torch

from arcourse.grading.api import check_close, points, question


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
        for n, K in [(20, 1000), (64, 256), (1, 7)]:
            got = student.ar_param_count(n, K)
            assert isinstance(got, int) and got == K ** n - 1, f"ar_param_count({n}, {K}) returned {got!r}"


@question("ancestral_sample")
class TestAncestralSampleHidden:
    @points(1)
    def test_deterministic_tables_give_one_string(self, student):
        """one-hot conditionals: every sample is the string 2, 0, 1."""
        K = 3
        first = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        second = torch.full((K, K), 1 / K, dtype=torch.float64)
        second[2] = torch.tensor([1.0, 0.0, 0.0])
        third = torch.full((K, K, K), 1 / K, dtype=torch.float64)
        third[2, 0] = torch.tensor([0.0, 1.0, 0.0])
        out = torch.as_tensor(student.ancestral_sample([first, second, third], 50, 11))
        assert tuple(out.shape) == (50, 3), f"expected shape (50, 3), got {tuple(out.shape)}"
        assert (out == torch.tensor([2, 0, 1])).all(), f"every sample should be [2, 0, 1], got e.g. {out[0].tolist()}"
