"""arcourse: the helper library of a Jupyter course on autoregressive generative models.

An autoregressive (AR) model writes a joint distribution with the chain rule,
p(x_1..x_n) = prod_i p(x_i | x_<i), and parameterises every conditional with one network.
This package holds what the notebooks lean on once they have built a piece from scratch:
information measures, a training loop, data sets that work offline, the course's models,
decoding, widgets and the autograder.

Shape letters used in comments throughout the course:
    B batch, T time, V vocabulary, C channels, H/W height/width,
    K intensity levels, N heads, D width per head.

Device: library code never picks a device; it follows its inputs. Notebooks and scripts
call `get_device()` once (cuda, then mps, then cpu; `ARCOURSE_DEVICE` overrides).
"""
from arcourse.checkpoint import load_checkpoint, save_checkpoint
from arcourse.device import get_device, make_generator, seed_everything
from arcourse.data.audio import (
    dequantize_signal,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    mu_law_expand,
    quantize_signal,
)
from arcourse.metrics import (
    IGNORE_INDEX,
    bits_per_dim,
    bits_per_token,
    chi_square_test,
    cross_entropy,
    entropy,
    kl_divergence,
    log_likelihood,
    nll,
    perplexity,
)
from arcourse.training import History, ScheduledSampling, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "IGNORE_INDEX",
    "History",
    "ScheduledSampling",
    "bits_per_dim",
    "bits_per_token",
    "chi_square_test",
    "cross_entropy",
    "dequantize_signal",
    "entropy",
    "evaluate",
    "get_device",
    "kl_divergence",
    "load_checkpoint",
    "log_likelihood",
    "make_generator",
    "mu_law_compress",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_expand",
    "nll",
    "perplexity",
    "quantize_signal",
    "save_checkpoint",
    "seed_everything",
    "train",
]
