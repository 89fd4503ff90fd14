"""Write it yourself: the references a question asks the student to write are unavailable
while the student's code runs for that question.

A check file declares them on the question:

    @question("log_softmax", "a stable log-softmax", write=("torch.log_softmax", "torch.Tensor.log_softmax"))

Each name is a dotted path to a function or class (`torch.nn.functional.log_softmax`,
`torch.Tensor.log_softmax` for the method, `arcourse.metrics.entropy`). While a request of
that question runs in the student's process (`_child.Server.handle`), `blocking` replaces the
object under that name, under every other name of the `arcourse` and `torch` modules that
holds the same object (re-exports such as `arcourse.entropy`), and in the submission's own
globals (`from torch import log_softmax as ls`) with a stub that raises `WriteItYourselfError`;
everything is put back when the request ends. The checks run in the grader's process and
keep full access. A question in which the student's code reached a stub scores 0
(`zero_delegated`), so delegating cannot earn the points of a check that happens not to
reach the stub (input validation, say); honest partial work keeps its exact score.

This stops a submission that calls the reference, not one that goes out of its way to find
another copy of it (that is what the similarity report and a person are for).
"""
from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Iterable, Iterator

STATUS = "delegated"              # TestResult.status of a check that reached a stub
ERROR = "WriteItYourselfError"
_SCANNED = ("arcourse", "torch")  # module families whose re-exports are blocked too


class WriteItYourselfError(RuntimeError):
    """Raised by a blocked reference."""


def validate(names: Iterable[str]) -> tuple[str, ...]:
    """The declared names as a tuple; TypeError/ValueError for anything but dotted names."""
    if isinstance(names, str):
        raise TypeError(f"write= takes a list of dotted names, got the string {names!r}")
    out = tuple(names)
    for name in out:
        if not isinstance(name, str) or "." not in name or not all(p.isidentifier() for p in name.split(".")):
            raise ValueError(f"write= needs dotted names such as 'torch.log_softmax', got {name!r}")
    return out


def resolve(name: str):
    """(owner, attribute, object) for a dotted name: the longest importable module prefix,
    then attributes (so `torch.Tensor.log_softmax` is the attribute of the class)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
        owner = module
        try:
            for part in parts[cut:-1]:
                owner = getattr(owner, part)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            continue
    raise LookupError(f"{name} does not name a function or class")


def _stub(name: str):
    short = name.rsplit(".", 1)[-1]
    message = (f"this question asks you to write {short} yourself; {name} is not available here "
               "(write it with the operations the exercise allows)")

    def blocked(*args, **kwargs):
        raise WriteItYourselfError(message)

    blocked.__name__ = blocked.__qualname__ = short
    blocked.__doc__ = message
    return blocked


_aliases: dict[str, list[tuple[object, str]]] = {}   # name -> every (owner, attribute) holding it


def _look_up(names: Iterable[str]) -> None:
    """Find every place the references `names` can be reached from in the arcourse and
    torch modules, in one scan of those modules; done once per process per name."""
    targets: dict[int, list[str]] = {}
    for name in names:
        try:
            owner, attribute, target = resolve(name)
        except LookupError:
            _aliases[name] = []      # a reference this torch or arcourse lacks cannot be called
            continue
        _aliases[name] = [(owner, attribute)]
        targets.setdefault(id(target), []).append(name)
    if not targets:
        return
    for module_name, other in list(sys.modules.items()):
        if other is None or module_name.split(".")[0] not in _SCANNED:
            continue
        try:
            items = list(vars(other).items())
        except TypeError:
            continue
        for key, value in items:
            for name in targets.get(id(value), ()):
                if (other, key) != _aliases[name][0]:
                    _aliases[name].append((other, key))


@contextlib.contextmanager
def blocking(names: Iterable[str], module=None) -> Iterator[None]:
    """Replace each declared reference by a stub for the duration of the block (see the
    module docstring); `module` is the submission's module, whose globals are patched too."""
    saved: list[tuple[object, str, object, bool]] = []   # owner, attribute, value, was in its __dict__

    def patch(owner, attribute, stub):
        present = attribute in getattr(owner, "__dict__", {})
        value = owner.__dict__[attribute] if present else None
        try:
            setattr(owner, attribute, stub)
        except (AttributeError, TypeError):
            return
        saved.append((owner, attribute, value, present))

    try:
        _look_up([name for name in names if name not in _aliases])  # all looked up before any is patched
        found = [(name, _aliases[name]) for name in names]
        targets = [getattr(*places[0]) for _, places in found if places]
        for (name, places), target in zip([f for f in found if f[1]], targets):
            stub = _stub(name)
            for owner, attribute in places:
                patch(owner, attribute, stub)
            if module is not None:
                for key, value in list(module.__dict__.items()):
                    if value is target:
                        patch(module, key, stub)
        yield
    finally:
        for owner, attribute, value, present in reversed(saved):
            if present:
                setattr(owner, attribute, value)
            else:
                delattr(owner, attribute)


def declared(node) -> tuple[str, ...]:
    """The `write=` names of the question marker on a pytest node (empty when none)."""
    marker = node.get_closest_marker("question")
    return tuple(marker.kwargs.get("write", ())) if marker is not None else ()


def zero_delegated(tests: list) -> None:
    """Give 0 for every check of a question in which any check reached a blocked reference."""
    delegated = {t.question for t in tests if t.status == STATUS}
    for t in tests:
        if t.question in delegated and t.score:
            t.score = 0.0
            t.status = "failed" if t.status == "passed" else t.status
            t.message = (t.message + "\n" if t.message else "") + (
                "0 for the whole question: your code called a reference this question asks you to write")
