"""ChainRulePanel (lecture 01): every order rebuilds the joint; a Markov context does not."""
import itertools

import numpy as np
import pytest

from arcourse.widgets import ChainRulePanel, default_joint, factorise

pytest.importorskip("ipywidgets")


@pytest.fixture
def panel():
    return ChainRulePanel()  # x1, x2, x3 with 2, 3 and 4 values


def test_every_order_rebuilds_the_joint_with_the_same_parameter_count(panel):
    joint = panel.joint
    for order in itertools.permutations(range(3)):
        panel.order.value = order
        assert panel.max_error < 1e-12 and panel.kl == pytest.approx(0, abs=1e-12)
        np.testing.assert_allclose(panel.rebuilt, joint, atol=1e-12)
        assert panel.n_parameters == 2 * 3 * 4 - 1  # a full table, whatever the order
        # the conditionals: the first variable alone, then each given all before it
        assert [f.var for f in panel.factors] == list(order)
        assert [f.context for f in panel.factors] == [(), order[:1], order[:2]]
        assert str(panel.n_parameters) in panel.readout and "exact chain rule" in panel.readout


def test_the_conditional_tables_match_counts_by_hand(panel):
    panel.order.value = (2, 0, 1)  # p(x3) p(x1 | x3) p(x2 | x3, x1)
    j = panel.joint
    p3 = j.sum(axis=(0, 1))
    np.testing.assert_allclose(panel.factors[0].table, p3[None], atol=1e-12)
    p31 = j.sum(axis=1)  # (x1, x3)
    by_hand = np.array([[p31[a, c] / p3[c] for a in range(2)] for c in range(4)])  # rows x3, columns x1
    np.testing.assert_allclose(panel.factors[1].table, by_hand, atol=1e-12)
    last = np.array([[j[a, b, c] / p31[a, c] for b in range(3)] for c in range(4) for a in range(2)])
    np.testing.assert_allclose(panel.factors[2].table, last, atol=1e-12)
    assert [f.n_parameters for f in panel.factors] == [3, 4 * 1, 8 * 2]
    assert "p(x2 | x3, x1)" in panel.readout and "p(x2 | x3, x1)" in panel.tables_box.value


def test_a_markov_context_approximates_and_the_order_matters(panel):
    j = panel.joint
    panel.context.value = 1  # p(x1) p(x2 | x1) p(x3 | x2)
    p1, p12, p2, p23 = j.sum((1, 2)), j.sum(2), j.sum((0, 2)), j.sum(0)
    approx = np.einsum("a,ab,bc->abc", p1, p12 / p1[:, None], p23 / p2[:, None])
    np.testing.assert_allclose(panel.rebuilt, approx, atol=1e-12)
    assert panel.rebuilt.sum() == pytest.approx(1.0)
    assert panel.kl == pytest.approx(float(np.sum(j * np.log(j / approx))), rel=1e-9)
    assert panel.n_parameters == 1 + 2 * 2 + 3 * 3 and panel.max_error > 1e-3
    assert "Markov assumption" in panel.readout
    first = (panel.n_parameters, panel.kl)
    panel.order.value = (2, 1, 0)  # p(x3) p(x2 | x3) p(x1 | x2)
    assert panel.n_parameters == 3 + 4 * 2 + 3 * 1
    assert (panel.n_parameters, panel.kl) != first
    panel.context.value = 0  # independent variables: the product of the marginals
    np.testing.assert_allclose(panel.rebuilt, np.einsum("a,b,c->abc", p1, p2, j.sum((0, 1))), atol=1e-12)
    assert panel.n_parameters == 1 + 2 + 3


def test_chart_and_readout_follow_the_controls(panel):
    chart, readout = bytes(panel.chart.value), panel.readout
    panel.context.value = 0
    assert bytes(panel.chart.value) != chart and panel.readout != readout
    assert panel.readout_box.value.startswith("order x1 → x2 → x3, context 0")


def test_bad_arguments():
    with pytest.raises(TypeError, match="numpy array"):
        ChainRulePanel([[0.5, 0.5]])
    with pytest.raises(ValueError, match="summing to 1"):
        ChainRulePanel(np.full((2, 2), 0.3))
    with pytest.raises(ValueError, match="2 to 4 variables"):
        ChainRulePanel(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="context"):
        ChainRulePanel(default_joint(), context=3)
    with pytest.raises(ValueError, match="names"):
        ChainRulePanel(default_joint(), names=["a"])
    with pytest.raises(ValueError, match="permutation"):
        factorise(default_joint(), (0, 0, 1))
    with pytest.raises(ValueError, match="sizes"):
        default_joint((2, 1))
