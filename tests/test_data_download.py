"""The optional corpus downloader, exercised on a local file (file:// URL): no network."""
import hashlib
from pathlib import Path

import pytest

from arcourse.data import TINY_SHAKESPEARE, RemoteFile, fetch, load_tiny_shakespeare
from arcourse.data import download
from arcourse.data.download import default_cache_dir, sha256_of

TEXT = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture
def remote(tmp_path):
    source = tmp_path / "source" / "input.txt"
    source.parent.mkdir()
    source.write_bytes(TEXT)
    return RemoteFile(source.as_uri(), hashlib.sha256(TEXT).hexdigest(), "corpus.txt")


def test_fetch_verifies_and_caches(remote, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    path = fetch(remote, cache)
    assert path == cache / "corpus.txt" and path.read_bytes() == TEXT
    assert sha256_of(path) == remote.sha256

    def no_network(*args, **kwargs):
        raise AssertionError("a cache hit must not download")

    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)
    assert fetch(remote, cache) == path


def test_bad_checksum_raises_and_keeps_nothing(remote, tmp_path):
    cache = tmp_path / "cache"
    wrong = RemoteFile(remote.url, "0" * 64, remote.filename)
    with pytest.raises(ValueError, match="SHA-256"):
        fetch(wrong, cache)
    assert list(cache.iterdir()) == []  # neither the file nor a partial download


def test_corrupted_cache_is_downloaded_again(remote, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "corpus.txt").write_bytes(b"truncated")
    assert fetch(remote, cache).read_bytes() == TEXT


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCOURSE_DATA", str(tmp_path))
    assert default_cache_dir() == tmp_path


def test_tiny_shakespeare_from_a_local_copy(tmp_path):
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(TEXT)
    with pytest.raises(ValueError, match="SHA-256"):
        load_tiny_shakespeare(path=wrong)
    with pytest.raises(FileNotFoundError):
        load_tiny_shakespeare(path=tmp_path / "missing.txt")


def test_tiny_shakespeare_shared_copy():
    shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tinyshakespeare.txt"
    if not shared.is_file():
        pytest.skip(f"optional: no shared copy of Tiny Shakespeare at {shared}")
    text = load_tiny_shakespeare(path=shared)
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")
    assert TINY_SHAKESPEARE.sha256 == sha256_of(shared)
