"""Graded checks for exercise 01: conditional tables, rebuilding the joint (warm-up); Markov
parameter counts with mixed sizes, ancestral sampling against the exact joint (core);
tables fitted by counting and the KL-versus-N experiment (stretch).

The references are written here independently of the exercise (NumPy, by enumerating every
cell), so a student's torch code is compared with a different computation.
"""
import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.metrics import chi_square_test

# `student` is a plain function-scoped fixture that returns the same object every time
FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
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


@question("conditional_tables", "the chain-rule factors of a joint table in a given order", tier="warm-up")
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


@question("joint_from_conditionals", "multiplying the factors back into the joint", tier="warm-up")
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


def reference_param_count(sizes, context):
    """Free parameters by listing every table's context window explicitly."""
    total = 0
    for i, size in enumerate(sizes):
        window = range(i) if context is None else range(max(0, i - context), i)
        rows = 1
        for j in window:
            rows *= sizes[j]
        total += rows * (size - 1)
    return total


@question("ar_param_count", "free parameters of Markov AR tables over variables of mixed sizes", tier="core")
class TestArParamCount:
    @points(1)
    def test_small_cases_by_hand(self, student):
        cases = {((2, 3, 4), None): 23, ((2, 3, 4), 1): 14, ((2, 3, 4), 0): 6, ((4, 2, 3, 2), 2): 3 + 4 + 16 + 6,
                 ((5,), None): 4, ((3, 3), 5): 8}
        for (sizes, context), want in cases.items():
            got = student.ar_param_count(list(sizes), context)
            assert got == want, f"ar_param_count({list(sizes)}, context={context}) should be {want}, got {got!r}"

    @points(1)
    @FAST
    @given(st.lists(st.integers(1, 300), min_size=1, max_size=30))
    def test_whole_prefix_telescopes(self, student, sizes):
        got = student.ar_param_count(sizes, None)
        want = math.prod(sizes) - 1
        assert isinstance(got, (int, np.integer)) and not isinstance(got, bool), \
            f"ar_param_count({sizes}) should return an int, got {type(got).__name__}"
        assert int(got) == want, f"ar_param_count({sizes}) should be prod(sizes) - 1 = {want}, got {got!r}"

    @points(2)
    @FAST
    @given(st.lists(st.integers(1, 60), min_size=1, max_size=25), st.integers(0, 6))
    def test_limited_context(self, student, sizes, context):
        got = student.ar_param_count(sizes, context)
        want = reference_param_count(sizes, context)
        assert isinstance(got, (int, np.integer)) and not isinstance(got, bool) and int(got) == want, \
            f"ar_param_count({sizes}, context={context}) should be {want}, got {got!r}"

    @points(1, validation=True)
    def test_bad_arguments(self, student):
        for sizes, context in (([2, 3], -1), ([2, 0, 3], None)):
            with pytest.raises(ValueError):
                student.ar_param_count(sizes, context)


def _chi_square_p_value(samples, joint):
    """p-value of the samples (B, n) against the joint (Pearson's test over all K**n cells)."""
    K, n = joint.shape[0], joint.ndim
    index = samples.long() @ (K ** torch.arange(n - 1, -1, -1))
    return chi_square_test(torch.bincount(index, minlength=K**n), joint.reshape(-1))[1]


@question("ancestral_sample", "drawing strings from conditional tables", tier="core",
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

    @points(3)
    def test_samples_follow_the_joint(self, student):
        # a different joint (and shape) per case: a sampler that ignores the tables fails one
        for K, n, seed in ((3, 3, 3), (2, 5, 4), (4, 2, 6)):
            joint = random_joint(K, n, seed)
            samples = torch.as_tensor(student.ancestral_sample(reference_tables(joint, list(range(n))), 20_000, seed))
            p_value = _chi_square_p_value(samples, joint)
            assert p_value > 1e-6, (f"the samples do not follow the joint (K={K}, n={n}): chi-square p-value "
                                    f"{p_value:.1e}; do you draw (not pick the most likely value), from the row "
                                    f"picked by the values drawn so far, with one generator for all steps?")

    @points(1)
    def test_impossible_strings_never_appear(self, student):
        joint = random_joint(3, 3, seed=5, zeros=0.6)
        samples = torch.as_tensor(student.ancestral_sample(reference_tables(joint, [0, 1, 2]), 5000, 1))
        probs = joint[tuple(samples.long().T)]
        assert (probs > 0).all(), "some samples have probability zero under the joint"
        p_value = _chi_square_p_value(samples, joint)
        assert p_value > 1e-6, f"the samples do not follow a joint with zeros: chi-square p-value {p_value:.1e}"


def reference_fit(samples, K, alpha):
    """Add-alpha conditional tables by counting each prefix-and-value one sample at a time."""
    samples = np.asarray(samples)
    n = samples.shape[1]
    tables = []
    for i in range(n):
        counts = np.zeros((K,) * (i + 1))
        for row in samples:
            counts[tuple(row[: i + 1])] += 1
        total = counts.sum(axis=-1, keepdims=True) + K * alpha
        tables.append(torch.from_numpy(np.where(total > 0, (counts + alpha) / np.where(total > 0, total, 1), 1 / K)))
    return tables


@question("fit_tables", "tables fitted by counting, and how fast they approach the truth", tier="stretch",
          experiment=True, seconds=60)
class TestFitTables:
    @points(2)
    def test_counts_with_smoothing(self, student):
        rng = np.random.default_rng(8)
        for K, n, B, alpha in ((2, 3, 40, 0.0), (3, 3, 25, 0.5), (4, 2, 60, 1.0)):
            samples = torch.from_numpy(rng.integers(0, K, size=(B, n)))   # few samples: unseen prefixes occur
            got = student.fit_tables(samples, K, alpha)
            assert len(got) == n, f"fit_tables should return {n} tables, got {len(got)}"
            for i, (table, want) in enumerate(zip(got, reference_fit(samples, K, alpha))):
                check_close(table, want, f"fit_tables(samples, {K}, alpha={alpha})[{i}]", atol=1e-10, samples=samples)

    @points(2)
    def test_kl_falls_like_d_over_2n(self, student):
        sizes = [200, 2000, 20_000, 200_000]
        rng = np.random.default_rng(11)
        joint = torch.from_numpy(rng.dirichlet(np.full(27, 5.0))).reshape(3, 3, 3)     # d = 26, no tiny cells
        kls = [float(k) for k in student.kl_by_sample_size(joint, sizes, 0.5, 11)]
        assert len(kls) == len(sizes) and all(math.isfinite(k) and k >= 0 for k in kls), \
            f"kl_by_sample_size should return {len(sizes)} finite KLs >= 0, got {kls}"
        assert all(a > b for a, b in zip(kls, kls[1:])), f"the KL should fall as N grows ten-fold: {kls}"
        ratios = [k * 2 * size / 26 for k, size in zip(kls, sizes)][1:]
        assert all(1 / 3 < r < 3 for r in ratios), \
            f"for N >= 2000 the KL should be within a factor 3 of d/2N (d = 26); KL * 2N / d = {ratios}"

    @points(1)
    def test_the_rate_follows_the_number_of_parameters(self, student):
        # a joint with only d = 3 free numbers, 20 repeats at N = 5000 (seeds seed..seed+19): their mean
        # KL * 2N / d is near 1, nine times below what d = 26 would give; the repeats must differ
        rng = np.random.default_rng(12)
        joint = torch.from_numpy(rng.dirichlet(np.full(4, 5.0))).reshape(2, 2)
        kls = [float(k) for k in student.kl_by_sample_size(joint, [5000] * 20, 0.5, 12)]
        assert len(kls) == 20 and len(set(kls)) > 1, f"20 sizes with their own seeds should give 20 different KLs: {kls}"
        mean_ratio = sum(kls) / len(kls) * 2 * 5000 / 3
        assert 0.4 < mean_ratio < 2.5, f"mean KL * 2N / d for a 2 x 2 joint (d = 3) should be near 1, got {mean_ratio:.2f}"
