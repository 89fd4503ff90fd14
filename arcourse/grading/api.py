"""What a check file uses: questions, points, and readable comparisons.

A check file `arcourse/grading/checks/test_exNN.py` holds one class per question:

    @question("entropy", "H(p) of a batch of distributions")
    class TestEntropy:
        @points(2)
        def test_matches_reference(self, student):
            got = student.entropy(p)          # runs the student's function
            check_close(got, reference(p), "entropy(p)", p=p)

`student.NAME(...)` calls the submission's top-level function NAME. The submission runs in
another, sandboxed process (see `sandbox.py`), so:

- Arguments travel pickled: pass data (tensors, arrays, numbers, strings, containers),
  torch modules from `arcourse`, generators, and functions importable from
  arcourse/torch/numpy (not lambdas, closures, or helpers defined in the check file). The
  student's code works on copies: to check what a function changed, have it return it.
- Results come back as data: tensors, arrays, numbers, strings, lists/tuples/dicts/sets of
  those. Anything else (an instance of the student's class, a model) stays in the student's
  process and arrives as a handle whose calls, attributes, items, `len` and iteration work
  (`stats = student.RunningStats(); stats.update(1.0); stats.mean()`); handles can be passed
  back as arguments. A tensor arrives detached (no autograd graph crosses processes).
- An exception in the student's code is raised in the check as a `StudentError` that also
  derives from the built-in type (`with pytest.raises(ValueError): student.f(bad)` works).
- Time: each question (class) has its own budget of student time, so a slow or endless
  question fails alone. Hypothesis runs derandomized (same examples every time), without
  a deadline, and reports the first failing example unshrunk.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch


TIERS = ("warm-up", "core", "stretch")


def question(name: str, description: str = "", *, tier: str | None = None, experiment: bool = False,
             seconds: float | None = None, write=()):
    """Mark a test class as one graded question (points add up per question).

    `tier` is where the question sits in its exercise: "warm-up" (the lecture's idea on
    one case), "core" (a variant the lecture did not show) or "stretch" (beyond it); the
    report prints it. `experiment` marks a question whose student code trains or measures
    something. `seconds` raises the question's budget of student time above the default
    (`Limits.question_seconds`) for such experiments; it never lowers it.
    `write` names the references the question asks the student to write themselves
    (`"torch.log_softmax"`, `"arcourse.metrics.entropy"`): they are unavailable while the
    student's code runs for this question, and calling one scores 0 (see `forbid.py`).
    """
    from arcourse.grading.forbid import validate

    if tier is not None and tier not in TIERS:
        raise ValueError(f"question {name!r}: tier must be one of {TIERS}, got {tier!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and 0 < seconds <= 240):
        raise ValueError(f"question {name!r}: seconds must be in (0, 240], got {seconds!r}")
    names = validate(write)

    def mark(cls):
        return pytest.mark.question(name=name, description=description, tier=tier, experiment=bool(experiment),
                                    seconds=seconds, write=names)(cls)
    return mark


def points(value: float, *, validation: bool = False):
    """The points a test is worth when it passes. `validation=True` marks a check of input
    validation (a clear error for bad arguments); an exercise keeps those to 10 % of its
    points (tests/test_exercise_design.py)."""
    if not value > 0:
        raise ValueError(f"points must be > 0, got {value!r}")
    return pytest.mark.points(value, validation=bool(validation))


def _short(value: Any, limit: int = 200) -> str:
    if isinstance(value, torch.Tensor):
        text = f"tensor{tuple(value.shape)} {value.detach().cpu().numpy()!r}"
    elif isinstance(value, np.ndarray):
        text = f"array{value.shape} {value!r}"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{what} should be a tensor or array, got {_short(value)}") from None


def check_close(got: Any, want: Any, what: str, *, atol: float = 1e-6, rtol: float = 1e-5, **inputs: Any) -> None:
    """Assert that got == want within tolerance, with a message naming the call, its
    inputs, and the expected vs. received values (shortened)."""
    context = "".join(f"\n  {k} = {_short(v)}" for k, v in inputs.items())
    got_t, want_t = _as_tensor(got, what), _as_tensor(want, "the reference")
    if tuple(got_t.shape) != tuple(want_t.shape):
        raise AssertionError(f"{what} returned shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}{context}")
    if not torch.allclose(got_t.double(), want_t.double(), atol=atol, rtol=rtol, equal_nan=True):
        raise AssertionError(f"{what} is wrong{context}\n  expected {_short(want_t)}\n  received {_short(got_t)}")
