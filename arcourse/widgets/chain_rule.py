"""Lecture 01's panel: the chain rule in any order of the variables.

p(x_1, ..., x_n) = prod_i p(x_sigma(i) | x_sigma(1), ..., x_sigma(i-1)) holds for every
order sigma: choose one and the panel shows the conditional tables it needs, their free
parameters and the joint they rebuild, equal to the original for every order. A second
control keeps only the last m variables of each context (an order-m Markov assumption):
then the rebuilt joint is an approximation, the order starts to matter, and the panel
shows how far it is (KL) and how many parameters it saves.
"""
from __future__ import annotations

import html
import itertools
from dataclasses import dataclass

import numpy as np

from arcourse._checks import check_int
from arcourse.widgets._common import figure, import_widgets, observe_all, png, readout_box, show_readout, slider_style


def default_joint(sizes: tuple[int, ...] = (2, 3, 4), seed: int = 0) -> np.ndarray:
    """A joint distribution over len(sizes) variables with no independences: a seeded
    Dirichlet draw over all prod(sizes) outcomes, shape `sizes`."""
    for i, k in enumerate(sizes):
        check_int(f"sizes[{i}]", k, 2, who="default_joint")
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(int(np.prod(sizes)))).reshape(sizes)


@dataclass(frozen=True)
class Conditional:
    """One factor p(x_var | x_context) of a chain-rule factorisation.

    var: the variable's axis; context: the axes it is conditioned on (in the order);
    table: (prod of the context sizes, size of var), each row a distribution;
    n_parameters: free numbers in the table, (size of var - 1) per row.
    """

    var: int
    context: tuple[int, ...]
    table: np.ndarray
    n_parameters: int


def factorise(joint: np.ndarray, order: tuple[int, ...], context: int | None = None
              ) -> tuple[list[Conditional], np.ndarray]:
    """The conditionals of `joint` in `order`, each conditioned on at most the last
    `context` variables before it (None: all of them, the exact chain rule), and the
    joint their product rebuilds.

    Returns:
        the conditionals, in order, and the rebuilt joint (the shape of `joint`).
    """
    n = joint.ndim
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of 0..{n - 1}, got order={order!r}")
    context = n - 1 if context is None else context
    check_int("context", context, 0, n - 1, who="factorise")
    factors, rebuilt = [], np.ones_like(joint)
    for i, var in enumerate(order):
        ctx = tuple(order[max(0, i - context):i])
        keep = set(ctx) | {var}
        marginal = joint.sum(axis=tuple(a for a in range(n) if a not in keep), keepdims=True)
        given = marginal.sum(axis=var, keepdims=True)
        cond = np.divide(marginal, given, out=np.zeros_like(marginal), where=given > 0)  # broadcasts to joint
        rebuilt = rebuilt * cond
        table = _table(cond, ctx, var)  # rows: context assignments, columns: values of var
        size = joint.shape[var]
        factors.append(Conditional(var, ctx, table, (size - 1) * int(np.prod([joint.shape[a] for a in ctx]))))
    return factors, rebuilt


def _table(cond: np.ndarray, ctx: tuple[int, ...], var: int) -> np.ndarray:
    """cond (broadcastable to the joint) as a (context rows, values) table, the context axes in `ctx` order."""
    n = cond.ndim
    squeezed = np.squeeze(cond, axis=tuple(a for a in range(n) if a not in (*ctx, var)))
    kept_axes = sorted((*ctx, var))  # the axes of `squeezed`, in increasing order
    moved = np.transpose(squeezed, [kept_axes.index(a) for a in (*ctx, var)])
    return moved.reshape(-1, cond.shape[var])


def _order_label(order: tuple[int, ...], names: list[str]) -> str:
    return " → ".join(names[a] for a in order)


def _factor_label(factor: Conditional, names: list[str]) -> str:
    given = ", ".join(names[a] for a in factor.context)
    return f"p({names[factor.var]} | {given})" if given else f"p({names[factor.var]})"


class ChainRulePanel:
    """Choose an order of the variables: the conditionals the chain rule needs in that
    order, their parameter count and the joint they rebuild.

    Args:
        joint: (k_1, ..., k_n) probabilities summing to 1, 2 <= n <= 4 (default: `default_joint()`).
        names: one name per variable (default x1, x2, ...).
        context: start with each variable conditioned on at most this many previous ones
            (default n - 1: the exact chain rule).

    State: `factors` (the Conditionals), `rebuilt` (the joint they rebuild), `n_parameters`,
    `max_error` (max |rebuilt - joint|), `kl` (KL(joint || rebuilt) in nats), `readout`.
    """

    def __init__(self, joint: np.ndarray | None = None, *, names: list[str] | None = None,
                 context: int | None = None):
        widgets = import_widgets()  # lazily: the rest of arcourse works without it

        joint = default_joint() if joint is None else joint
        if not isinstance(joint, np.ndarray):
            raise TypeError(f"ChainRulePanel needs a numpy array joint, got {type(joint).__name__}")
        if not 2 <= joint.ndim <= 4:
            raise ValueError(f"ChainRulePanel needs a joint over 2 to 4 variables, got joint.ndim={joint.ndim}")
        if not np.all(np.isfinite(joint)) or joint.min() < 0 or abs(joint.sum() - 1) > 1e-9:
            raise ValueError("ChainRulePanel needs a joint of finite probabilities >= 0 summing to 1")
        n = joint.ndim
        names = [f"x{i + 1}" for i in range(n)] if names is None else list(names)
        if len(names) != n:
            raise ValueError(f"ChainRulePanel needs {n} names, got {len(names)}")
        context = n - 1 if context is None else context
        check_int("context", context, 0, n - 1, who="ChainRulePanel")
        self.joint, self.names = joint.astype(np.float64), names
        orders = list(itertools.permutations(range(n)))
        self.order = widgets.Dropdown(options=[(_order_label(o, names), o) for o in orders], value=orders[0],
                                      description="order")
        self.context = widgets.IntSlider(value=context, min=0, max=n - 1, description="context (previous variables)",
                                         **slider_style())
        self.tables_box = widgets.HTML().add_class("arcourse-tables")
        self.chart = widgets.Image(format="png")
        self.readout_box = readout_box(widgets)
        observe_all([self.order, self.context], self.update)
        self.widget = widgets.VBox([widgets.HBox([self.order, self.context]), self.tables_box, self.chart,
                                    self.readout_box]).add_class("arcourse-chain-rule-panel")
        self.readout = ""
        self.update()

    def update(self, change=None) -> None:
        """Refactorise in the chosen order and context; redraw the tables, chart and readout."""
        self.factors, self.rebuilt = factorise(self.joint, self.order.value, self.context.value)
        self.n_parameters = sum(f.n_parameters for f in self.factors)
        self.max_error = float(np.abs(self.rebuilt - self.joint).max())
        seen = self.joint > 0  # the rebuilt joint is > 0 wherever the joint is: its factors are its marginals
        self.kl = float(np.sum(self.joint[seen] * np.log(self.joint[seen] / self.rebuilt[seen])))
        exact = self.context.value == self.joint.ndim - 1
        self.tables_box.value = "".join(self._table_html(f) for f in self.factors)
        self.chart.value = self._chart()
        self.readout = (f"order {_order_label(self.order.value, self.names)}, context {self.context.value}"
                        f"{' (exact chain rule)' if exact else ' (Markov assumption)'}: "
                        + " · ".join(_factor_label(f, self.names) for f in self.factors)
                        + f"; {self.n_parameters} parameters (full joint: {self.joint.size - 1});"
                        f" max |rebuilt − joint| = {self.max_error:.1e}; KL(joint ‖ rebuilt) = {self.kl:.6f} nats")
        show_readout(self.readout_box, self.readout)

    def _table_html(self, factor: Conditional) -> str:
        sizes = [self.joint.shape[a] for a in factor.context]
        rows = list(itertools.product(*[range(s) for s in sizes])) or [()]
        head = "".join(f"<th>{html.escape(self.names[factor.var])}={v}</th>" for v in range(self.joint.shape[factor.var]))
        body = "".join(
            "<tr><th>" + html.escape(", ".join(f"{self.names[a]}={v}" for a, v in zip(factor.context, row)) or "—")
            + "</th>" + "".join(f"<td>{x:.3f}</td>" for x in factor.table[i]) + "</tr>"
            for i, row in enumerate(rows))
        title = html.escape(_factor_label(factor, self.names))
        return (f"<div style='display:inline-block;vertical-align:top;margin-right:1em'><b>{title}</b>: "
                f"{factor.n_parameters} parameters<table>{'<tr><th></th>' + head + '</tr>'}{body}</table></div>")

    def _chart(self) -> bytes:
        fig = figure(8, 2.6)
        ax = fig.subplots()
        x = np.arange(self.joint.size)
        ax.bar(x - 0.2, self.joint.ravel(), width=0.4, color="0.6", label="joint")
        ax.bar(x + 0.2, self.rebuilt.ravel(), width=0.4, color="tab:orange", label="product of the conditionals")
        ax.set_xlabel("outcome (all variables, in raster order)")
        ax.set_ylabel("probability")
        ax.legend(loc="upper right", fontsize=8)
        return png(fig)
