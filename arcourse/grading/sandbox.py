"""Running a submission in its own sandbox, and calling into it from the checks.

The checks run in the grader's process and keep every expected value there. The student's
definitions run in a child process inside an operating-system sandbox (`_isolation.py`:
bubblewrap namespaces, a seccomp filter, resource limits, an unprivileged uid; `_child.py`
for what the child does before student code), and the `student` object the checks receive
is a proxy: `student.softmax(x)` sends the call over a pipe and returns the result decoded
with `codec.py` (never unpickled). Objects that are not data (an instance of the student's
class, a function) stay in the child and come back as `RemoteObject` handles whose calls,
attributes, items, length and iteration are requests too. Everything the child sends is
untrusted: sizes, time and text (`clean_text`) are bounded or cleaned here.

Time: each question has its own budget of student time and the whole submission a wall-clock
budget. A call that runs past either is stopped by killing the child, the test fails with a
clear message, and the next call starts a fresh child (a fork of the submission's warm
zygote, so a restart costs milliseconds). A child that exits or crashes is restarted the
same way, and a zygote (a sandbox) that dies is replaced by a new one.
"""
from __future__ import annotations

import atexit
import builtins
import io
import os
import pickle
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arcourse.grading import _isolation, codec
from arcourse.grading._child import recv_message, send_message
from arcourse.grading.submission import Submission

_BOOT = "import sys; sys.path.insert(0, sys.argv[2]); from arcourse.grading._child import main; main()"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]    # the folder that holds `arcourse/`
_font_list: str | None = None     # matplotlib's font list handed to every zygote (see `font_list`)


@dataclass(frozen=True)
class Limits:
    """What a submission may use. Times are seconds, sizes megabytes."""
    question_seconds: float = 20.0     # student time per question (all its tests together)
    submission_seconds: float = 300.0  # wall clock for the whole submission, loading included
    memory_mb: int = 2048              # memory the student's code may allocate on top of the imports
    result_mb: int = 64                # largest result one call may return
    file_mb: int = 64                  # largest file the student's code may write
    folder_mb: int = 256               # the sandbox's writable folder (a tmpfs), all files together
    threads: int = 1                   # torch threads in the student's process
    audit_hook: bool = True            # the Python audit hook inside (clear messages, defence in depth);
                                       # False tests the operating system's containment alone

    def __post_init__(self):
        for name in ("question_seconds", "submission_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits needs {name} > 0, got {name}={getattr(self, name)!r}")
        for name in ("memory_mb", "result_mb", "file_mb", "folder_mb", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits needs an integer {name} >= 1, got {name}={value!r}")


class StudentError(Exception):
    """The student's code failed: raised in the checks where they called it.

    Attributes: `call` (what was called, with its inputs), `kind` (the exception's type name
    in the student's process), `message`, `where` (lines of the student's code on the way).
    For common built-in exceptions the class also derives from that built-in, so a check can
    write `pytest.raises(ValueError)` around a call that must reject bad input.
    """

    def __init__(self, message: str, *, call: str = "", kind: str = "", where: tuple[str, ...] = ()):
        super().__init__(message)
        self.message, self.call, self.kind, self.where = message, call, kind, tuple(where)

    def __str__(self) -> str:
        head = f"{self.call} raised {self.kind}: {self.message}" if self.call and self.kind else self.message
        return "\n".join([head, *(f"  at {w}" for w in self.where)])


class StudentTimeout(StudentError):
    """The student's code ran past its time limit and was stopped."""


class StudentCrash(StudentError):
    """The student's process ended (exit, crash, memory) or broke the protocol."""


class GraderError(RuntimeError):
    """The grader itself could not work (not the student's fault)."""


_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?"
                      r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """`text` without terminal escapes and control characters (newlines and tabs stay), so
    what a student's code printed cannot redraw a report or a terminal."""
    return _CONTROL.sub("", text)


_MIRRORED = ("ValueError", "TypeError", "IndexError", "KeyError", "AttributeError", "NotImplementedError",
             "RuntimeError", "ZeroDivisionError", "ArithmeticError", "OverflowError", "AssertionError",
             "MemoryError", "RecursionError", "LookupError", "FloatingPointError", "NameError",
             "UnboundLocalError")
_exception_classes: dict[str, type] = {}


def _student_exception(kind: str, builtin: bool) -> type:
    """StudentError, also deriving from the built-in exception of that name when there is one."""
    if not builtin or kind not in _MIRRORED:
        return StudentError
    if kind not in _exception_classes:
        _exception_classes[kind] = type(f"Student{kind}", (StudentError, getattr(builtins, kind)),
                                        {"__module__": __name__})
    return _exception_classes[kind]


# --------------------------------------------------------------------------- the zygote

_REPLY_SECONDS = 30.0        # a zygote that takes longer to answer a spawn or reap is stopped


def _boot(sock_fd: int, fonts: int, *extra: str) -> list[str]:
    """The command line of a sandbox's first process (a zygote, or with "template" a template)."""
    return [sys.executable, "-I", "-c", _BOOT, str(sock_fd), str(_PACKAGE_ROOT), str(fonts),
            os.path.basename(_font_list or ""), *extra]


def _open_font_list() -> int:
    return os.open(_font_list, os.O_RDONLY | os.O_CLOEXEC) if _font_list else -1


class _Template:
    """The warm process of one batch worker's bubblewrap sandbox (`_nest.py`): it imports
    once and forks every submission's sandbox, each with namespaces of its own, so that a
    submission skips the seconds of imports. Its own output goes to a file the grader holds."""

    def __init__(self, hidden: tuple[str, ...]):
        self.hidden = hidden
        self.folder = Path(tempfile.mkdtemp(prefix="arcourse-template-"))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fonts = _open_font_list()
        with open(self.folder / "output.txt", "wb") as log, _isolation.Launch(8, hidden, nest=True) as launch:
            self.process = subprocess.Popen(launch.command(_boot(theirs.fileno(), fonts, "template")),
                                            pass_fds=[theirs.fileno(), *launch.fds, *([fonts] if fonts >= 0 else [])],
                                            env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, start_new_session=True, **launch.popen_user())
        theirs.close()
        if fonts >= 0:
            os.close(fonts)
        self.sock = ours
        self.sock.settimeout(300)
        self.ready: dict | None = None

    def wait(self) -> dict:
        """Its ready message (blocks while it imports): "nested" says whether it can fork sandboxes."""
        if self.ready is None:
            try:
                ready, _ = recv_message(self.sock)
            except (OSError, ValueError):
                ready = None
            if type(ready) is not dict or ready.get("ready") is not True:
                tail = (self.folder / "output.txt").read_text(errors="replace")[-2000:]
                raise GraderError(f"the sandbox template did not start: {clean_text(tail).strip() or '(no output)'}")
            self.ready = ready
            self.sock.settimeout(_REPLY_SECONDS)
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, folder_mb: int, zygote_sock: socket.socket, log_fd: int) -> int:
        """A new submission sandbox whose zygote talks on `zygote_sock`; the keeper's pid."""
        try:
            send_message(self.sock, {"op": "sandbox", "folder": _isolation.WORKDIR, "folder_mb": folder_mb},
                         [zygote_sock.fileno(), log_fd])
            reply = recv_message(self.sock)[0]
        except (OSError, ValueError) as err:
            self.close()
            raise GraderError(f"the sandbox template stopped answering ({err})") from None
        if type(reply) is not dict or type(reply.get("pid")) is not int:
            raise GraderError(f"could not start a sandbox: {clean_text(str(reply))[:300]}")
        return reply["pid"]

    def end(self, keeper: int, grace: float) -> None:
        """Stop a submission's sandbox (its keeper, and with it everything in it)."""
        try:
            send_message(self.sock, {"op": "end", "pid": keeper, "grace": grace})
            recv_message(self.sock)
        except (OSError, ValueError):
            self.close()

    def close(self) -> None:
        self.sock.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_templates: dict[tuple[str, ...], _Template] = {}     # this process's, by the folders they hide
_templates_owner = 0
NESTED = True      # fork bwrap sandboxes from a template where the kernel allows (False: one bwrap each)
_MAX_TEMPLATES = 2      # a process that grades with other hidden folders (tests, several courses) keeps two


def _template(hidden: tuple[str, ...]) -> _Template | None:
    """This process's template for `hidden`, started if needed; None where it cannot nest."""
    global _templates_owner
    if not NESTED or _isolation.mode() != "bwrap":
        return None
    if _templates_owner != os.getpid():        # a forked worker: its parent's templates are not its own
        _templates.clear()
        _templates_owner = os.getpid()
    template = _templates.pop(hidden, None)
    if template is not None and not template.alive():
        template.close()
        template = None
    if template is None:
        while len(_templates) >= _MAX_TEMPLATES:      # the least recently used goes (a few hundred MB each)
            _templates.pop(next(iter(_templates))).close()
        template = _Template(hidden)
    _templates[hidden] = template                     # now the most recently used
    return template


@atexit.register
def _stop_templates() -> None:
    if _templates_owner == os.getpid():
        for template in _templates.values():
            template.close()
        _templates.clear()


class _Zygote:
    """A warm process (numpy, torch, arcourse imported) that forks the children of ONE
    submission; with `bwrap` isolation it lives inside that submission's sandbox, so nothing
    is shared between students: forked by this worker's template with namespaces of its own
    (`_nest.py`), or, where the kernel refuses nested namespaces, a bubblewrap sandbox of its
    own. Its stdout and stderr, and its children's, go to `log`, a file the grader holds."""

    def __init__(self, tmp_mb: int, hidden: tuple[str, ...] = ()):
        if not hasattr(os, "fork"):
            raise GraderError("the grader's sandbox needs Linux or macOS (on Windows, use WSL)")
        self.mode = _isolation.mode()
        self.key = (self.mode, tmp_mb, hidden)
        self.tmp_mb, self.hidden = tmp_mb, hidden
        self.process: subprocess.Popen | None = None
        self.keeper = 0              # with a template: the pid (in its namespace) of the sandbox's keeper
        self.folder = Path(tempfile.mkdtemp(prefix="arcourse-sandbox-"))
        self.log = self.folder / "output.txt"
        self.log.touch()
        self.ready = False           # its imports run while the grader goes on (see `wait`)
        self.filtered = False        # whether its children run under the seccomp filter
        self.spawned = 0             # children started so far
        self.namespaces: dict = {}   # its namespaces, as a nested zygote reports them (`_nest.namespaces`)
        self.template: _Template | None = _template(hidden)
        self.sock: socket.socket | None = None
        if self.template is None:
            self._start_alone()
        elif self.template.ready is not None:
            self._start_nested()        # a warm template: the sandbox is set up while the grader goes on
        if self.mode == "bwrap":
            self.workdir = _isolation.WORKDIR

    def _start_alone(self) -> None:
        """Start the zygote as a process of its own (in its own bubblewrap sandbox with `bwrap`)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fonts = _open_font_list()
        boot = _boot(theirs.fileno(), fonts)
        extra_fds = [fonts] if fonts >= 0 else []
        with open(self.log, "wb") as log:
            common = dict(stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            if self.mode == "bwrap":
                with _isolation.Launch(self.tmp_mb, self.hidden) as launch:
                    self.process = subprocess.Popen(launch.command(boot), pass_fds=[theirs.fileno(), *launch.fds,
                                                                                    *extra_fds],
                                                    env={"PATH": "/usr/bin:/bin"}, **common, **launch.popen_user())
            else:
                work = self.folder / "work"
                work.mkdir()
                if self.mode == "uid":       # the child runs as uid 65534: its folder, nothing else
                    os.chown(work, _isolation.NOBODY, _isolation.NOBODY)
                    self.folder.chmod(0o711)
                self.workdir = str(work)
                env = {"PATH": "/usr/bin:/bin", "HOME": self.workdir, "TMPDIR": self.workdir, "LANG": "C.UTF-8",
                       "MPLBACKEND": "Agg", "MPLCONFIGDIR": self.workdir, "CUDA_VISIBLE_DEVICES": "",
                       "PYTHONDONTWRITEBYTECODE": "1", "OBJC_DISABLE_INITIALIZE_FORK_SAFETY": "YES"}
                self.process = subprocess.Popen(boot, pass_fds=[theirs.fileno(), *extra_fds], env=env, cwd=work,
                                                **common)
        theirs.close()
        for fd in extra_fds:
            os.close(fd)
        self.sock = ours
        self.sock.settimeout(300)

    def _start_nested(self) -> None:
        """Ask the template for this submission's sandbox, or start alone where it cannot nest."""
        if not self.template.wait().get("nested"):
            self.template = None
            self._start_alone()
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            self.keeper = self.template.fork(self.tmp_mb, theirs, log)
        finally:
            theirs.close()
            os.close(log)
        self.sock = ours
        self.sock.settimeout(300)

    def wait(self) -> None:
        """Block until the zygote has imported what it preloads."""
        if self.ready:
            return
        if self.sock is None:
            self._start_nested()
        try:
            ready, _ = recv_message(self.sock)
        except (OSError, ValueError):
            ready = None
        if type(ready) is not dict or ready.get("ready") is not True:
            raise GraderError(f"the sandbox process did not start: {self._log_tail()}")
        self.ready, self.filtered = True, ready.get("seccomp") is True
        self.namespaces = ready.get("namespaces") or {}
        self.sock.settimeout(_REPLY_SECONDS)

    def _log_tail(self) -> str:
        try:
            return clean_text(self.log.read_text(errors="replace")[-2000:]).strip() or "(no output)"
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if self.template is None or not self.template.alive():
            return False
        if self.sock is None:
            return True        # not asked for yet: the template will fork it
        events = select.poll()
        events.register(self.sock, select.POLLIN)
        if not events.poll(0):
            return True
        try:       # readable while no request is out: the zygote has gone (end of stream)
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def spawn(self, config: dict) -> tuple[int, int, int]:
        """A new child: (pid, fd to write requests, fd to read results)."""
        self.wait()
        try:
            send_message(self.sock, {"op": "spawn", "config": config})
            reply, fds = recv_message(self.sock, max_fds=2)
        except (OSError, ValueError) as err:
            raise GraderError(f"the sandbox process stopped answering ({err}): {self._log_tail()}") from None
        if type(reply) is not dict or type(reply.get("pid")) is not int or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise GraderError("could not start a process for the submission: "
                              f"{clean_text(str(reply.get('error') if type(reply) is dict else reply))[:300]}")
        self.spawned += 1
        return reply["pid"], fds[0], fds[1]

    def reap(self, pid: int, grace: float) -> int | None:
        """Stop child `pid` if it still runs after `grace` s; its exit code, minus its signal,
        or None when it had to be killed (or the zygote did not answer, which ends it)."""
        try:
            send_message(self.sock, {"op": "reap", "pid": pid, "grace": grace})
            status = recv_message(self.sock)[0]["status"]
            return status if type(status) is int else None
        except (OSError, ValueError, TypeError, KeyError):
            self.kill()
            return None

    def kill(self) -> None:
        if self.keeper:
            self.template.end(self.keeper, 0.0)
            self.keeper, self.template = 0, None      # gone: `alive` says so at once
        elif self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        """End the zygote and its children (closing its socket makes it leave), and remove
        its folder."""
        if self.sock is not None:
            self.sock.close()
        if self.keeper:
            self.template.end(self.keeper, 2.0)
            self.keeper = 0
        if self.process is not None:
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill()
        for path in [self.folder, *self.folder.rglob("*")]:      # the student may have removed permissions
            try:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o700)
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


_spare: _Zygote | None = None     # a zygote started ahead for the next submission
_spare_owner = 0
_keep_warm = False


def prestart(tmp_mb: int | None = None, hidden=()) -> None:
    """Start the next submission's zygote now, so that its imports overlap with other work."""
    global _spare, _spare_owner
    key = (_isolation.mode(), tmp_mb or Limits().folder_mb, tuple(hidden))
    if _spare is not None and _spare_owner == os.getpid():
        if _spare.key == key and _spare.alive():
            return
        _spare.close()
    _spare, _spare_owner = _Zygote(key[1], key[2]), os.getpid()


def keep_warm(fonts: str | None = None) -> None:
    """From now on, always keep a zygote started ahead (the workers of a batch), and hand
    each one the font list `fonts` (from `font_list`), if given. A batch worker leaves
    without running `atexit`: its sandboxes, template and folders are removed at its exit
    through multiprocessing's own finaliser instead."""
    global _keep_warm, _font_list
    from multiprocessing import util

    _keep_warm = True
    _font_list = fonts or _font_list
    util.Finalize(None, _leave_worker, exitpriority=10)


def _leave_worker() -> None:
    _stop_spare()
    _stop_templates()
    _isolation.remove_empty_folder()


def stop_warming() -> None:
    """Start no more zygotes ahead (a batch worker near the batch's end); one already started
    still serves the next submission."""
    global _keep_warm
    _keep_warm = False


def font_list() -> str | None:
    """Matplotlib's font list (`fontlist-vX.json`), built once by a trusted process of this
    grader in a private folder: each sandbox starts with a copy, so importing pyplot there
    does not scan the fonts again (0.7 s of CPU per submission). None without matplotlib."""
    global _font_list
    if _font_list is None:
        folder = tempfile.mkdtemp(prefix="arcourse-fonts-")
        atexit.register(shutil.rmtree, folder, True)
        try:
            subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], timeout=120, check=True,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env={"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": folder, "MPLBACKEND": "Agg", "HOME": folder})
        except (OSError, subprocess.SubprocessError):
            return None
        built = sorted(Path(folder).glob("fontlist-v*.json"))
        _font_list = str(built[0]) if built else None
    return _font_list


def _take_zygote(tmp_mb: int, hidden: tuple[str, ...]) -> _Zygote:
    """A fresh zygote for one submission: the one started ahead when it fits, else a new one."""
    global _spare
    spare = _spare if _spare_owner == os.getpid() else None
    _spare = None
    if spare is not None and (spare.key != (_isolation.mode(), tmp_mb, hidden) or not spare.alive()):
        spare.close()
        spare = None
    zygote = spare or _Zygote(tmp_mb, hidden)
    if _keep_warm:
        prestart(tmp_mb, hidden)
    return zygote


@atexit.register
def _stop_spare() -> None:
    global _spare
    if _spare is not None and _spare_owner == os.getpid():
        _spare.close()
        _spare = None


# --------------------------------------------------------------------------- proxies

class Budget:
    """Seconds of student time left for one question."""

    def __init__(self, label: str, seconds: float):
        self.label, self.seconds, self.left = label, seconds, seconds
        self.blocked: tuple[str, ...] = ()     # references the question asks the student to write (forbid.py)


class _ModuleRef:
    """Stands for the student's module in a request."""


_MODULE = _ModuleRef()


class RemoteObject:
    """An object that lives in the student's process (a function, a model, an instance)."""

    def __init__(self, box: "Sandbox", generation: int, number: int, name: str, is_callable: bool, budget: Budget):
        self._box, self._generation, self._number = box, generation, number
        self._name, self._callable, self._budget = name, is_callable, budget

    def __call__(self, *args, **kwargs):
        if not self._callable:
            raise TypeError(f"the student's {self._name} object is not callable")
        return self._box.request("call", self, args, kwargs, budget=self._budget, what=self._name,
                                 inputs=(args, kwargs))

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._box.request("getattr", self, name, budget=self._budget, what=f"{self._name}.{name}")

    def __getitem__(self, key):
        return self._box.request("getitem", self, key, budget=self._budget, what=f"{self._name}[{key!r:.40}]")

    def __len__(self) -> int:
        value = self._box.request("len", self, budget=self._budget, what=f"len({self._name})")
        if type(value) is not int or value < 0:
            raise StudentError(f"len() of the student's {self._name} gave {value!r:.60}, not a length")
        return value

    def __iter__(self):
        return iter(self._box.request("iter", self, budget=self._budget, what=f"list({self._name})"))

    def __repr__(self) -> str:
        return f"<student's {self._name}>"


class StudentProxy:
    """The `student` fixture: `student.NAME` is the submission's top-level NAME."""

    def __init__(self, box: "Sandbox", budget: Budget):
        self._box, self._budget = box, budget

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._box.module_attribute(name, self._budget)

    def __repr__(self) -> str:
        return "student"


def _short_call(name: str, inputs: tuple | None) -> str:
    if inputs is None:
        return name
    from arcourse.grading.api import _short

    args, kwargs = inputs
    parts = [_short(a, 80) for a in args] + [f"{k}={_short(v, 80)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return f"{name}({text if len(text) <= 300 else text[:297] + '...'})"


class _ArgumentPickler(pickle.Pickler):
    def __init__(self, file, box: "Sandbox"):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.box = box

    def persistent_id(self, obj):
        if obj is _MODULE or isinstance(obj, StudentProxy):
            return (self.box.generation, None)
        if isinstance(obj, RemoteObject):
            if obj._box is not self.box or obj._generation != self.box.generation:
                raise StudentError(f"{obj!r} was made by an earlier run of the student's code, which was stopped")
            return (obj._generation, obj._number)
        return None


# --------------------------------------------------------------------------- the sandbox

class Sandbox:
    """One submission's process: started by `start()`, called through `request()`.

    The submission gets its own zygote (inside its own bubblewrap sandbox where the machine
    allows, see `_isolation.py`); a child that is stopped or crashes is forked again from
    it, and a zygote that dies (the student's code may kill it) is replaced by a new one.
    """

    _MAX_ZYGOTES = 4           # sandboxes one submission may use up before it counts as broken

    def __init__(self, submission: Submission, limits: Limits, forbidden: list[Path]):
        self.submission, self.limits = submission, limits
        self.forbidden = [str(p) for p in forbidden]
        self.generation = 0
        self.child: tuple[int, int, int] | None = None   # pid, request fd, result fd
        self.zygote: _Zygote | None = None                # this submission's, started at the first call
        self.zygotes = 0
        self.started: float | None = None       # the clock starts when the first process does
        self.problems: list[str] = []
        self.broken = ""           # set when the definitions could not even be loaded
        self._functions: dict[str, tuple] = {}   # name -> (generation, number, name, callable)
        self.loaded = False

    @property
    def isolation(self) -> str:
        return self.zygote.mode if self.zygote is not None else _isolation.mode()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop()
        if self.zygote is not None:
            self.zygote.close()

    def seconds_left(self) -> float:
        if self.started is None:
            return self.limits.submission_seconds
        return self.limits.submission_seconds - (time.monotonic() - self.started)

    def output_tail(self, limit: int = 600) -> str:
        """The end of what the student's code printed (for crash messages), cleaned."""
        if self.zygote is None:
            return ""
        try:
            with open(self.zygote.log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return clean_text(f.read().decode("utf-8", "replace")).strip()
        except OSError:
            return ""

    # -- process life
    def _stop(self, grace: float = 0.2) -> int | None:
        """End the child (closing its pipes makes a waiting child exit by itself); its status."""
        if self.child is None:
            return None
        pid, req, res = self.child
        self.child = None
        for fd in (req, res):
            os.close(fd)
        return self.zygote.reap(pid, grace)

    def _spawn(self, config: dict) -> tuple[int, int, int]:
        """A child from this submission's zygote, replacing a zygote that has died."""
        hidden = tuple(self.forbidden)
        for _ in range(2):
            if self.zygote is None or not self.zygote.alive():
                if self.zygotes >= self._MAX_ZYGOTES:
                    raise StudentCrash(f"your code ended its sandbox {self.zygotes} times; it was not restarted again")
                if self.zygote is not None:
                    self.zygote.close()
                self.zygote = _take_zygote(self.limits.folder_mb, hidden)
                self.zygotes += 1
            try:
                return self.zygote.spawn({**config, "folder": self.zygote.workdir})
            except GraderError:
                if not self.zygote.spawned:
                    raise        # it never worked: the grader's problem
                self.zygote.kill()   # the student's code may have ended it: replaced once more
        raise GraderError(f"the sandbox process keeps dying: {self.zygote._log_tail()}")

    def start(self) -> None:
        """Start the child and load the definitions; on failure `broken` says why."""
        self.generation += 1
        config = {"forbidden": self.forbidden, "memory_mb": self.limits.memory_mb,
                  "file_mb": self.limits.file_mb, "result_mb": self.limits.result_mb,
                  "threads": self.limits.threads, "generation": self.generation,
                  "cpu_seconds": int(self.limits.submission_seconds) + 10, "audit_hook": self.limits.audit_hook,
                  "uid": _isolation.NOBODY if _isolation.mode() == "uid" else None}
        try:
            self.child = self._spawn(config)
        except StudentCrash as err:
            self.broken = str(err)
            self.problems.append(self.broken)
            return
        if self.started is None:
            self.started = time.monotonic()
        statements = [(s.filename, s.lineno, s.label, s.code) for s in self.submission.statements]
        try:
            value = self._exchange(("load", statements, self.submission.sources), self.seconds_left(),
                                   "loading your file", None)
        except StudentError as err:
            self.broken = f"your file could not be loaded: {err}"
            self.problems.append(self.broken)
            return
        if (type(value) is not dict or type(value.get("problems")) is not list
                or not all(type(p) is str for p in value["problems"])):
            self.broken = "your file could not be loaded: the process running it answered nonsense"
            self.problems.append(self.broken)
            return
        if not self.loaded:
            self.problems.extend(clean_text(p[:500]) for p in value["problems"][:50])
            self.loaded = True

    # -- requests
    def request(self, op: str, *args: Any, budget: Budget, what: str, inputs: tuple | None = None) -> Any:
        """Run one request in the child within the question's and the submission's time."""
        call = _short_call(what, inputs)
        if self.broken:
            raise StudentCrash(self.broken, call=call)
        left = self.seconds_left()
        if left <= 0:
            raise StudentTimeout(f"{call} was not run: the submission used up its "
                                 f"{self.limits.submission_seconds:g} s", call="")
        if budget.left <= 0:
            raise StudentTimeout(f"{call} was not run: question {budget.label!r} used up its "
                                 f"{budget.seconds:g} s", call="")
        if self.child is not None and not self.zygote.alive():
            self._stop(grace=0.0)       # its sandbox has gone (the student's code may end it): a new one
        if self.child is None:
            self.start()
            if self.broken:
                raise StudentCrash(self.broken, call=call)
        limit = min(left, budget.left)
        began = time.monotonic()
        try:
            request = ("blocked", budget.blocked, op, *args) if budget.blocked else (op, *args)   # forbid.py
            return self._exchange(request, limit, call, budget)
        finally:
            budget.left -= time.monotonic() - began

    def _exchange(self, request: tuple, seconds: float, call: str, budget: Budget | None) -> Any:
        buffer = io.BytesIO()
        try:
            _ArgumentPickler(buffer, self).dump(request)
        except StudentError:
            raise
        except Exception as err:
            raise GraderError(f"the check passed {call} an argument that cannot be sent to the student's "
                              f"process ({type(err).__name__}: {err}); pass data, or functions importable from "
                              "arcourse/torch/numpy") from None
        deadline = time.monotonic() + seconds
        data = buffer.getvalue()
        pid, req, res = self.child
        try:
            self._write(req, struct.pack(">Q", len(data)) + data, deadline)
            (size,) = struct.unpack(">Q", self._read(res, 8, deadline))
            if size > self.limits.result_mb * 2**20 + (1 << 20):
                raise codec.ProtocolError(f"a message of {size} bytes is over the limit")
            frame = self._read(res, size, deadline)
        except TimeoutError:
            self._stop(grace=0.0)
            if budget is None:
                text = f"{call} took longer than the submission's {self.limits.submission_seconds:g} s"
            elif seconds < budget.left - 1e-9:
                text = f"{call} was stopped: the submission used up its {self.limits.submission_seconds:g} s"
            else:
                text = (f"{call} was stopped after {seconds:.3g} s: question {budget.label!r} may use "
                        f"{budget.seconds:g} s in all (an endless loop?)")
            raise StudentTimeout(text) from None
        except (EOFError, BrokenPipeError, ConnectionError):
            output = self.output_tail()
            status = self._stop()
            raise StudentCrash(_ended(call, status, self.limits) + (f"\n  its last output: {output}" if output else "")
                               ) from None
        except codec.ProtocolError as err:
            self._stop()
            raise StudentCrash(f"{call}: the student's process sent an unreadable answer ({err})") from None
        generation = self.generation
        try:      # decoding is bounded by the frame's size, and counts against the same time
            status, value = codec.decode(frame, lambda number, name, is_callable: RemoteObject(
                self, generation, number, clean_text(name), is_callable, budget or Budget("loading", seconds)),
                deadline=deadline)
        except TimeoutError:
            self._stop(grace=0.0)
            raise StudentTimeout(f"{call}: its result took too long to read (over {seconds:.3g} s)") from None
        except codec.ProtocolError as err:
            self._stop()
            raise StudentCrash(f"{call}: the student's process sent an unreadable answer ({err})") from None
        if status == "ok":
            return value
        if status == "bad_request":
            raise GraderError(f"the student's process could not read the arguments of {call}: {value!s:.300}")
        if status == "error" and type(value) is dict:
            kind, message = clean_text(str(value.get("type", "Exception"))), clean_text(str(value.get("message", "")))
            where = value.get("where") if type(value.get("where")) is list else []
            cls = _student_exception(kind, value.get("builtin") is True)
            raise cls(message, call=call, kind=kind, where=tuple(clean_text(str(w)[:300]) for w in where[:3]))
        self._stop()
        raise StudentCrash(f"{call}: the student's process sent an unreadable answer (status {status!r:.40})")

    @staticmethod
    def _write(fd: int, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        os.set_blocking(fd, False)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            _, writable, _ = select.select([], [fd], [], left)
            if writable:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue

    @staticmethod
    def _read(fd: int, n: int, deadline: float) -> bytes:
        chunks = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], left)
            if readable:
                chunk = os.read(fd, min(n, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                n -= len(chunk)
        return b"".join(chunks)

    def module_attribute(self, name: str, budget: Budget) -> Any:
        """`student.NAME`: functions and classes are looked up once per process run."""
        cached = self._functions.get(name)
        if cached is not None and cached[0] == self.generation and self.child is not None:
            return RemoteObject(self, *cached, budget)
        value = self.request("getattr", _MODULE, name, budget=budget, what=name)
        if isinstance(value, RemoteObject) and value._callable:
            self._functions[name] = (value._generation, value._number, value._name, True)
        return value

    def proxy(self, budget: Budget) -> StudentProxy:
        return StudentProxy(self, budget)


def _ended(call: str, status: int | None, limits: Limits) -> str:
    import signal

    if status is not None and status >= 0:
        how = f"exited with code {status} (os._exit or sys.exit outside a function?)"
    elif status is not None and -status == signal.SIGSEGV:
        how = "crashed (segmentation fault)"
    elif status is not None and -status == signal.SIGXFSZ:
        how = f"wrote a file larger than {limits.file_mb} MB"
    elif status is not None:
        how = f"was ended by signal {-status} (over the {limits.memory_mb} MB memory limit?)"
    else:
        how = "ended"
    return f"{call}: the process running your code {how}; it was restarted for the next check"
