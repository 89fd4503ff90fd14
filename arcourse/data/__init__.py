"""Data sets that work offline: generators with known answers, and data shipped in packages.

Nothing here downloads: text comes from the `names` package (US census name lists) or from
a path you give; synthetic sources come with their exact entropy so a model's loss can be
compared with the best achievable.
"""
from arcourse.data.audio import (
    INSTRUMENTS,
    SAMPLE_RATE,
    audio_batches,
    load_wav,
    melody,
    midi_to_frequency,
    resample,
    save_wav,
    synthetic_music,
    tone,
)
from arcourse.data.synthetic import MarkovChain
from arcourse.data.text import (
    CharTokenizer,
    load_names,
    load_text,
    NameBatches,
    pad_sequences,
    split_dataset,
    text_batches,
)

__all__ = [
    "INSTRUMENTS",
    "SAMPLE_RATE",
    "audio_batches",
    "load_wav",
    "melody",
    "midi_to_frequency",
    "resample",
    "save_wav",
    "synthetic_music",
    "tone",
    "CharTokenizer",
    "MarkovChain",
    "load_names",
    "load_text",
    "NameBatches",
    "pad_sequences",
    "split_dataset",
    "text_batches",
]
