"""The course's models, one readable file per family.

Each model's `forward` returns logits with the category axis last, so `arcourse.nll` and
`arcourse.train` serve all of them; sequence models also speak the `generate` protocol of
`arcourse.decoding` (`start`/`step` for fast incremental generation). Models of real-valued
series (`continuous.py`) return a per-step predictive distribution instead, with `.nll(targets)`.
"""
from arcourse.models.bigram import BigramConfig, BigramLM
from arcourse.models.char_rnn import CharRNN, CharRNNConfig
from arcourse.models.continuous import (
    ContinuousAR,
    ContinuousARConfig,
    GaussianHead,
    GaussianOutput,
    LinearAR,
    StudentTHead,
    StudentTOutput,
    forecast,
    gaussian_nll,
    student_t_nll,
)
from arcourse.models.gpt import GPT, GPTConfig, KVCache, sinusoidal_positions
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
from arcourse.models.wavenet import (
    CausalConv1d,
    WaveNet,
    WaveNetConfig,
    WaveNetState,
    generate_fast,
    generate_naive,
    input_gradient,
    receptive_field,
)

__all__: list[str] = [
    "BigramConfig",
    "BigramLM",
    "CharRNN",
    "CharRNNConfig",
    "ContinuousAR",
    "ContinuousARConfig",
    "GaussianHead",
    "GaussianOutput",
    "LinearAR",
    "StudentTHead",
    "StudentTOutput",
    "forecast",
    "gaussian_nll",
    "student_t_nll",
    "GPT",
    "GPTConfig",
    "KVCache",
    "sinusoidal_positions",
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
    "CausalConv1d",
    "WaveNet",
    "WaveNetConfig",
    "WaveNetState",
    "generate_fast",
    "generate_naive",
    "input_gradient",
    "receptive_field",
]
