"""The names splits of bench/bench_gpt.py and its argument checks (the benchmark itself is not run)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpt", ROOT / "bench" / "bench_gpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_ema_decay_is_refused():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_gpt.py"), "--part", "names",
                             "--names-ema", "1.5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--names-ema must be in [0, 1)" in result.stderr
