"""MADE and autoregressive flows (MAF, IAF): exact densities from an AR network.

MADE is Germain, Gregor, Murray and Larochelle (2015), "MADE: Masked Autoencoder for
Distribution Estimation"; MAF is Papamakarios, Pavlakou and Murray (2017), "Masked
Autoregressive Flow for Density Estimation"; IAF is Kingma, Salimans, Jozefowicz, Chen,
Sutskever and Welling (2016), "Improved Variational Inference with Inverse Autoregressive
Flow". A MADE masks the weights of a fully connected network so that output i depends only
on inputs < i: every conditional of an AR model in one pass. An affine flow layer uses those
outputs as a shift mu_i and log-scale alpha_i, z_i = (x_i - mu_i(x_<i)) exp(-alpha_i(x_<i));
its Jacobian is triangular, so log|det| = -sum_i alpha_i, and log p(x) = log N(z) + log|det|.
MAF conditions on the data (density: one pass; sampling: D passes, one per dimension),
IAF on the noise (sampling: one pass; density of a new point: D passes).

Contract: `MADE(x (B, D))` returns parameters (B, D, P), P per dimension, category axis last
(P = K logits for a K-way AR model over levels, P = 2 for an affine flow layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from arcourse._checks import check_int, check_vectors


def made_masks(n_inputs: int, hidden: tuple[int, ...], n_params: int = 1) -> list[torch.Tensor]:
    """The 0/1 masks of a MADE in the natural order 1..D.

    Input i has degree i; hidden units get degrees cycling through 1..D-1 (each may see
    inputs up to its degree); output i (all P parameters of dimension i) sees hidden units
    of degree < i. Output 1 sees nothing but the biases: it is the marginal p(x_1).

    Args:
        n_inputs: D; hidden: widths of the hidden layers; n_params: P per dimension.
    Returns:
        one (out_features, in_features) mask per layer, len(hidden) + 1 of them.
    """
    check_int("n_inputs", n_inputs, 1)
    check_int("n_params", n_params, 1)
    degrees = [torch.arange(1, n_inputs + 1)]
    for width in hidden:
        check_int("hidden width", width, 1)
        degrees.append(torch.arange(width) % max(n_inputs - 1, 1) + 1)
    masks = [(d_out[:, None] >= d_in[None, :]).float() for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    d_out = torch.arange(1, n_inputs + 1).repeat_interleave(n_params)  # (D*P,), dimension-major
    masks.append((d_out[:, None] > degrees[-1][None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (out, in)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float(), persistent=False)  # rebuilt from the config

    def forward(self, x: torch.Tensor) -> torch.Tensor:          # (B, in) -> (B, out)
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


@dataclass(frozen=True)
class MADEConfig:
    """A MADE over D inputs with P outputs per input.

    Attributes:
        n_inputs: D, dimensions of a data point.
        n_params: P, numbers per dimension (K logits, or 2 for shift and log-scale).
        hidden: width of each hidden layer.
        n_hidden_layers: masked hidden layers (ReLU).
    """

    n_inputs: int = 2
    n_params: int = 2
    hidden: int = 64
    n_hidden_layers: int = 2

    def __post_init__(self):
        check_int("n_inputs", self.n_inputs, 1)
        check_int("n_params", self.n_params, 1)
        check_int("hidden", self.hidden, 1)
        check_int("n_hidden_layers", self.n_hidden_layers, 1)

    @classmethod
    def tiny(cls, **overrides) -> "MADEConfig":
        """A few hundred parameters: for tests (trains in a second). Any field as a keyword."""
        return cls(**{"hidden": 16, "n_hidden_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "MADEConfig":
        """The lecture 09 size (the defaults). Any field as a keyword."""
        return cls(**overrides)


class MADE(nn.Module):
    """Masked fully connected layers: output i depends only on inputs < i.

    forward(x (B, D) floats) -> (B, D, P).
    """

    def __init__(self, config: MADEConfig):
        if not isinstance(config, MADEConfig):
            raise TypeError(f"config must be a MADEConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        masks = made_masks(config.n_inputs, (config.hidden,) * config.n_hidden_layers, config.n_params)
        layers: list[nn.Module] = []
        for mask in masks[:-1]:
            layers += [MaskedLinear(mask), nn.ReLU()]
        self.net = nn.Sequential(*layers, MaskedLinear(masks[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        D, P = self.config.n_inputs, self.config.n_params
        check_vectors("x", x, D)
        return self.net(x).view(len(x), D, P)                    # (B, D, P)


@dataclass(frozen=True)
class FlowConfig:
    """An autoregressive flow: n_layers affine MADE layers, the order reversed between layers.

    Attributes:
        n_inputs: D.
        n_layers: affine layers.
        hidden, n_hidden_layers: the MADE of every layer.
        direction: "maf" (the MADE reads the data side: fast density) or "iaf" (it reads
            the noise side: fast sampling).
    """

    n_inputs: int = 2
    n_layers: int = 5
    hidden: int = 64
    n_hidden_layers: int = 2
    direction: str = "maf"

    def __post_init__(self):
        check_int("n_inputs", self.n_inputs, 1)
        check_int("n_layers", self.n_layers, 1)
        check_int("hidden", self.hidden, 1)
        check_int("n_hidden_layers", self.n_hidden_layers, 1)
        if self.direction not in ("maf", "iaf"):
            raise ValueError(f"direction must be 'maf' or 'iaf', got direction={self.direction!r}")

    @classmethod
    def tiny(cls, **overrides) -> "FlowConfig":
        """A few hundred parameters: for tests (trains in a second). Any field as a keyword."""
        return cls(**{"n_layers": 2, "hidden": 16, "n_hidden_layers": 1, **overrides})

    @classmethod
    def small(cls, **overrides) -> "FlowConfig":
        """The lecture 09 flow (the defaults). Any field as a keyword."""
        return cls(**overrides)


def _shift_log_scale(made: MADE, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, alpha), each (B, D); alpha softly kept in (-5, 5) so exp(alpha) stays finite."""
    out = made(u)                                                  # (B, D, 2)
    return out[..., 0], 5.0 * torch.tanh(out[..., 1] / 5.0)


class AutoregressiveFlow(nn.Module):
    """A stack of affine autoregressive layers between data x and standard normal noise z.

    In the "maf" direction layer l maps u -> (u - mu(u_<i)) exp(-alpha(u_<i)) towards the
    noise (one MADE pass); its inverse needs D passes, dimension by dimension. The "iaf"
    direction uses the same layer the other way round: z -> z exp(alpha(z_<i)) + mu(z_<i)
    towards the data in one pass, and D passes back. Every other layer reverses the order
    of the dimensions, so each dimension is conditioned on the others somewhere.

    forward(x (B, D)) -> (z (B, D), log|det dz/dx| (B,)), the same as `to_noise`.
    """

    def __init__(self, config: FlowConfig):
        if not isinstance(config, FlowConfig):
            raise TypeError(f"config must be a FlowConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        made = MADEConfig(config.n_inputs, 2, config.hidden, config.n_hidden_layers)
        self.mades = nn.ModuleList(MADE(made) for _ in range(config.n_layers))

    @staticmethod
    def _one_pass(made: MADE, u: torch.Tensor, sign: float) -> tuple[torch.Tensor, torch.Tensor]:
        """sign -1: v = (u - mu(u)) e^-alpha(u); sign +1: v = u e^alpha(u) + mu(u). One MADE call."""
        mu, alpha = _shift_log_scale(made, u)
        v = (u - mu) * torch.exp(-alpha) if sign < 0 else u * torch.exp(alpha) + mu
        return v, sign * alpha.sum(-1)

    @staticmethod
    def _d_passes(made: MADE, v: torch.Tensor, sign: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Invert `_one_pass(made, ., -sign)`: recover u from v one dimension at a time, since
        mu_i and alpha_i need u_<i first. D MADE calls; alpha_i is final once u_<i is."""
        u = torch.zeros_like(v)
        log_det = v.new_zeros(len(v))
        for i in range(v.shape[1]):
            mu, alpha = _shift_log_scale(made, u)
            mu_i, alpha_i = mu[:, i:i + 1], alpha[:, i:i + 1]
            if sign > 0:   # v = (u - mu) e^-alpha  =>  u = v e^alpha + mu
                u_i = v[:, i:i + 1] * alpha_i.exp() + mu_i
            else:          # v = u e^alpha + mu  =>  u = (v - mu) e^-alpha
                u_i = (v[:, i:i + 1] - mu_i) * (-alpha_i).exp()
            u = torch.cat([u[:, :i], u_i, u[:, i + 1:]], dim=1)
            log_det = log_det + sign * alpha_i[:, 0]
        return u, log_det

    def to_noise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z and log|det dz/dx| (B,). MAF: one MADE call per layer; IAF: D per layer."""
        check_vectors("x", x, self.config.n_inputs)
        log_det = x.new_zeros(len(x))
        for l, made in enumerate(self.mades):
            if self.config.direction == "maf":
                x, ld = self._one_pass(made, x, -1.0)
            else:
                x, ld = self._d_passes(made, x, -1.0)
            log_det = log_det + ld
            if l < len(self.mades) - 1:
                x = x.flip(1)
        return x, log_det

    def to_data(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x and log|det dx/dz| (B,). MAF: D MADE calls per layer; IAF: one per layer."""
        check_vectors("z", z, self.config.n_inputs)
        log_det = z.new_zeros(len(z))
        for l in reversed(range(len(self.mades))):
            made = self.mades[l]
            if self.config.direction == "maf":
                z, ld = self._d_passes(made, z, 1.0)
            else:
                z, ld = self._one_pass(made, z, 1.0)
            log_det = log_det + ld
            if l > 0:
                z = z.flip(1)
        return z, log_det

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.to_noise(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) (B,) in nats: log N(z; 0, I) + log|det dz/dx|."""
        z, log_det = self.to_noise(x)
        return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + log_det
