"""Hypothesis strategies shared by the library's tests and the graded checks.

One home for the inputs that properties of decoding are tested on, so a student's top-k
meets the same edge cases as the library's: ordinary logits, heavy ties, huge values, and
rows where all but some tokens are -inf.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


@st.composite
def logit_batches(draw, *, max_vocab: int = 12, bound: float = 20.0, allow_neg_inf: bool = True) -> torch.Tensor:
    """(B, V) float32 logits, B <= 4, V <= max_vocab: ordinary (in [-bound, bound]), heavily
    tied, huge (up to 2^100), or partly -inf (at least one finite logit per row)."""
    B, V = draw(st.integers(1, 4)), draw(st.integers(1, max_vocab))
    kinds = ["normal", "ties", "huge", "neg_inf"] if allow_neg_inf else ["normal", "ties", "huge"]
    kind = draw(st.sampled_from(kinds))
    if kind == "ties":
        values = draw(arrays(np.float32, (B, V), elements=st.integers(-2, 2).map(float)))
    elif kind == "huge":
        values = draw(arrays(np.float32, (B, V), elements=st.floats(-2.0 ** 100, 2.0 ** 100, width=32)))
    else:
        values = draw(arrays(np.float32, (B, V), elements=st.floats(-bound, bound, width=32)))
    if kind == "neg_inf":
        hide = draw(arrays(np.bool_, (B, V)))
        hide[np.arange(B), draw(arrays(np.int64, (B,), elements=st.integers(0, V - 1)))] = False
        values[hide] = -np.inf
    return torch.from_numpy(values)
