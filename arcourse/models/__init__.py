"""The course's models, one readable file per family.

Each model's `forward` returns logits with the category axis last, so `arcourse.nll` and
`arcourse.train` serve all of them; sequence models also speak the `generate` protocol of
`arcourse.decoding` (`start`/`step` for fast incremental generation).
"""

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
    "CausalConv1d",
    "WaveNet",
    "WaveNetConfig",
    "WaveNetState",
    "generate_fast",
    "generate_naive",
    "input_gradient",
    "receptive_field",
]
