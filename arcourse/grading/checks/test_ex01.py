"""Graded checks for exercise 01: conditional tables, rebuilding the joint, AR parameter
counts, ancestral sampling.

The references are written here independently of the exercise (NumPy, by enumerating every
cell), so a student's torch code is compared with a different computation.
"""
import itertools
import math

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.metrics import chi_square_test

# `student` is a plain function-scoped fixture that returns the same object every time
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_joint(K, n, seed, zeros=0.0):
    """A (K,)*n float64 joint; a fraction `zeros` of its cells are exactly 0."""
    rng = np.random.default_rng(seed)
    cells = rng.dirichlet(np.full(K**n, 0.7))
    if zeros:
        cells[rng.random(K**n) < zeros] = 0.0
        cells[rng.integers(K**n)] += 1e-3          # never all zero
    return torch.from_numpy(cells / cells.sum()).reshape((K,) * n)


def reference_tables(joint, order):
    """p(x_o[i] | x_o[<i]) by summing cells one at a time; 1/K where the prefix is impossible."""
    p = joint.numpy()
    n, K = p.ndim, p.shape[0]
    tables = []
    for i in range(n):
        table = np.zeros((K,) * (i + 1))
        for values in itertools.product(range(K), repeat=i + 1):
            index = [slice(None)] * n
            for axis, value in zip(order[: i + 1], values):
                index[axis] = value
            table[values] = p[tuple(index)].sum()
        prefix = table.sum(axis=-1, keepdims=True)
        tables.append(torch.from_numpy(np.where(prefix > 0, table / np.where(prefix > 0, prefix, 1), 1 / K)))
    return tables


def reference_joint(tables, order):
    n, K = len(order), tables[0].shape[0]
    joint = np.zeros((K,) * n)
    for values in itertools.product(range(K), repeat=n):      # values[i] is the value of x_order[i]
        prob = np.prod([float(tables[i][values[: i + 1]]) for i in range(n)])
        cell = [0] * n
        for axis, value in zip(order, values):
            cell[axis] = value
        joint[tuple(cell)] = prob
    return torch.from_numpy(joint)


@st.composite
def joints_and_orders(draw, max_vars=4):
    K = draw(st.integers(2, 3))
    n = draw(st.integers(1, max_vars))
    order = draw(st.permutations(list(range(n))))
    return random_joint(K, n, draw(st.integers(0, 2**31 - 1))), list(order)


@question("conditional_tables", "the chain-rule factors of a joint table in a given order")
class TestConditionalTables:
    @points(1)
    def test_two_by_two_by_hand(self, student):
        joint = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=torch.float64)
        first, second = student.conditional_tables(joint, [1, 0])
        check_close(first, [0.4, 0.6], "conditional_tables(joint, [1, 0])[0]", joint=joint)
        check_close(second, [[0.25, 0.75], [1 / 3, 2 / 3]], "conditional_tables(joint, [1, 0])[1]", joint=joint)

    @points(1)
    @FAST
    @given(joints_and_orders())
    def test_shapes(self, student, case):
        joint, order = case
        tables = student.conditional_tables(joint, order)
        K, n = joint.shape[0], joint.ndim
        assert len(tables) == n, f"expected {n} tables for a joint over {n} variables, got {len(tables)}"
        for i, table in enumerate(tables):
            assert tuple(table.shape) == (K,) * (i + 1), \
                f"table {i} should have shape {(K,) * (i + 1)}, got {tuple(table.shape)} (order {order})"

    @points(2)
    @FAST
    @given(joints_and_orders())
    def test_values_in_any_order(self, student, case):
        joint, order = case
        for i, (got, want) in enumerate(zip(student.conditional_tables(joint, order), reference_tables(joint, order))):
            check_close(got, want, f"conditional_tables(joint, {order})[{i}]", atol=1e-10, joint=joint)

    @points(1)
    def test_impossible_prefix_gets_uniform(self, student):
        joint = torch.zeros(3, 3, dtype=torch.float64)
        joint[0, 1], joint[2, 2] = 0.25, 0.75                   # x0 = 1 never happens
        second = student.conditional_tables(joint, [0, 1])[1]
        check_close(second, reference_tables(joint, [0, 1])[1], "conditional_tables(joint, [0, 1])[1]", joint=joint)


@question("joint_from_conditionals", "multiplying the factors back into the joint")
class TestJointFromConditionals:
    @points(2)
    @FAST
    @given(joints_and_orders())
    def test_round_trip(self, student, case):
        joint, order = case
        got = student.joint_from_conditionals(reference_tables(joint, order), order)
        check_close(got, joint, f"joint_from_conditionals(tables, {order})", atol=1e-12, joint=joint)

    @points(1)
    @FAST
    @given(st.integers(2, 3), st.permutations([0, 1, 2]), st.integers(0, 2**31 - 1))
    def test_any_conditionals_give_a_normalised_joint(self, student, K, order, seed):
        # arbitrary conditionals (not derived from a joint) still define a joint: the AR model
        gen = torch.Generator().manual_seed(seed)
        tables = []
        for i in range(3):
            e = -torch.rand((K,) * (i + 1), generator=gen, dtype=torch.float64).log()
            tables.append(e / e.sum(dim=-1, keepdim=True))
        got = student.joint_from_conditionals(tables, list(order))
        check_close(got, reference_joint(tables, list(order)), f"joint_from_conditionals(tables, {list(order)})",
                    atol=1e-12, tables=tables)
        assert abs(float(torch.as_tensor(got).sum()) - 1) < 1e-9, "the rebuilt joint does not sum to 1"


@question("ar_param_count", "free parameters of AR conditional tables")
class TestArParamCount:
    @points(1)
    def test_small_cases_by_hand(self, student):
        for (n, K), want in {(1, 2): 1, (3, 2): 7, (2, 3): 8, (4, 10): 9999}.items():
            got = student.ar_param_count(n, K)
            assert got == want, f"ar_param_count({n}, {K}) should be {want}, got {got!r}"

    @points(1)
    @FAST
    @given(st.integers(1, 40), st.integers(2, 300))
    def test_exact_integers(self, student, n, K):
        got = student.ar_param_count(n, K)
        want = sum(K ** (i - 1) * (K - 1) for i in range(1, n + 1))
        assert isinstance(got, (int, np.integer)) and not isinstance(got, bool), \
            f"ar_param_count({n}, {K}) should return an int, got {type(got).__name__}"
        assert int(got) == want == K**n - 1, f"ar_param_count({n}, {K}) should be {want}, got {got!r}"


def _chi_square_p_value(samples, joint):
    """p-value of the samples (B, n) against the joint (Pearson's test over all K**n cells)."""
    K, n = joint.shape[0], joint.ndim
    index = samples.long() @ (K ** torch.arange(n - 1, -1, -1))
    return chi_square_test(torch.bincount(index, minlength=K**n), joint.reshape(-1))[1]


@question("ancestral_sample", "drawing strings from conditional tables",
          write=("arcourse.decoding.sample_tokens",))
class TestAncestralSample:
    @points(1)
    def test_shape_dtype_and_range(self, student):
        tables = reference_tables(random_joint(3, 4, seed=1), [0, 1, 2, 3])
        x = torch.as_tensor(student.ancestral_sample(tables, 50, 0))
        assert tuple(x.shape) == (50, 4), f"expected shape (50, 4), got {tuple(x.shape)}"
        assert x.dtype == torch.int64, f"expected int64 values, got {x.dtype}"
        assert int(x.min()) >= 0 and int(x.max()) <= 2, "values must lie in 0..K-1"

    @points(1)
    def test_seeded(self, student):
        tables = reference_tables(random_joint(2, 5, seed=2), list(range(5)))
        a, b = student.ancestral_sample(tables, 200, 7), student.ancestral_sample(tables, 200, 7)
        c = student.ancestral_sample(tables, 200, 8)
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b)), "the same seed must give the same samples"
        assert not torch.equal(torch.as_tensor(a), torch.as_tensor(c)), "different seeds gave identical samples"

    @points(2)
    def test_samples_follow_the_joint(self, student):
        for K, n, seed in ((3, 3, 3), (2, 5, 4)):
            joint = random_joint(K, n, seed)
            samples = torch.as_tensor(student.ancestral_sample(reference_tables(joint, list(range(n))), 20_000, 0))
            p_value = _chi_square_p_value(samples, joint)
            assert p_value > 1e-6, (f"the samples do not follow the joint (K={K}, n={n}): chi-square p-value "
                                    f"{p_value:.1e}; are you conditioning on the values drawn so far?")

    @points(1)
    def test_impossible_strings_never_appear(self, student):
        joint = random_joint(3, 3, seed=5, zeros=0.6)
        samples = torch.as_tensor(student.ancestral_sample(reference_tables(joint, [0, 1, 2]), 5000, 1))
        probs = joint[tuple(samples.long().T)]
        assert (probs > 0).all(), "some samples have probability zero under the joint"
