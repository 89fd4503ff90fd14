"""Saving and loading trained models: one schema, one registry of kinds, no pickles.

A checkpoint file is a dict of plain tensors and Python values, so `torch.load(...,
weights_only=True)` reads it without running code:

    {"models": {name: {"kind": "GPT", "config": asdict(config), "state_dict": ..., "extras": {...}}},
     "extras": {...}}

`kind` names a model class in `KINDS`, which also knows its config class; "extras" hold
whatever the script that made the file recorded (steps, test figures, the tokenizer's
characters). A file with one model names it "model". Notebooks call `load_checkpoint`;
they never call `torch.load` themselves.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from arcourse.models import (
    GPT,
    BigramConfig,
    BigramLM,
    CharRNN,
    CharRNNConfig,
    ContinuousAR,
    ContinuousARConfig,
    GatedPixelCNN,
    GatedPixelCNNConfig,
    GPTConfig,
    PixelCNN,
    PixelCNNConfig,
    WaveNet,
    WaveNetConfig,
)

#: every model a checkpoint may hold: kind -> (model class, config class)
KINDS: dict[str, tuple[type[nn.Module], type]] = {
    "BigramLM": (BigramLM, BigramConfig),
    "CharRNN": (CharRNN, CharRNNConfig),
    "ContinuousAR": (ContinuousAR, ContinuousARConfig),
    "GPT": (GPT, GPTConfig),
    "GatedPixelCNN": (GatedPixelCNN, GatedPixelCNNConfig),
    "PixelCNN": (PixelCNN, PixelCNNConfig),
    "WaveNet": (WaveNet, WaveNetConfig),
}

#: where the course's shipped checkpoints live
SHIPPED = Path(str(resources.files("arcourse") / "checkpoints"))


@dataclass
class Checkpoint:
    """What `load_checkpoint` read: the models (on the CPU, in eval mode), each model's
    extras, and the file's extras."""

    models: dict[str, nn.Module]
    model_extras: dict[str, dict]
    extras: dict

    @property
    def model(self) -> nn.Module:
        """The model of a one-model checkpoint."""
        if len(self.models) != 1:
            raise ValueError(f"this checkpoint holds {len(self.models)} models, {sorted(self.models)}; "
                             "pick one from .models")
        return next(iter(self.models.values()))


def _kind_of(model: nn.Module) -> str:
    for kind, (model_class, _) in KINDS.items():
        if type(model) is model_class:
            return kind
    raise TypeError(f"save_checkpoint knows the kinds {sorted(KINDS)}, got a {type(model).__name__}")


def _entry(model: nn.Module, extras: Mapping | None) -> dict:
    return {"kind": _kind_of(model), "config": dataclasses.asdict(model.config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "extras": dict(extras or {})}


def save_checkpoint(path: str | Path, models: nn.Module | Mapping[str, nn.Module], *,
                    model_extras: Mapping[str, Mapping] | None = None, **extras) -> Path:
    """Write one model (or a dict of named models) and its extras in the schema above.

    Args:
        path: the .pt file to write (its folder is created).
        models: a model of a kind in KINDS, or {name: model}.
        model_extras: {name: extras} recorded next to each model (e.g. its best step).
        extras: recorded for the whole file (plain values, lists, dicts, tensors).
    Returns:
        the path written.
    """
    named = {"model": models} if isinstance(models, nn.Module) else dict(models)
    model_extras = dict(model_extras or {})
    unknown = set(model_extras) - set(named)
    if unknown:
        raise ValueError(f"model_extras names models that are not saved: {sorted(unknown)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"models": {name: _entry(m, model_extras.get(name)) for name, m in named.items()},
                "extras": extras}, path)
    return path


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix != ".pt":
        path = SHIPPED / f"{name_or_path}.pt"
    if not path.is_file():
        shipped = sorted(p.stem for p in SHIPPED.glob("*.pt"))
        raise FileNotFoundError(f"no checkpoint at {path}; the shipped ones are {shipped} (scripts/ makes them)")
    return path


def build_model(kind: str, config: Mapping) -> nn.Module:
    """A fresh model of `kind` from its config dict (as `asdict(config)` wrote it)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got kind={kind!r}")
    model_class, config_class = KINDS[kind]
    return model_class(config_class(**config))


def model_for(config) -> nn.Module:
    """A fresh model of the kind whose config class `config` is (a GPTConfig gives a GPT)."""
    for model_class, config_class in KINDS.values():
        if type(config) is config_class:
            return model_class(config)
    raise TypeError(f"model_for knows the configs {sorted(c.__name__ for _, c in KINDS.values())}, "
                    f"got a {type(config).__name__}")


def load_checkpoint(name_or_path: str | Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`.

    Args:
        name_or_path: the name of a shipped checkpoint ("gated_pixelcnn_digits"), or the
            path of a .pt file.
    Returns:
        a Checkpoint: `.model` (or `.models[name]`) on the CPU in eval mode, `.extras`.
    """
    path = _resolve(name_or_path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or "models" not in saved:
        raise ValueError(f"{path.name} is not an arcourse checkpoint (no 'models' entry); "
                         "write it with save_checkpoint")
    models, model_extras = {}, {}
    for name, entry in saved["models"].items():
        model = build_model(entry["kind"], entry["config"])
        model.load_state_dict(entry["state_dict"])
        models[name] = model.eval()
        model_extras[name] = entry.get("extras", {})
    return Checkpoint(models, model_extras, saved.get("extras", {}))
