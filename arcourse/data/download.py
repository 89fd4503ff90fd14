"""Optional: fetch a public text corpus once, check its SHA-256, and keep it in a cache.

Nothing in the course's tests or notebooks calls this with the network: they use data from
packages and generators. It is for students who want a bigger corpus on their own machine.
A file is accepted only if its SHA-256 matches the published one, so a changed or truncated
download is never used silently.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from arcourse.data.text import load_text

_CACHE_ENV = "ARCOURSE_DATA"


@dataclass(frozen=True)
class RemoteFile:
    """A file on the web with its expected SHA-256 and the name it is cached under."""

    url: str
    sha256: str
    filename: str


# karpathy/char-rnn at a fixed commit: the same bytes nanoGPT's shakespeare_char downloads
TINY_SHAKESPEARE = RemoteFile(
    url="https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
        "data/tinyshakespeare/input.txt",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    filename="tinyshakespeare.txt",
)


def default_cache_dir() -> Path:
    """$ARCOURSE_DATA if set, else ~/.cache/arcourse."""
    env = os.environ.get(_CACHE_ENV, "").strip()
    return Path(env) if env else Path.home() / ".cache" / "arcourse"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(remote: RemoteFile, cache_dir: str | Path | None = None, *, timeout: float = 60.0) -> Path:
    """The path of `remote` in the cache, downloading it first if it is not there yet.

    A cached file whose checksum does not match is downloaded again. The download goes to
    a temporary file that is moved into place only after its checksum matched.

    Args:
        remote: what to fetch (e.g. TINY_SHAKESPEARE).
        cache_dir: where to keep it (default: `default_cache_dir()`).
    Returns:
        the path of the verified file.
    Raises:
        ValueError: the downloaded bytes do not have the expected SHA-256.
    """
    if not isinstance(remote, RemoteFile):
        raise TypeError(f"remote must be a RemoteFile, got {type(remote).__name__}")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / remote.filename
    if target.is_file() and sha256_of(target) == remote.sha256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{remote.filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(remote.url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        got = sha256_of(tmp)
        if got != remote.sha256:
            raise ValueError(f"{remote.url} has SHA-256 {got}, expected {remote.sha256}; "
                             "the file changed or the download was cut short, so it was not kept")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_tiny_shakespeare(cache_dir: str | Path | None = None, *, path: str | Path | None = None) -> str:
    """The Tiny Shakespeare corpus (1,115,394 characters) as one string.

    Args:
        cache_dir: where the download is cached (see `fetch`); used when `path` is None.
        path: a copy you already have; it must match the published checksum.
    """
    if path is not None:
        got = sha256_of(path) if Path(path).is_file() else None
        if got is None:
            raise FileNotFoundError(f"no file at {path}")
        if got != TINY_SHAKESPEARE.sha256:
            raise ValueError(f"{path} has SHA-256 {got}, expected {TINY_SHAKESPEARE.sha256} (Tiny Shakespeare)")
        return load_text(path)
    return load_text(fetch(TINY_SHAKESPEARE, cache_dir))
