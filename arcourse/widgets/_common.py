"""What every panel shares: argument checks, figures rendered to PNG, the readout box.

A panel keeps its state in plain attributes and shows it through ipywidgets; this module
holds the few pieces all of them need, so no panel grows its own copy.
"""
from __future__ import annotations

import html
import io
import math
from typing import Callable


def check_int(who: str, name: str, value, low: int, high: int | None = None) -> None:
    """ValueError unless `value` is an int in [low, high] (TypeError for a non-int)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{who} needs an int {name}, got {name}={value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{who} needs {name} {bounds}, got {name}={value!r}")


def check_positive(who: str, name: str, value) -> None:
    """ValueError unless `value` is a finite number > 0 (TypeError for a non-number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{who} needs a number {name}, got {name}={value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{who} needs a finite {name} > 0, got {name}={value!r}")


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
