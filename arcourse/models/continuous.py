"""Autoregressive models of real-valued series: a density per step instead of a softmax.

DeepAR (Salinas, Flunkert, Gasthaus and Januschowski, 2020) keeps the chain rule and swaps
the softmax for a continuous density: a network reads the past x_<t and outputs the
parameters of p(x_t | x_<t), so the likelihood stays exact, now a density. A Gaussian head
predicts a mean and a standard deviation per step, NLL = 0.5 (log 2 pi + log s^2 + (x - m)^2 / s^2);
a Student-t head adds degrees of freedom for heavy tails (Lange, Little and Taylor, 1989).
Forecasts feed sampled values back in, so uncertainty bands come from the model itself.

The classical AR(p) model (Yule, 1927), x_t = c + sum_j phi_j x_{t-j} + eps_t with Gaussian
eps_t of constant variance, fitted by least squares, is the linear special case: `LinearAR`.

Convention, as for tokens: position t of `model(x)` is the distribution of x_{t+1}, so
(inputs, targets) = (x[:-1], x[1:]). A window of `context_len` past values feeds each
prediction, zero-padded at the start: score only positions t >= context_len - 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse._checks import check_int, eval_mode

_LOG_2PI = math.log(2 * math.pi)
_QUADRATURE_NODES = 32  # Gauss-Legendre; the Student-t CDF integrand is smooth: error < 1e-10
_BISECTION_STEPS = 48  # pi/2 / 2^48: quantiles to ~1e-13 radians


def _check_positive(name: str, value: torch.Tensor) -> None:
    if not bool((value > 0).all()):
        raise ValueError(f"{name} must be > 0 everywhere, got min {name} = {float(value.min()):.3g}")


def gaussian_nll(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """-log N(x; loc, scale^2) = 0.5 (log 2 pi + log scale^2 + ((x - loc) / scale)^2), per element.

    Args:
        x, loc, scale: broadcastable tensors; scale > 0 (raises ValueError otherwise).
    Returns:
        the broadcast shape, in nats.
    """
    _check_positive("scale", scale)
    z = (x - loc) / scale
    return 0.5 * (_LOG_2PI + 2 * scale.log() + z * z)


def _student_t_log_norm(df: torch.Tensor) -> torch.Tensor:
    """log of 1 / (sqrt(df) B(df/2, 1/2)), the normaliser of the standard t density."""
    return torch.lgamma((df + 1) / 2) - torch.lgamma(df / 2) - 0.5 * torch.log(math.pi * df)


def student_t_nll(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """-log t_df(x; loc, scale) per element:
    -log Gamma((df+1)/2) + log Gamma(df/2) + 0.5 log(pi df) + log scale + (df+1)/2 log(1 + z^2/df).

    Args:
        x, loc, scale, df: broadcastable tensors; scale > 0 and df > 0 (ValueError otherwise).
    Returns:
        the broadcast shape, in nats.
    """
    _check_positive("scale", scale)
    _check_positive("df", df)
    z = (x - loc) / scale
    return -_student_t_log_norm(df) + scale.log() + 0.5 * (df + 1) * torch.log1p(z * z / df)


def _half_t_mass(theta: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """P(0 < T < sqrt(df) tan(theta)) for T ~ t_df, by Gauss-Legendre quadrature after the
    substitution t = sqrt(df) tan(u), which turns the density into the smooth, bounded
    cos(u)^(df - 1) / B(df/2, 1/2) on [0, theta]."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)  # on [-1, 1]
    nodes = torch.as_tensor((nodes + 1) / 2, dtype=theta.dtype, device=theta.device)
    weights = torch.as_tensor(weights / 2, dtype=theta.dtype, device=theta.device)
    u = theta[..., None] * nodes  # (..., nodes)
    integral = (torch.cos(u) ** (df[..., None] - 1) * weights).sum(-1) * theta
    log_norm = _student_t_log_norm(df) + 0.5 * torch.log(df)  # = -log B(df/2, 1/2)
    return integral * log_norm.exp()


def _standard_t_cdf(z: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    theta = torch.atan(z.abs() / df.sqrt())
    return 0.5 + torch.sign(z) * _half_t_mass(theta, df)


def _standard_t_quantile(prob: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    """Inverse of `_standard_t_cdf` by bisection on theta in [0, pi/2)."""
    target = (prob - 0.5).abs()
    low, high = torch.zeros_like(target), torch.full_like(target, math.pi / 2)
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        below = _half_t_mass(middle, df) < target
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    return torch.sign(prob - 0.5) * df.sqrt() * torch.tan((low + high) / 2)


def _sample_standard_t(df: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Exact t_df draws by Bailey's (1994) polar method: (u, v) uniform on the unit disc,
    w = u^2 + v^2, then t = u sqrt(df (w^(-2/df) - 1) / w); about 1.27 tries per draw."""
    flat = df.reshape(-1)
    out = torch.empty_like(flat)
    todo = torch.arange(len(flat), device=df.device)
    while len(todo):
        uv = 2 * torch.rand(len(todo), 2, dtype=df.dtype, device=df.device, generator=generator) - 1
        w = uv.pow(2).sum(-1)
        inside = (w > 0) & (w < 1)
        rows, u, w = todo[inside], uv[inside, 0], w[inside]
        out[rows] = u * torch.sqrt(flat[rows] * torch.expm1(-2 / flat[rows] * w.log()) / w)
        todo = todo[~inside]
    return out.view_as(df)


def _check_prob(prob: torch.Tensor) -> None:
    if not bool(((prob > 0) & (prob < 1)).all()):
        raise ValueError(f"prob must lie in (0, 1), got values in [{float(prob.min()):.3g}, {float(prob.max()):.3g}]")


class _Predictive:
    """What every per-step predictive distribution offers, given nll, cdf and quantile."""

    __slots__ = ()

    def interval(self, level: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The central `level` interval (e.g. 0.9: from the 5 % to the 95 % quantile)."""
        if not 0 < level < 1:
            raise ValueError(f"interval needs 0 < level < 1, got level={level!r}")
        loc = self[0]
        return self.quantile(torch.full_like(loc, (1 - level) / 2)), self.quantile(torch.full_like(loc, (1 + level) / 2))

    def last(self):
        """The distribution of the step after the last input: every field [:, -1]."""
        return type(self)(*(field[:, -1] for field in self))


class _GaussianFields(NamedTuple):
    loc: torch.Tensor
    scale: torch.Tensor


class GaussianOutput(_GaussianFields, _Predictive):
    """Per-step Normal(loc, scale^2); fields (B, T) from a model, (B,) after `last()`."""

    __slots__ = ()

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_nll(x, self.loc, self.scale)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (1 + torch.erf((x - self.loc) / (self.scale * math.sqrt(2))))

    def quantile(self, prob: torch.Tensor) -> torch.Tensor:
        _check_prob(prob)
        return self.loc + self.scale * math.sqrt(2) * torch.erfinv(2 * prob - 1)

    def sample(self, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw per element, with a seeded generator."""
        noise = torch.randn(self.loc.shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return self.loc + self.scale * noise


class _StudentTFields(NamedTuple):
    loc: torch.Tensor
    scale: torch.Tensor
    df: torch.Tensor


class StudentTOutput(_StudentTFields, _Predictive):
    """Per-step Student-t(df) with location and scale; fields (B, T) or (B,) after `last()`.
    The CDF and quantiles are computed in float64 by quadrature (accurate to ~1e-10)."""

    __slots__ = ()

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        return student_t_nll(x, self.loc, self.scale, self.df)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        z, df = torch.broadcast_tensors(((x - self.loc) / self.scale).double(), self.df.double())
        return _standard_t_cdf(z, df).to(self.loc.dtype)

    def quantile(self, prob: torch.Tensor) -> torch.Tensor:
        _check_prob(prob)
        shape = torch.broadcast_shapes(prob.shape, self.loc.shape)
        z = _standard_t_quantile(prob.double().expand(shape), self.df.double().expand(shape))
        return (self.loc.double() + self.scale.double() * z).to(self.loc.dtype)

    def sample(self, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw per element, with a seeded generator."""
        loc, scale, df = torch.broadcast_tensors(self.loc, self.scale, self.df)
        return loc + scale * _sample_standard_t(df.double(), generator).to(loc.dtype)


Predictive = Union[GaussianOutput, StudentTOutput]
_HEADS = {"gaussian", "student_t"}


@dataclass(frozen=True)
class ContinuousARConfig:
    """Shape of a `ContinuousAR` model.

    Args:
        context_len: p, the number of past values each prediction reads.
        d_hidden: width of the hidden layers.
        n_layers: hidden layers after the window layer.
        head: "gaussian" or "student_t".
        min_scale: floor of the predicted scale (keeps the NLL finite).
        min_df: floor of the Student-t degrees of freedom; 2 keeps the variance finite.
    """

    context_len: int = 32
    d_hidden: int = 64
    n_layers: int = 2
    head: str = "gaussian"
    min_scale: float = 1e-3
    min_df: float = 2.0

    def __post_init__(self):
        for name in ("context_len", "d_hidden"):
            check_int(name, getattr(self, name), 1, who="ContinuousARConfig")
        check_int("n_layers", self.n_layers, 0, who="ContinuousARConfig")
        if self.head not in _HEADS:
            raise ValueError(f"ContinuousARConfig needs head in {sorted(_HEADS)}, got head={self.head!r}")
        if not self.min_scale > 0:
            raise ValueError(f"ContinuousARConfig needs min_scale > 0, got min_scale={self.min_scale!r}")
        if not self.min_df > 0:
            raise ValueError(f"ContinuousARConfig needs min_df > 0, got min_df={self.min_df!r}")

    @classmethod
    def tiny(cls, **overrides) -> "ContinuousARConfig":
        """For tests: a window of 8 and one hidden layer of 16 units. Any field (head=...)
        can be given as a keyword."""
        return cls(**{"context_len": 8, "d_hidden": 16, "n_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "ContinuousARConfig":
        """For the lecture: a window of 32 and one hidden layer of 32 units (~2k parameters).
        Any field (head=...) can be given as a keyword."""
        return cls(**{"context_len": 32, "d_hidden": 32, "n_layers": 1, **overrides})


class CausalWindow(nn.Module):
    """Features of the last `context_len` values at every step: a causal 1-D convolution,
    zero-padded on the left, so position t sees x_{t-p+1..t} and nothing later."""

    def __init__(self, context_len: int, d_out: int):
        super().__init__()
        self.context_len = context_len
        self.conv = nn.Conv1d(1, d_out, kernel_size=context_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, d_out)
        padded = F.pad(x[:, None, :], (self.context_len - 1, 0))  # (B, 1, p - 1 + T)
        return self.conv(padded).transpose(1, 2)  # (B, T, d_out)


class GaussianHead(nn.Module):
    """Raw (..., 2) -> GaussianOutput: loc = raw_0, scale = softplus(raw_1) + min_scale."""

    n_raw = 2

    def __init__(self, min_scale: float = 1e-3):
        super().__init__()
        self.min_scale = min_scale

    def forward(self, raw: torch.Tensor) -> GaussianOutput:
        return GaussianOutput(raw[..., 0], F.softplus(raw[..., 1]) + self.min_scale)


class StudentTHead(nn.Module):
    """Raw (..., 3) -> StudentTOutput: loc = raw_0, scale = softplus(raw_1) + min_scale,
    df = softplus(raw_2) + min_df."""

    n_raw = 3

    def __init__(self, min_scale: float = 1e-3, min_df: float = 2.0):
        super().__init__()
        self.min_scale, self.min_df = min_scale, min_df

    def forward(self, raw: torch.Tensor) -> StudentTOutput:
        return StudentTOutput(raw[..., 0], F.softplus(raw[..., 1]) + self.min_scale,
                              F.softplus(raw[..., 2]) + self.min_df)



class ContinuousAR(nn.Module):
    """A nonlinear AR(p) model with a density head: an MLP on the last p values predicts
    the parameters of p(x_{t+1} | x_{t-p+1..t}) at every step in one parallel pass."""

    def __init__(self, config: ContinuousARConfig):
        super().__init__()
        self.config = config
        self.context_len = config.context_len
        layers: list[nn.Module] = [CausalWindow(config.context_len, config.d_hidden)]
        for _ in range(config.n_layers):
            layers += [nn.GELU(), nn.Linear(config.d_hidden, config.d_hidden)]
        self.body = nn.Sequential(*layers)
        if config.head == "gaussian":
            self.head: nn.Module = GaussianHead(config.min_scale)
        else:
            self.head = StudentTHead(config.min_scale, config.min_df)
        self.to_raw = nn.Linear(config.d_hidden, self.head.n_raw)

    def forward(self, x: torch.Tensor) -> Predictive:
        """Args: x (B, T) real values. Returns: the predictive distribution of x_{t+1} at
        each step t, fields (B, T)."""
        if x.ndim != 2:
            raise ValueError(f"x must have shape (B, T), got {tuple(x.shape)}")
        hidden = F.gelu(self.body(x))  # (B, T, d_hidden)
        return self.head(self.to_raw(hidden))  # fields (B, T)


class LinearAR(nn.Module):
    """Classical AR(p): x_{t+1} = c + sum_{j<p} phi_j x_{t-j} + eps, eps ~ N(0, sigma^2).

    Build it with `LinearAR.fit(series, order)` (least squares, closed form); it speaks the
    same protocol as `ContinuousAR`: `model(x)` gives a `GaussianOutput` per step.
    """

    def __init__(self, coef: torch.Tensor, intercept: float, scale: float):
        super().__init__()
        if coef.ndim != 1 or len(coef) < 1:
            raise ValueError(f"coef must be a 1-D tensor of p >= 1 AR coefficients, got shape {tuple(coef.shape)}")
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got scale={scale!r}")
        self.context_len = len(coef)
        self.register_buffer("coef", coef.detach().clone().float())  # phi_0 multiplies x_t
        self.register_buffer("intercept", torch.tensor(float(intercept)))
        self.register_buffer("scale", torch.tensor(float(scale)))

    @classmethod
    def fit(cls, series: torch.Tensor, order: int) -> "LinearAR":
        """Least squares on (x_{t-p+1..t}, x_{t+1}) pairs of a 1-D series; the noise scale is
        the maximum-likelihood one, sqrt(mean squared residual)."""
        check_int("order", order, 1)
        series = torch.as_tensor(series)
        if series.ndim != 1 or len(series) < 2 * order + 2:
            raise ValueError(f"series must be 1-D with at least 2 * order + 2 = {2 * order + 2} values, "
                             f"got shape {tuple(series.shape)}")
        x = series.double()
        windows = x.unfold(0, order, 1)[:-1]  # (N - p, p): x_{t-p+1..t}
        design = torch.cat([windows.flip(-1), torch.ones(len(windows), 1, dtype=x.dtype)], dim=1)
        targets = x[order:]  # (N - p,)
        solution = torch.linalg.lstsq(design, targets[:, None]).solution[:, 0]  # (p + 1,)
        residual = targets - design @ solution
        return cls(solution[:-1], float(solution[-1]), float(residual.pow(2).mean().sqrt()))

    def forward(self, x: torch.Tensor) -> GaussianOutput:
        """Args: x (B, T). Returns: GaussianOutput with fields (B, T) for x_{t+1}."""
        if x.ndim != 2:
            raise ValueError(f"x must have shape (B, T), got {tuple(x.shape)}")
        padded = F.pad(x[:, None, :], (self.context_len - 1, 0))  # (B, 1, p - 1 + T)
        weight = self.coef.flip(0).to(x.dtype)[None, None, :]  # oldest lag first, as conv1d reads
        loc = F.conv1d(padded, weight)[:, 0] + self.intercept  # (B, T)
        return GaussianOutput(loc, self.scale.to(x.dtype).expand_as(loc))


@torch.no_grad()
def forecast(model: nn.Module, history: torch.Tensor, horizon: int, n_paths: int, *,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample `n_paths` continuations of `history`, feeding each sampled value back in.

    Args:
        model: a model of this module's protocol (`model(x)` -> per-step predictive
            distribution, `context_len` attribute), e.g. ContinuousAR or LinearAR.
        history: (T,) observed values, T >= 1 (only the last context_len are read).
        horizon: steps to forecast, >= 1.
        n_paths: sampled futures, >= 1; their quantiles per step make uncertainty bands.
        generator: a seeded torch.Generator on history.device, for repeatable paths.
    Returns:
        (n_paths, horizon) sampled values.
    """
    if history.ndim != 1 or len(history) < 1:
        raise ValueError(f"history must be a non-empty 1-D tensor, got shape {tuple(history.shape)}")
    for name, value in (("horizon", horizon), ("n_paths", n_paths)):
        check_int(name, value, 1, who="forecast")
    window = history[-model.context_len:].expand(n_paths, -1)  # (n_paths, <= p)
    paths = []
    with eval_mode(model):
        for _ in range(horizon):
            step = model(window).last().sample(generator=generator)  # (n_paths,)
            paths.append(step)
            window = torch.cat([window, step[:, None]], dim=1)[:, -model.context_len:]
    return torch.stack(paths, dim=1)  # (n_paths, horizon)
