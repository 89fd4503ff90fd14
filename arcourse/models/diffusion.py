"""A tiny denoising diffusion model: an AR model over noise levels, run backwards in time.

Ho, Jain and Abbeel (2020), "Denoising Diffusion Probabilistic Models", after Sohl-Dickstein
et al. (2015). A fixed forward chain adds Gaussian noise, q(x_t | x_{t-1}) = N(sqrt(1 - b_t)
x_{t-1}, b_t I), until x_T is pure noise; the model learns the reverse conditionals
p(x_{t-1} | x_t), so generation is ancestral sampling of the chain
p(x_T) prod_t p(x_{t-1} | x_t): the chain rule again, over noise levels instead of
positions, with T network calls per sample whatever the dimension. A network predicts the
noise eps in x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, trained by mean squared error.

Contract: `model(x_t (B, D), t (B,))` returns the predicted noise (B, D);
`reverse_parameters` turns it into the mean and standard deviation of p(x_{t-1} | x_t).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from arcourse._checks import check_int, check_number, check_vectors


@dataclass(frozen=True)
class DiffusionConfig:
    """A denoiser MLP and its noise schedule.

    Attributes:
        data_dim: D; n_steps: T noise levels; hidden: MLP width; n_hidden_layers: MLP depth.
        beta_start, beta_end: the linear schedule of b_t, 0 < beta_start <= beta_end < 1.
    """

    data_dim: int = 2
    n_steps: int = 50
    hidden: int = 128
    n_hidden_layers: int = 3
    beta_start: float = 1e-3
    beta_end: float = 0.2

    def __post_init__(self):
        for name in ("data_dim", "n_steps", "hidden", "n_hidden_layers"):
            check_int(name, getattr(self, name), 1)
        for name in ("beta_start", "beta_end"):
            check_number(name, getattr(self, name), 0, 1, low_open=True, high_open=True)
        if self.beta_start > self.beta_end:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got beta_start={self.beta_start!r}, "
                             f"beta_end={self.beta_end!r}")

    @classmethod
    def tiny(cls, **overrides) -> "DiffusionConfig":
        """A few hundred parameters: for tests (trains in a second). Any field as a keyword."""
        return cls(**{"n_steps": 10, "hidden": 16, "n_hidden_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "DiffusionConfig":
        """The lecture 09 denoiser (the defaults). Any field as a keyword."""
        return cls(**overrides)


def noise_schedule(config: DiffusionConfig) -> dict[str, torch.Tensor]:
    """b_t, a_t = 1 - b_t and abar_t = prod_{s<=t} a_s for t = 1..T (index 0 is t = 1), float64."""
    betas = torch.linspace(config.beta_start, config.beta_end, config.n_steps, dtype=torch.float64)
    alphas = 1.0 - betas
    return {"betas": betas, "alphas": alphas, "alpha_bars": torch.cumprod(alphas, 0)}


class Denoiser(nn.Module):
    """An MLP that reads x_t and a sinusoidal code of t and predicts the noise in x_t."""

    def __init__(self, config: DiffusionConfig):
        if not isinstance(config, DiffusionConfig):
            raise TypeError(f"config must be a DiffusionConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        self.n_freq = 8
        layers: list[nn.Module] = []
        width = config.data_dim + 2 * self.n_freq
        for i in range(config.n_hidden_layers):
            layers += [nn.Linear(width if i == 0 else config.hidden, config.hidden), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(config.hidden, config.data_dim))
        for name, value in noise_schedule(config).items():
            self.register_buffer(name, value.float(), persistent=False)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        D, T = self.config.data_dim, self.config.n_steps
        check_vectors("x_t", x_t, D)
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"t must be an integer tensor of steps, got {getattr(t, 'dtype', type(t))}")
        if t.shape != (len(x_t),):
            raise ValueError(f"t must have shape ({len(x_t)},), got {tuple(t.shape)}")
        if t.numel() and (t.min() < 0 or t.max() >= T):
            raise ValueError(f"t must lie in [0, {T}), found [{int(t.min())}, {int(t.max())}]")
        freqs = torch.exp(torch.arange(self.n_freq, device=x_t.device) * (-math.log(100.0) / self.n_freq))
        angle = (t.float() + 1)[:, None] * freqs * (math.pi / T) * 8      # (B, F)
        code = torch.cat([angle.sin(), angle.cos()], dim=-1)               # (B, 2F)
        return self.net(torch.cat([x_t, code], dim=-1))                   # (B, D)


def denoising_loss(model: Denoiser, x0: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the predicted noise at a random level t per point (a scalar).

    Args:
        x0: (B, D) clean data.
    """
    t = torch.randint(model.config.n_steps, (len(x0),), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    abar = model.alpha_bars[t][:, None]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    return ((model(x_t, t) - eps) ** 2).mean()


def reverse_parameters(model: Denoiser, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (B, D) and standard deviation (a float) of p(x_{t-1} | x_t): one network call.

    mean = (x_t - b_t / sqrt(1 - abar_t) eps_hat) / sqrt(a_t), std = sqrt(b_t) (DDPM's choice);
    at t = 0 (the last step) the std is 0 and the mean is the returned sample.
    """
    check_int("t", t, 0)
    if t >= model.config.n_steps:
        raise ValueError(f"t must be < n_steps={model.config.n_steps}, got t={t}")
    eps_hat = model(x_t, torch.full((len(x_t),), t, dtype=torch.long, device=x_t.device))
    beta, alpha, abar = model.betas[t], model.alphas[t], model.alpha_bars[t]
    mean = (x_t - beta / (1 - abar).sqrt() * eps_hat) / alpha.sqrt()
    return mean, (float(beta.sqrt()) if t > 0 else 0.0)
