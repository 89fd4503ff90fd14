"""Measures: how good a model is, in numbers.

    information  entropy, cross-entropy, KL, perplexity, bits, `nll` (the one loss) and
                 `log_likelihood` (the one exact log p(x) of every family)
    stats        Pearson's chi-square test, for claims made by sampling
    evaluation   judging a trained sequence model: log p(text), exposure bias
                 (import it as `arcourse.metrics.evaluation`: it samples, so it sits above
                 `arcourse.decoding`, which itself scores with `log_likelihood`)
"""
from arcourse.metrics.information import (
    IGNORE_INDEX,
    bits_per_dim,
    bits_per_token,
    cross_entropy,
    entropy,
    kl_divergence,
    log_likelihood,
    nll,
    perplexity,
)
from arcourse.metrics.stats import chi_square_test

__all__ = [
    "IGNORE_INDEX",
    "bits_per_dim",
    "bits_per_token",
    "chi_square_test",
    "cross_entropy",
    "entropy",
    "kl_divergence",
    "log_likelihood",
    "nll",
    "perplexity",
]
