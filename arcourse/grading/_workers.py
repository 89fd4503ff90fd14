"""Where a batch's worker processes come from: a fork server that has imported the grader
(pytest, hypothesis, torch) but never run torch, so each worker starts warm and safe to fork.

Starting the server takes seconds of imports on one core; `start_early` lets them run
beside the caller's own (the command line starts it before importing the grader).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

_PRELOAD = ["arcourse.grading.runner", "hypothesis"]


def context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context of the workers (the server imports `_PRELOAD`)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def start_early() -> multiprocessing.context.ForkServerContext:
    """Start the fork server now, without waiting for its imports; the workers' context."""
    ctx = context()
    multiprocessing.forkserver.ensure_running()
    return ctx
