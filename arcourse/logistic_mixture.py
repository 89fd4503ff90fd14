"""The discretised mixture of logistics: a K-level output head with 3M numbers, not K.

From Salimans, Karpathy, Chen and Kingma (2017), "PixelCNN++", also the output of Parallel
WaveNet. Instead of a K-way softmax, a network outputs M mixture weights, means and log-scales;
the probability of level k is the mass the mixture of logistics puts on k's bin of [-1, 1],
with the first bin reaching down to -inf and the last up to +inf, so the K probabilities sum
to exactly 1. The parameter count no longer grows with K (256 grey levels, 65,536 audio
levels), and neighbouring levels share probability, a prior that a softmax must learn.

Parameters come as one tensor (..., 3M) with the category axis last: M weight logits, then
M means (in the [-1, 1] scale of the levels), then M log-scales.
Levels k = 0..K-1 sit at c_k = -1 + 2k/(K-1); their bins have half-width 1/(K-1).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from arcourse._checks import check_ids, check_int

MIN_LOG_SCALE = -7.0  # narrower logistics put all their mass in one bin anyway; keeps 1/s finite


def _split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(..., 3M) -> log-weights, means, log-scales, each (..., M)."""
    if not isinstance(params, torch.Tensor) or not params.is_floating_point():
        raise TypeError(f"params must be a floating-point tensor (..., 3M), got {getattr(params, 'dtype', type(params))}")
    if params.ndim == 0 or params.shape[-1] == 0 or params.shape[-1] % 3:
        raise ValueError(f"params must have a last axis of 3M > 0 numbers (weights, means, log-scales), "
                         f"got shape {tuple(params.shape)}")
    logits, means, log_scales = params.chunk(3, dim=-1)
    return F.log_softmax(logits, dim=-1), means, log_scales.clamp(min=MIN_LOG_SCALE)


def _log_bin_mass(lower: torch.Tensor, upper: torch.Tensor, is_first: torch.Tensor, is_last: torch.Tensor
                  ) -> torch.Tensor:
    """log(sigmoid(upper) - sigmoid(lower)) without cancellation, edges open to +-inf.

    sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)) for a > b, and each
    factor has a stable log: logsigmoid and log(-expm1(.)).
    """
    log_cdf_upper = F.logsigmoid(upper)                # log P(X < upper)
    log_sf_lower = F.logsigmoid(-lower)                # log P(X > lower)
    middle = log_cdf_upper + log_sf_lower + torch.log(-torch.expm1(lower - upper))
    return torch.where(is_first, log_cdf_upper, torch.where(is_last, log_sf_lower, middle))


def logistic_mixture_log_probs(params: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """log p(k) for every level k: the head's output as normalised logits.

    The result is a log-distribution over K levels with the category axis last, so
    `arcourse.nll` scores it and `arcourse.decoding.sample_tokens` samples it.

    Args:
        params: (..., 3M) weight logits, means, log-scales.
        vocab_size: K >= 2 levels.
    Returns:
        (..., K) log-probabilities; exp sums to 1 over the last axis.
    """
    vocab_size = check_int("vocab_size", vocab_size, 2)
    log_w, means, log_scales = _split(params)
    centres = torch.linspace(-1.0, 1.0, vocab_size, dtype=params.dtype, device=params.device)  # (K,)
    half = 1.0 / (vocab_size - 1)
    inv_s = torch.exp(-log_scales)[..., None, :]                      # (..., 1, M)
    offset = centres[:, None] - means[..., None, :]                    # (..., K, M)
    k = torch.arange(vocab_size, device=params.device)[:, None]        # (K, 1)
    log_mass = _log_bin_mass((offset - half) * inv_s, (offset + half) * inv_s, k == 0, k == vocab_size - 1)
    return torch.logsumexp(log_w[..., None, :] + log_mass, dim=-1)     # (..., K)


def logistic_mixture_nll(params: torch.Tensor, targets: torch.Tensor, vocab_size: int, reduction: str = "mean"
                         ) -> torch.Tensor:
    """-log p(target) under the mixture, touching only each target's bin (O(M), not O(K)).

    Args:
        params: (..., 3M); targets: (...) int64 levels in [0, K); vocab_size: K >= 2.
        reduction: "mean", "sum" or "none".
    Returns:
        a scalar, or (...) for reduction="none" (nats).
    """
    vocab_size = check_int("vocab_size", vocab_size, 2)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got reduction={reduction!r}")
    log_w, means, log_scales = _split(params)
    check_ids("targets", targets, vocab_size)
    if targets.shape != params.shape[:-1]:
        raise ValueError(f"targets must have shape {tuple(params.shape[:-1])}, got {tuple(targets.shape)}")
    half = 1.0 / (vocab_size - 1)
    centre = (targets.to(params.dtype) * (2 * half) - 1.0)[..., None]   # (..., 1)
    inv_s = torch.exp(-log_scales)
    offset = centre - means                                              # (..., M)
    t = targets[..., None]
    log_mass = _log_bin_mass((offset - half) * inv_s, (offset + half) * inv_s, t == 0, t == vocab_size - 1)
    out = -torch.logsumexp(log_w + log_mass, dim=-1)
    return out if reduction == "none" else out.sum() if reduction == "sum" else out.mean()


def sample_logistic_mixture(params: torch.Tensor, vocab_size: int, *, generator: torch.Generator | None = None
                            ) -> torch.Tensor:
    """Exact samples of the discretised mixture without forming all K probabilities.

    Pick a component by its weight, draw a logistic by inverting its CDF
    (mu + s (log u - log(1 - u))), and return the level whose bin holds the draw; draws
    beyond the edge bins land in them, matching `logistic_mixture_log_probs`.

    Args:
        params: (..., 3M); vocab_size: K >= 2 levels; generator: on params' device, for repeatable draws.
    Returns:
        (...) int64 levels in [0, K).
    """
    vocab_size = check_int("vocab_size", vocab_size, 2)
    log_w, means, log_scales = _split(params)
    flat_w = log_w.reshape(-1, log_w.shape[-1]).exp()
    pick = torch.multinomial(flat_w, 1, generator=generator).view(log_w.shape[:-1] + (1,))  # (..., 1)
    mu = means.gather(-1, pick)[..., 0]
    s = log_scales.gather(-1, pick)[..., 0].exp()
    u = torch.rand(mu.shape, generator=generator, device=params.device, dtype=params.dtype)
    u = u.clamp(1e-6, 1 - 1e-6)
    x = mu + s * (torch.log(u) - torch.log1p(-u))                       # a logistic draw
    return torch.round((x + 1.0) * (vocab_size - 1) / 2).clamp(0, vocab_size - 1).long()


class LogisticMixtureHead(nn.Module):
    """A linear map from features to the 3M mixture parameters of each output.

    forward(h (..., in_features)) -> params (..., 3M). 3M numbers per output, whatever K is.
    """

    def __init__(self, in_features: int, n_components: int):
        super().__init__()
        check_int("in_features", in_features, 1)
        check_int("n_components", n_components, 1)
        self.n_components = n_components
        self.proj = nn.Linear(in_features, 3 * n_components)
        with torch.no_grad():  # start with means spread over [-1, 1], so every component is used
            self.proj.bias[n_components:2 * n_components] = torch.linspace(-0.8, 0.8, n_components)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj(h)                                               # (..., 3M)
