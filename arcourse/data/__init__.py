"""Data sets that work offline: generators with known answers, and data shipped in packages.

Nothing here downloads: text comes from the `names` package (US census name lists) or from
a path you give; synthetic sources come with their exact entropy so a model's loss can be
compared with the best achievable.
"""
from arcourse.data.download import TINY_SHAKESPEARE, RemoteFile, fetch, load_tiny_shakespeare
from arcourse.data.images import (
    ImageBatches,
    ImageData,
    load_digits,
    load_image_array,
    quantize,
    split_images,
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
    "CharTokenizer",
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
    "NameBatches",
    "pad_sequences",
    "quantize",
    "split_images",
    "split_dataset",
    "text_batches",
]
