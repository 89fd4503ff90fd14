"""Character-level text: a tokenizer, the census names data set, and teacher-forcing batches.

Names are short sequences, each opened and closed by a boundary token (makemore's "."), so a
model learns where names start and end and the probability of a whole name is exact:
p("ann") = p(a | .) p(n | .a) p(n | .an) p(. | .ann).
"""
from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import torch

from arcourse.metrics import IGNORE_INDEX

_NAME_FILES = {"female": ["dist.female.first"], "male": ["dist.male.first"],
               "first": ["dist.female.first", "dist.male.first"], "last": ["dist.all.last"]}


class CharTokenizer:
    """Characters <-> integer ids, with an optional boundary token at id 0.

    Args:
        chars: the characters of the vocabulary (duplicates are dropped, order is sorted).
        boundary: the character that opens and closes a sequence (id 0), or None for plain
            streams of text.
    """

    def __init__(self, chars: Iterable[str], boundary: str | None = "."):
        symbols = sorted(set(chars))
        if any(len(c) != 1 for c in symbols):
            raise ValueError("chars must be single characters")
        if boundary is not None:
            if len(boundary) != 1:
                raise ValueError(f"boundary must be one character or None, got boundary={boundary!r}")
            if boundary in symbols:
                raise ValueError(f"boundary {boundary!r} also occurs in chars; pick a character the text never uses")
            symbols = [boundary] + symbols
        if not symbols:
            raise ValueError("chars is empty")
        self.boundary = boundary
        self.itos = symbols
        self.stoi = {c: i for i, c in enumerate(symbols)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], boundary: str | None = ".") -> "CharTokenizer":
        """A tokenizer whose vocabulary is every character in `texts`."""
        return cls("".join(texts), boundary=boundary)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def boundary_id(self) -> int:
        if self.boundary is None:
            raise ValueError("this tokenizer has no boundary token (boundary=None)")
        return 0

    def encode(self, text: str, *, add_boundary: bool = False) -> list[int]:
        """Ids of the characters of `text`; with add_boundary, wrapped in boundary tokens."""
        try:
            ids = [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(f"text contains {err.args[0]!r}, which is not in the vocabulary") from None
        return [self.boundary_id, *ids, self.boundary_id] if add_boundary else ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`, boundary tokens left out."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the vocabulary [0, {self.vocab_size})")
            if self.boundary is None or i != 0:
                out.append(self.itos[i])
        return "".join(out)

    def state_dict(self) -> dict:
        """Plain data for a checkpoint; `CharTokenizer.from_state_dict` rebuilds it."""
        boundary = self.boundary
        return {"chars": "".join(self.itos[1:] if boundary is not None else self.itos), "boundary": boundary}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharTokenizer":
        return cls(state["chars"], boundary=state["boundary"])


def load_names(kind: str = "first", path: str | Path | None = None) -> list[str]:
    """Names as lowercase strings, sorted and without duplicates.

    Args:
        kind: "first" (5,163 US census first names), "female", "male" or "last" (88,799
            surnames), read from the `names` package that pip installed, so nothing downloads.
        path: instead, a text file with one name per line (e.g. makemore's names.txt).
    """
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"no names file at {file}")
        lines = file.read_text(encoding="utf-8").split()
    else:
        if kind not in _NAME_FILES:
            raise ValueError(f"kind must be one of {sorted(_NAME_FILES)}, got kind={kind!r}")
        package = resources.files("names")
        lines = [line.split()[0] for name in _NAME_FILES[kind]
                 for line in (package / name).read_text().splitlines() if line.strip()]
    return sorted({line.strip().lower() for line in lines if line.strip()})


def load_text(path: str | Path) -> str:
    """The whole of a UTF-8 text file given by path (e.g. a corpus you downloaded)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no text file at {file}")
    return file.read_text(encoding="utf-8")


def split_dataset(items: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> list[list]:
    """Shuffle `items` with `seed` and cut them into parts of the given fractions.

    The same items and seed always give the same split, so test sets never leak into
    training between runs.
    """
    if not fractions or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be positive and sum to 1, got fractions={tuple(fractions)}")
    order = list(items)
    random.Random(seed).shuffle(order)
    bounds, acc = [], 0.0
    for f in fractions[:-1]:
        acc += f
        bounds.append(round(acc * len(order)))
    edges = [0, *bounds, len(order)]
    return [order[a:b] for a, b in zip(edges[:-1], edges[1:])]


def names_split(path: Path, protocol: str, seed: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(all names, train, validation, test) of makemore's names.txt under one of two protocols.

    "distinct": the 29,494 distinct names of its 32,033 lines, split 80/10/10, so no test
    name was seen in training. "makemore": makemore.py's own test set, reproduced exactly
    (torch.manual_seed(3407), then torch.randperm over the lines as they are, duplicates
    kept; the last 1,000 are the test set); validation is 1,000 more lines taken from
    makemore's training part, so we train on 1,000 fewer lines than makemore does and select
    weights on validation, where makemore keeps the weights with the best test loss. A test
    name can then also occur in the training set, which lowers the test loss.
    """
    if protocol not in ("distinct", "makemore"):
        raise ValueError(f"protocol must be 'distinct' or 'makemore', got protocol={protocol!r}")
    if protocol == "distinct":
        names = load_names(path=path)
        train_names, val_names, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=seed)
        return names, train_names, val_names, test_names
    names = [line.strip() for line in load_text(path).splitlines() if line.strip()]
    generator = torch.Generator().manual_seed(3407)  # = makemore's torch.manual_seed(3407) before randperm
    order = torch.randperm(len(names), generator=generator).tolist()
    rest, test_names = [names[i] for i in order[:-1000]], [names[i] for i in order[-1000:]]
    return names, rest[:-1000], rest[-1000:], test_names


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing pairs from boundary-wrapped sequences of different lengths.

    inputs[b, t] = seq[t], targets[b, t] = seq[t + 1]: the target is the input shifted by
    one. Short rows are padded: inputs with `pad_id`, targets with IGNORE_INDEX so padding
    never counts in the loss.

    Returns:
        inputs (B, T) and targets (B, T), int64, T = longest sequence minus one.
    """
    if not seqs:
        raise ValueError("seqs is empty")
    T = max(len(s) for s in seqs) - 1
    if T < 1:
        raise ValueError("every sequence needs at least two tokens (an input and a target)")
    inputs = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    targets = torch.full((len(seqs), T), IGNORE_INDEX, dtype=torch.long)
    for b, s in enumerate(seqs):
        s = torch.as_tensor(s, dtype=torch.long)
        inputs[b, : len(s) - 1] = s[:-1]
        targets[b, : len(s) - 1] = s[1:]
    return inputs, targets


class NameBatches:
    """Batches of boundary-wrapped names for teacher forcing, reshuffled every pass.

    Iterating gives (inputs (B, T), targets (B, T)) pairs covering every name once; each new
    pass uses a new order drawn from `seed`, so training runs repeat exactly. With
    shuffle=False the order is fixed (for evaluation).
    """

    def __init__(self, names: Sequence[str], tokenizer: CharTokenizer, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got batch_size={batch_size}")
        if not names:
            raise ValueError("names is empty")
        self.seqs = [tokenizer.encode(n, add_boundary=True) for n in names]
        self.pad_id = tokenizer.boundary_id
        self.batch_size, self.shuffle, self.seed, self.passes = batch_size, shuffle, seed, 0

    def __len__(self) -> int:
        return -(-len(self.seqs) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = list(range(len(self.seqs)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.passes).shuffle(order)
            self.passes += 1
        for start in range(0, len(order), self.batch_size):
            yield pad_sequences([self.seqs[i] for i in order[start:start + self.batch_size]], self.pad_id)


def text_batches(ids: torch.Tensor, context_len: int, batch_size: int, *, seed: int = 0
                 ) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """Random windows of a long token stream, nanoGPT style, for `train(batches=...)`.

    Args:
        ids: (N,) int64 token stream.
    Returns:
        a function giving (inputs (B, T), targets (B, T)) with targets shifted by one,
        B = batch_size, T = context_len; windows drawn with a private, seeded generator.
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.ndim != 1 or len(ids) <= context_len:
        raise ValueError(f"ids must be a 1-D stream longer than context_len={context_len}, got shape {tuple(ids.shape)}")
    if context_len < 1 or batch_size < 1:
        raise ValueError(f"context_len and batch_size must be >= 1, got {context_len} and {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(context_len + 1)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(len(ids) - context_len, (batch_size,), generator=gen)
        windows = ids[starts[:, None] + offsets]  # (B, T + 1)
        return windows[:, :-1], windows[:, 1:]

    return next_batch
