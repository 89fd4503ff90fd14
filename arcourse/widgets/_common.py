"""What every panel shares: the lazy ipywidgets import, figures rendered to PNG, the readout box.

A panel keeps its state in plain attributes and shows it through ipywidgets; this module
holds the few pieces all of them need, so no panel grows its own copy. (Argument checks,
the model's device and eval mode come from `arcourse._checks`, like everywhere else.)
"""
from __future__ import annotations

import html
import io
from types import ModuleType
from typing import Callable

from arcourse._extras import require


def import_widgets() -> ModuleType:
    """ipywidgets, imported when a panel is built (the rest of arcourse works without it), or
    an ImportError naming the extra that installs it."""
    return require("ipywidgets", "widgets", "the interactive panels")


def token_labels(tokenizer, ids=None) -> list[str]:
    """How a panel prints tokens `ids` (default: the whole vocabulary): characters, with the
    boundary token as ⏎."""
    ids = range(tokenizer.vocab_size) if ids is None else ids
    return ["⏎" if i == tokenizer.boundary_id else tokenizer.itos[i] for i in ids]


def figure(width: float, height: float):
    """A matplotlib Figure without pyplot: nothing global, nothing shown twice."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=80)


def png(fig) -> bytes:
    """The figure as PNG bytes, for an `ipywidgets.Image`."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def readout_box(widgets):
    """The HTML box a panel writes its one-line summary into (the browser tests read it)."""
    return widgets.HTML().add_class("arcourse-readout")


def show_readout(box, text: str) -> None:
    box.value = html.escape(text)


def observe_all(controls, callback: Callable) -> None:
    """Call `callback` whenever any control's value changes."""
    for control in controls:
        control.observe(callback, names="value")


def slider_style() -> dict:
    """Sliders update on release (one recomputation per move) and show their whole label."""
    return dict(continuous_update=False, style={"description_width": "initial"})
