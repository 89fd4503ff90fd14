"""The course's models, one readable file per family.

Each model's `forward` returns logits with the category axis last, so `arcourse.nll` and
`arcourse.train` serve all of them; sequence models also speak the `generate` protocol of
`arcourse.decoding` (`start`/`step` for fast incremental generation).
"""
from arcourse.models.bigram import BigramConfig, BigramLM
from arcourse.models.char_rnn import CharRNN, CharRNNConfig
from arcourse.models.pixelcnn import (
    GatedPixelCNN,
    GatedPixelCNNConfig,
    IndependentPixels,
    MaskedConv2d,
    PixelCNN,
    PixelCNNConfig,
    complete_images,
    load_pixelcnn,
    log_likelihood,
    pixelcnn_mask,
    sample_images,
)

__all__: list[str] = [
    "BigramConfig",
    "BigramLM",
    "CharRNN",
    "CharRNNConfig",
    "GatedPixelCNN",
    "GatedPixelCNNConfig",
    "IndependentPixels",
    "MaskedConv2d",
    "PixelCNN",
    "PixelCNNConfig",
    "complete_images",
    "load_pixelcnn",
    "log_likelihood",
    "pixelcnn_mask",
    "sample_images",
]
