"""Information measures: entropy, cross-entropy, KL divergence, perplexity, bits per token.

These are the yardsticks of every AR model in the course. The identity that ties them
together, H(p, q) = H(p) + KL(p || q), says that minimising cross-entropy (the training
loss) is minimising the KL divergence to the data, i.e. maximum likelihood.

Distributions may be NumPy arrays (or lists) or torch tensors; the answer has the same
kind. The last axis (or `axis`) holds the categories; other axes are batch axes.
Logs are natural (nats) unless `unit="bits"`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from arcourse._checks import check_distribution, check_number

IGNORE_INDEX = -100  # target value that `nll` skips (padding), the same as torch's default

_UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}


def _unit_scale(unit: str) -> float:
    if unit not in _UNITS:
        raise ValueError(f"unit must be 'nats' or 'bits', got unit={unit!r}")
    return _UNITS[unit]


def _as_array(name: str, x: Any) -> np.ndarray | torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            x = x.double()
        return x
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a NumPy array, a list of numbers or a torch tensor, got {type(x).__name__}") from err
    return arr


def _pair(p: Any, q: Any, axis: int):
    p, q = _as_array("p", p), _as_array("q", q)
    if isinstance(p, torch.Tensor) != isinstance(q, torch.Tensor):
        raise TypeError(f"p and q must both be torch tensors or both array-like, got {type(p).__name__} and {type(q).__name__}")
    if tuple(p.shape) != tuple(q.shape):
        raise ValueError(f"p and q must have the same shape, got p {tuple(p.shape)} and q {tuple(q.shape)}")
    check_distribution("p", p, axis)
    check_distribution("q", q, axis)
    return p, q


def _xlogy(x, y):
    """x * log(y) with 0 * log(0) = 0: a category of zero probability contributes nothing."""
    if isinstance(x, torch.Tensor):
        return torch.special.xlogy(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _reduce(values, axis: int, scale: float):
    out = values.sum(dim=axis) if isinstance(values, torch.Tensor) else values.sum(axis=axis)
    return out * scale


def entropy(p: Any, *, axis: int = -1, unit: str = "nats"):
    """Entropy H(p) = -sum_x p(x) log p(x): the average surprise of a sample from p.

    Args:
        p: probabilities, categories along `axis` (each row non-negative, summing to 1).
        axis: the category axis.
        unit: "nats" (natural log) or "bits" (log base 2).
    Returns:
        H(p) with `axis` removed: a float64 NumPy value for array input, a tensor for tensor input.
    """
    scale = _unit_scale(unit)
    p = _as_array("p", p)
    check_distribution("p", p, axis)
    return -_reduce(_xlogy(p, p), axis, scale)


def cross_entropy(p: Any, q: Any, *, axis: int = -1, unit: str = "nats"):
    """Cross-entropy H(p, q) = -sum_x p(x) log q(x): the average surprise under q of samples from p.

    It is infinite where q gives zero probability to something p can produce.

    Args:
        p: the true (data) distribution; q: the model's. Same shape, categories along `axis`.
    Returns:
        H(p, q) with `axis` removed, in `unit`.
    """
    scale = _unit_scale(unit)
    p, q = _pair(p, q, axis)
    return -_reduce(_xlogy(p, q), axis, scale)


def kl_divergence(p: Any, q: Any, *, axis: int = -1, unit: str = "nats"):
    """Kullback-Leibler divergence KL(p || q) = sum_x p(x) log(p(x) / q(x)) >= 0, zero iff p == q.

    Computed as H(p, q) - H(p) term by term, so it is exactly the gap between cross-entropy
    and entropy.

    Args:
        p, q: distributions of the same shape, categories along `axis`.
    Returns:
        KL(p || q) with `axis` removed, in `unit` (infinite where q misses p's support).
    """
    scale = _unit_scale(unit)
    p, q = _pair(p, q, axis)
    return _reduce(_xlogy(p, p) - _xlogy(p, q), axis, scale)


def _check_count(name: str, n: Any) -> None:
    check_number(name, n, 0, low_open=True)


def _check_nll(total_nll: Any) -> None:
    value = total_nll.detach() if isinstance(total_nll, torch.Tensor) else np.asarray(total_nll, dtype=np.float64)
    if isinstance(value, torch.Tensor):
        bad = (~torch.isfinite(value)).any() or (value < 0).any()
    else:
        bad = (~np.isfinite(value)).any() or (value < 0).any()
    if bool(bad):
        raise ValueError(f"total_nll must be finite and >= 0 (a discrete model's negative log-likelihood), got {total_nll!r}")


def perplexity(total_nll: Any, n_tokens: float = 1):
    """Perplexity exp(NLL / T): the effective number of equally likely choices per token.

    A perfect model has perplexity 1; the uniform distribution over V tokens has V.

    Args:
        total_nll: negative log-likelihood in nats summed over `n_tokens` tokens (or a mean
            cross-entropy in nats with the default n_tokens=1).
        n_tokens: how many tokens the NLL covers.
    """
    _check_nll(total_nll)
    _check_count("n_tokens", n_tokens)
    if isinstance(total_nll, torch.Tensor):
        return torch.exp(total_nll / n_tokens)
    return np.exp(np.asarray(total_nll, dtype=np.float64) / n_tokens)


def bits_per_token(total_nll: Any, n_tokens: float = 1):
    """Bits per token NLL / (T ln 2); perplexity = 2 ** bits_per_token.

    Args:
        total_nll: negative log-likelihood in nats summed over `n_tokens` tokens.
        n_tokens: how many tokens the NLL covers.
    """
    _check_nll(total_nll)
    _check_count("n_tokens", n_tokens)
    return total_nll / (n_tokens * math.log(2.0))


def bits_per_dim(total_nll: Any, n_dims: float):
    """Bits per dimension NLL / (D ln 2), the image-model yardstick (D = C*H*W sub-pixels).

    Args:
        total_nll: negative log-likelihood of one image (or a sum over images) in nats.
        n_dims: the number of dimensions it covers (C*H*W per image, times images).
    """
    _check_nll(total_nll)
    _check_count("n_dims", n_dims)
    return total_nll / (n_dims * math.log(2.0))


def nll(logits: torch.Tensor, targets: torch.Tensor, *, ignore_index: int = IGNORE_INDEX,
        reduction: str = "mean") -> torch.Tensor:
    """Negative log-likelihood of integer targets under logits, in nats.

    One loss for every model of the course: the category axis is last, whatever comes
    before it ((B, T, V) text, (B, C, H, W, K) pixels, (B, T, Q) audio).

    Args:
        logits: (..., V) unnormalised log-probabilities.
        targets: (...) integer class ids in [0, V), or `ignore_index` for padding.
        reduction: "mean" (per counted target), "sum", or "none" (same shape as targets,
            zero where ignored).
    Returns:
        a scalar tensor, or a tensor shaped like `targets` for reduction="none".
    """
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch tensors")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be an integer tensor of class ids, got dtype {targets.dtype}")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits must have shape targets.shape + (V,), got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}")
    if reduction not in {"mean", "sum", "none"}:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got reduction={reduction!r}")
    V = logits.shape[-1]
    counted = targets != ignore_index
    if counted.any() and (targets[counted].min() < 0 or targets[counted].max() >= V):
        raise ValueError(f"targets must lie in [0, {V}) or equal ignore_index={ignore_index}")
    # cross_entropy works in log space (log-softmax), never log(softmax): no underflow
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()  # half precision loses too much in the log-sum-exp
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=ignore_index,
                           reduction=reduction).reshape(targets.shape if reduction == "none" else ())


def log_likelihood(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *,
                   condition: torch.Tensor | None = None) -> torch.Tensor:
    """Exact log p(targets) of each example under `model`, in nats, by the chain rule: the
    negated `nll` of the model's logits, summed over everything but the batch axis.

    The one log-likelihood of the library, for every family: sequences score their
    next tokens, pixel models score the image itself (its masks make position i see only
    x_<i). Differentiable; wrap it in torch.no_grad() to only evaluate.

    Args:
        model: returns logits with the category axis last, model(inputs, condition=...).
        inputs: (B, ...) what the model reads: (B, T) ids, or (B, C, H, W) levels.
        targets: (B, ...) the ids scored at each position, IGNORE_INDEX where not counted
            (padding, a prompt); default: `inputs` itself (pixel models).
        condition: (B,) ids of a conditioned model, passed on as `condition=`.
    Returns:
        (B,) log-likelihoods (<= 0). Divide the negative by C*H*W*ln 2 (`bits_per_dim`)
        for bits per dimension.
    """
    targets = inputs.long() if targets is None else targets
    logits = model(inputs) if condition is None else model(inputs, condition=condition)
    per_position = nll(logits, targets, reduction="none")              # (B, ...), zero where ignored
    return -per_position.reshape(per_position.shape[0], -1).sum(dim=1)  # (B,)
