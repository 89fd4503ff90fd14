"""A variational autoencoder for real vectors, with its ELBO and importance-weighted bound.

Kingma and Welling (2014), "Auto-Encoding Variational Bayes"; the importance-weighted bound
is Burda, Grosse and Salakhutdinov (2016), "Importance Weighted Autoencoders". A latent z
with prior N(0, I) is decoded into a Gaussian p(x | z); the marginal p(x) = E_z p(x | z) has
no closed form, so an encoder q(z | x) gives a lower bound, the ELBO
E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x). Averaging k importance weights
p(x, z)/q(z | x) inside the log (IWAE) tightens it towards log p(x) as k grows:
unlike an AR model's, the likelihood is only ever estimated.

Contract: `model(x (B, D))` returns the encoder's (mean, log-variance), each (B, Z);
`model.decode(z (..., Z))` the decoder's (mean, log-variance), each (..., D).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from arcourse._checks import check_int, check_vectors


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of a VAE with MLP encoder and decoder.

    Attributes:
        data_dim: D; latent_dim: Z; hidden: width of each MLP layer; n_hidden_layers: per MLP.
    """

    data_dim: int = 2
    latent_dim: int = 2
    hidden: int = 64
    n_hidden_layers: int = 2

    def __post_init__(self):
        for name in ("data_dim", "latent_dim", "hidden", "n_hidden_layers"):
            check_int(name, getattr(self, name), 1)

    @classmethod
    def tiny(cls, **overrides) -> "VAEConfig":
        """A few hundred parameters: for tests (trains in a second). Any field as a keyword."""
        return cls(**{"hidden": 16, "n_hidden_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "VAEConfig":
        """The lecture 09 VAE (the defaults). Any field as a keyword."""
        return cls(**overrides)


def _mlp(n_in: int, hidden: int, n_hidden_layers: int, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_hidden_layers):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.SiLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, n_out))


class VAE(nn.Module):
    """Gaussian encoder q(z | x) and Gaussian decoder p(x | z), both MLPs."""

    def __init__(self, config: VAEConfig):
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        self.encoder = _mlp(config.data_dim, config.hidden, config.n_hidden_layers, 2 * config.latent_dim)
        self.decoder = _mlp(config.latent_dim, config.hidden, config.n_hidden_layers, 2 * config.data_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_vectors("x", x, self.config.data_dim)
        mean, log_var = self.encoder(x).chunk(2, dim=-1)            # (B, Z) each
        return mean, log_var.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.decoder(z).chunk(2, dim=-1)            # (..., D) each
        return mean, log_var.clamp(-12.0, 8.0)


def _gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(exp(log_var))) summed over the last axis."""
    return -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)


def _posterior_draws(model: VAE, x: torch.Tensor, n_samples: int, generator: torch.Generator | None):
    """q's mean and log-variance (B, Z) and n_samples reparameterised draws z = mu + sigma eps (S, B, Z)."""
    check_int("n_samples", n_samples, 1)
    mean, log_var = model(x)                                        # (B, Z)
    eps = torch.randn((n_samples, *mean.shape), generator=generator, device=x.device, dtype=x.dtype)
    return mean, log_var, mean + (0.5 * log_var).exp() * eps        # (S, B, Z)


def elbo(model: VAE, x: torch.Tensor, n_samples: int = 1, *, generator: torch.Generator | None = None
         ) -> torch.Tensor:
    """The evidence lower bound of each point, E_q[log p(x | z)] - KL(q || N(0, I)) <= log p(x).

    The reconstruction term is averaged over `n_samples` reparameterised draws z = mu + sigma
    eps; the KL of two Gaussians is exact. Differentiable: its negative is the training loss.

    Returns:
        (B,) nats.
    """
    mean, log_var, z = _posterior_draws(model, x, n_samples, generator)
    rec = _gaussian_log_density(x, *model.decode(z)).mean(0)        # (B,)
    kl = 0.5 * (mean**2 + log_var.exp() - 1.0 - log_var).sum(-1)    # (B,)
    return rec - kl


def iwae_bound(model: VAE, x: torch.Tensor, n_samples: int = 100, *, generator: torch.Generator | None = None
               ) -> torch.Tensor:
    """The importance-weighted bound log (1/k) sum_j p(x, z_j) / q(z_j | x), z_j ~ q(z | x).

    Its expectation rises with k towards log p(x) and is never below the ELBO (k = 1 is the
    ELBO's one-sample estimate).

    Returns:
        (B,) nats.
    """
    mean, log_var, z = _posterior_draws(model, x, n_samples, generator)   # z: (k, B, Z)
    log_joint = _gaussian_log_density(x, *model.decode(z)) + _gaussian_log_density(z, torch.zeros_like(z),
                                                                                   torch.zeros_like(z))
    log_q = _gaussian_log_density(z, mean, log_var)                 # (k, B)
    return torch.logsumexp(log_joint - log_q, dim=0) - math.log(n_samples)
