"""Statistical tests for claims made by sampling: "these draws come from that distribution".

Pearson's chi-square goodness-of-fit test compares observed counts with n * probs:
    X^2 = sum_i (count_i - n p_i)^2 / (n p_i),
which is approximately chi-square distributed with (cells - 1) degrees of freedom when the
draws do come from probs; a tiny p-value says they do not. The approximation needs expected
counts of about 5 or more, so sparser cells are pooled into one.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from arcourse._checks import check_distribution

_MIN_EXPECTED = 5.0


def _as_float64(values) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double()
    return torch.from_numpy(np.asarray(values, dtype=np.float64))


def chi_square_test(counts, probs) -> tuple[float, float]:
    """Pearson's goodness-of-fit test of `counts` against the distribution `probs`.

    Args:
        counts: (K,) non-negative counts per category (tensor, array or list).
        probs: (K,) the claimed distribution, summing to 1.
    Returns:
        (statistic, p_value). A count in a zero-probability cell gives (inf, 0.0).
    """
    counts_t, probs_t = _as_float64(counts), _as_float64(probs)
    if counts_t.ndim != 1 or counts_t.shape != probs_t.shape:
        raise ValueError(f"counts and probs must be 1-D of the same length, got shapes "
                         f"{tuple(counts_t.shape)} and {tuple(probs_t.shape)}")
    check_distribution("probs", probs_t, -1)
    if bool((counts_t < 0).any()) or not bool(torch.isfinite(counts_t).all()):
        raise ValueError("counts must be finite and >= 0")
    n = float(counts_t.sum())
    if n <= 0:
        raise ValueError("counts are all zero; there is nothing to test")
    if bool((counts_t[probs_t == 0] > 0).any()):
        return math.inf, 0.0
    expected = n * probs_t
    keep = expected >= _MIN_EXPECTED
    observed_cells, expected_cells = [counts_t[keep]], [expected[keep]]
    if bool((~keep & (probs_t > 0)).any()):
        observed_cells.append(counts_t[~keep].sum()[None])
        expected_cells.append(expected[~keep].sum()[None])
    observed, expected = torch.cat(observed_cells), torch.cat(expected_cells)
    dof = len(observed) - 1
    if dof < 1:
        raise ValueError(f"chi_square_test needs at least two cells with expected count >= {_MIN_EXPECTED:g}; "
                         f"draw more samples (n={n:g})")
    statistic = float(((observed - expected) ** 2 / expected).sum())
    p_value = float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                            torch.tensor(statistic / 2, dtype=torch.float64)))
    return statistic, p_value
