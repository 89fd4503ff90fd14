"""Data sets that work offline: generators with known answers, and data shipped in packages.

Nothing here downloads: text comes from the `names` package (US census name lists) or from
a path you give, audio from a synthesiser or a WAV file you give (with µ-law, in `audio`); synthetic sources come with their exact entropy so a model's loss can be
compared with the best achievable.
The one exception is optional and never used by tests or notebooks: `fetch` and
`load_tiny_shakespeare` download a public corpus once and verify its SHA-256.
"""
from arcourse.data.binary import all_binary_strings, append_rule_bit, majority_bit, parity_bit
from arcourse.data.download import TINY_SHAKESPEARE, RemoteFile, fetch, load_tiny_shakespeare
from arcourse.data.series import GarchProcess, SeriesSample, series_batches
from arcourse.data.images import (
    ImageBatches,
    ImageData,
    load_digits,
    load_image_array,
    quantize_intensities,
    split_images,
)
from arcourse.data.audio import (
    INSTRUMENTS,
    SAMPLE_RATE,
    audio_batches,
    dequantize_signal,
    load_wav,
    melody,
    midi_to_frequency,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    mu_law_expand,
    quantize_signal,
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
    names_split,
    NameBatches,
    pad_sequences,
    split_dataset,
    text_batches,
)

__all__ = [
    "all_binary_strings",
    "append_rule_bit",
    "majority_bit",
    "parity_bit",
    "INSTRUMENTS",
    "SAMPLE_RATE",
    "audio_batches",
    "dequantize_signal",
    "load_wav",
    "melody",
    "midi_to_frequency",
    "mu_law_compress",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_expand",
    "quantize_signal",
    "resample",
    "save_wav",
    "synthetic_music",
    "tone",
    "CharTokenizer",
    "GarchProcess",
    "ImageBatches",
    "ImageData",
    "MarkovChain",
    "RemoteFile",
    "TINY_SHAKESPEARE",
    "fetch",
    "load_digits",
    "load_image_array",
    "load_tiny_shakespeare",
    "load_names",
    "load_text",
    "names_split",
    "NameBatches",
    "pad_sequences",
    "SeriesSample",
    "series_batches",
    "quantize_intensities",
    "split_images",
    "split_dataset",
    "text_batches",
]
