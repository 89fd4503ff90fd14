"""A real-valued series like daily returns: heavy tails and volatility clustering, known exactly.

GARCH(1,1) (Bollerslev, 1986) lets today's variance depend on yesterday's shock and
yesterday's variance,
    x_t = mean + sigma_t * eps_t,   sigma_t^2 = omega + alpha (x_{t-1} - mean)^2 + beta sigma_{t-1}^2,
so calm and turbulent stretches cluster. With Student-t innovations eps_t (scaled to unit
variance) the tails are heavier still. Because the generator knows every sigma_t, the exact
conditional NLL of the true process is available: no model of x_t given x_<t can beat it on
average, as the entropy rate bounds a model of a Markov chain.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch

from arcourse._checks import check_int, check_number

from arcourse.data.text import text_batches


class SeriesSample(NamedTuple):
    """A sampled series and the true conditional standard deviation of each of its steps."""

    values: torch.Tensor      # (T,) float32
    volatility: torch.Tensor  # (T,) float32, sigma_t of the step's conditional distribution


@dataclass(frozen=True)
class GarchProcess:
    """GARCH(1,1) with Student-t innovations of unit variance.

    Args:
        omega: variance floor, > 0 (in squared units of x).
        alpha: weight of yesterday's squared shock, >= 0.
        beta: weight of yesterday's variance, >= 0; alpha + beta < 1 keeps the variance
            finite (persistence: how slowly a volatility burst fades).
        df: degrees of freedom of the innovations, > 2 (finite variance); small df, heavy
            tails; df -> infinity gives Gaussian innovations.
        mean: the constant conditional mean.
    The defaults resemble daily stock returns in percent: stationary standard deviation
    sqrt(0.05 / 0.03) ~ 1.3, persistence alpha + beta = 0.97, df = 5.
    """

    omega: float = 0.05
    alpha: float = 0.08
    beta: float = 0.89
    df: float = 5.0
    mean: float = 0.0

    def __post_init__(self):
        for name in ("omega", "alpha", "beta", "df", "mean"):
            value = getattr(self, name)
            check_number(name, value, who="GarchProcess")
        if not self.omega > 0:
            raise ValueError(f"GarchProcess needs omega > 0, got omega={self.omega}")
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"GarchProcess needs alpha >= 0 and beta >= 0, got alpha={self.alpha}, beta={self.beta}")
        if not self.alpha + self.beta < 1:
            raise ValueError("GarchProcess needs alpha + beta < 1 for a finite stationary variance, "
                             f"got alpha + beta = {self.alpha + self.beta}")
        if not self.df > 2:
            raise ValueError(f"GarchProcess needs df > 2 (innovations of finite variance), got df={self.df}")

    @property
    def stationary_variance(self) -> float:
        """E[(x_t - mean)^2] = omega / (1 - alpha - beta)."""
        return self.omega / (1 - self.alpha - self.beta)

    def sample(self, length: int, *, seed: int = 0, burn_in: int = 1000) -> SeriesSample:
        """One series of `length` steps, after `burn_in` discarded steps from the stationary
        variance (so the start is typical).

        Returns:
            SeriesSample(values (T,), volatility (T,)), T = length.
        """
        check_int("length", length, 1)
        check_int("burn_in", burn_in, 0)
        rng = np.random.default_rng(seed)
        total = length + burn_in
        eps = rng.standard_t(self.df, size=total) * math.sqrt((self.df - 2) / self.df)  # unit variance
        values, sigmas = np.empty(total), np.empty(total)
        variance, shock = self.stationary_variance, 0.0
        for t in range(total):
            variance = self.omega + self.alpha * shock**2 + self.beta * variance if t else variance
            sigmas[t] = math.sqrt(variance)
            shock = sigmas[t] * eps[t]
            values[t] = self.mean + shock
        return SeriesSample(torch.from_numpy(values[burn_in:]).float(), torch.from_numpy(sigmas[burn_in:]).float())

    def conditional_nll(self, sample: SeriesSample) -> torch.Tensor:
        """-log p(x_t | x_<t) of each step under the true process (nats).

        The innovation eps ~ t_df scaled by sqrt((df - 2) / df), so x_t is Student-t with
        location `mean`, scale sigma_t sqrt((df - 2) / df) and `df` degrees of freedom.

        Returns:
            (T,) float32.
        """
        values, volatility = sample
        scale = volatility.double() * math.sqrt((self.df - 2) / self.df)
        dist = torch.distributions.StudentT(self.df, loc=self.mean, scale=scale)
        return (-dist.log_prob(values.double())).float()


def series_batches(values: torch.Tensor, context_len: int, batch_size: int, *, seed: int = 0
                   ) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Random windows of a long real-valued series, for `train(batches=...)`.

    Args:
        values: (N,) float series.
    Returns:
        a function giving (inputs (B, T), targets (B, T)), targets shifted by one step,
        B = batch_size, T = context_len; windows drawn with a private, seeded generator.
    """
    values = torch.as_tensor(values)
    if not values.is_floating_point() or values.ndim != 1:
        raise ValueError(f"values must be a 1-D float tensor, got dtype {values.dtype} and shape {tuple(values.shape)}")
    positions = text_batches(torch.arange(len(values)), context_len, batch_size, seed=seed)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = positions()  # (B, T) indices into the series
        return values[inputs], values[targets]

    return next_batch
