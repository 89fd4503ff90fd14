"""The device helper and seeding."""
import random

import numpy as np
import pytest
import torch

from arcourse.device import get_device, make_generator, seed_everything


def test_environment_variable_overrides_the_choice(monkeypatch):
    monkeypatch.setenv("ARCOURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_default_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("ARCOURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected


def test_unavailable_or_unknown_devices_raise(monkeypatch):
    with pytest.raises(ValueError, match="torch device"):
        get_device("gpu-please")
    if not torch.cuda.is_available():
        monkeypatch.setenv("ARCOURSE_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device()


def test_seeding_repeats_every_generator():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    a = torch.rand(4, generator=make_generator(7))
    assert torch.equal(a, torch.rand(4, generator=make_generator(7)))


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)])
def test_bad_seeds_raise(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)
    with pytest.raises(error, match="seed"):
        make_generator(seed)
