"""Lecture 10's shipped checkpoints: small, plain dicts, and every model rebuilds from its config."""
from pathlib import Path

import pytest
import torch

import arcourse
from arcourse.models import GPT, CharRNN, CharRNNConfig, GatedPixelCNN, GatedPixelCNNConfig, GPTConfig, PixelCNN, \
    PixelCNNConfig, WaveNet, WaveNetConfig

KINDS = {"CharRNN": (CharRNN, CharRNNConfig), "WaveNet": (WaveNet, WaveNetConfig), "GPT": (GPT, GPTConfig),
         "PixelCNN": (PixelCNN, PixelCNNConfig), "GatedPixelCNN": (GatedPixelCNN, GatedPixelCNNConfig)}
DIR = Path(arcourse.__file__).parent / "checkpoints"


@pytest.mark.parametrize("name, expected", [
    ("lecture10_delay.pt", {"lstm d=4", "cnn d=4", "gpt d=4", "lstm d=40", "cnn d=40", "gpt d=40"}),
    ("lecture10_shapes.pt", {"plain", "gated", "gated_conditional"}),
])
def test_checkpoint_is_small_and_every_model_rebuilds(name, expected):
    path = DIR / name
    assert path.stat().st_size < 5e6
    saved = torch.load(path, weights_only=True)  # plain tensors and dicts only
    assert set(saved["models"]) == expected and "steps" in saved["recipe"]
    for entry in saved["models"].values():
        model_class, config_class = KINDS[entry["kind"]]
        model = model_class(config_class(**entry["config"]))
        model.load_state_dict(entry["state_dict"])
