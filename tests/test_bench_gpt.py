"""The names splits of bench/bench_gpt.py and its argument checks (the benchmark itself is not run)."""
import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpt", ROOT / "bench" / "bench_gpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def names_file(tmp_path):
    """2,500 lines of 2,000 distinct made-up names: 500 lines repeat an earlier name."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    distinct = [letters[i % 26] + letters[(i // 26) % 26] + letters[(i // 676) % 26] + "a" for i in range(2000)]
    path = tmp_path / "names.txt"
    path.write_text("\n".join(distinct + distinct[::4]) + "\n")
    return path


def test_makemore_split_keeps_every_line_once(bench, names_file):
    names, train, val, test = bench.names_split(names_file, "makemore", seed=0)
    assert (len(names), len(train), len(val), len(test)) == (2500, 500, 1000, 1000)
    assert Counter(train) + Counter(val) + Counter(test) == Counter(names)
    # makemore's split does not depend on our seed: its own seed (3407) fixes it
    assert bench.names_split(names_file, "makemore", seed=5)[3] == test


def test_distinct_split_keeps_test_names_out_of_training(bench, names_file):
    names, train, val, test = bench.names_split(names_file, "distinct", seed=0)
    assert len(names) == len(set(names)) == 2000
    assert (len(train), len(val), len(test)) == (1600, 200, 200)
    assert not set(test) & set(train) and not set(val) & set(train)


def test_bad_ema_decay_is_refused():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_gpt.py"), "--part", "names",
                             "--names-ema", "1.5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--names-ema must be in [0, 1)" in result.stderr
