"""The course's models, one readable file per family.

Each model's `forward` returns logits with the category axis last, so `arcourse.nll` and
`arcourse.train` serve all of them; sequence models also speak the `generate` protocol of
`arcourse.decoding` (`start`/`step` for fast incremental generation). Model files hold no
sampling, training or checkpoint code, and never import `arcourse.decoding`. Models of real-valued
series (`continuous.py`) return a per-step predictive distribution instead, with `.nll(targets)`.
The other families lecture 09 sets beside AR (`flows`, `vae`, `diffusion`) read real vectors and
return densities, bounds or noise, not logits; they are imported by module path, not from here.
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
    pixel_input_gradient,
    pixelcnn_mask,
)
from arcourse.models.wavenet import (
    CausalConv1d,
    WaveNet,
    WaveNetConfig,
    WaveNetState,
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
    "pixel_input_gradient",
    "pixelcnn_mask",
    "CausalConv1d",
    "WaveNet",
    "WaveNetConfig",
    "WaveNetState",
    "input_gradient",
    "receptive_field",
]
