"""The shipped checkpoints the panels show, loaded as the lectures load them.

Each file stores `asdict(config)` and a `state_dict` (no pickled objects), so loading is
building the model from its config and copying the weights in. Models come back on the CPU
in eval mode; a notebook moves them where it likes.
"""
from __future__ import annotations

from importlib import resources

import torch

from arcourse.data import CharTokenizer
from arcourse.models import GPT, CharRNN, CharRNNConfig, GPTConfig, WaveNet, WaveNetConfig

_KINDS = {"CharRNNConfig": (CharRNNConfig, CharRNN), "WaveNetConfig": (WaveNetConfig, WaveNet),
          "GPTConfig": (GPTConfig, GPT)}


def _load(name: str) -> dict:
    path = resources.files("arcourse") / "checkpoints" / f"{name}.pt"
    return torch.load(path, map_location="cpu", weights_only=True)


def _build(kind: str, config: dict, state_dict: dict) -> torch.nn.Module:
    config_class, model_class = _KINDS[kind]
    model = model_class(config_class(**config))
    model.load_state_dict(state_dict)
    return model.eval()


def char_rnn_names() -> tuple[CharRNN, CharTokenizer]:
    """Lecture 07's LSTM on first names (decoding_char_rnn.pt) and its tokenizer."""
    saved = _load("decoding_char_rnn")
    return _build("CharRNNConfig", saved["config"], saved["state_dict"]), CharTokenizer.from_state_dict(saved["tokenizer"])


def lecture08_models() -> tuple[dict[str, torch.nn.Module], dict, CharTokenizer]:
    """Lecture 08's models of the name stream (lecture08_models.pt): {name: model}, the
    saved entries (config, best_step, validation_nll) and the tokenizer."""
    saved = _load("lecture08_models")
    models = {name: _build(e["kind"], e["config"], e["state_dict"]) for name, e in saved["models"].items()}
    entries = {name: {k: v for k, v in e.items() if k != "state_dict"} for name, e in saved["models"].items()}
    return models, entries, CharTokenizer.from_state_dict(saved["tokenizer"])


def wavenet_music() -> tuple[WaveNet, tuple[str, ...]]:
    """Lecture 05's WaveNet on synthetic music (wavenet_music.pt) and its instrument names."""
    saved = _load("wavenet_music")
    return _build("WaveNetConfig", saved["config"], saved["state_dict"]), tuple(saved["instruments"])
