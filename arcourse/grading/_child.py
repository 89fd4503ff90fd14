"""The side of the sandbox that runs student code (the grader's side is `sandbox.py`).

A *zygote* process, one per submission, imports numpy, torch and arcourse once, then forks
a fresh child whenever the grader asks (first, and again after a child was stopped). With
`bwrap` isolation the zygote already lives in the submission's sandbox under its seccomp
filter: a fork of the batch worker's template (`template_main`, which imported all this
once) that entered namespaces of its own (`_nest.py`), or a bubblewrap sandbox of its own
(see `_isolation.py`). Each child, before it runs a line of the student's
code (`_child_main`): starts its own session, moves into the sandbox's writable folder (also
its HOME and TMPDIR), closes every inherited descriptor but its two pipes and the log on
stdout/stderr (line-buffered), drops to uid 65534 when the grader is root without a sandbox,
sets its resource limits (address space, file size, open files, threads, CPU time, no core
files), loads a second seccomp filter that also refuses fork and exec, and installs an audit
hook. Then it serves requests from the grader over a pipe: load the submission's
definitions, look up a name, call a function, ... and answers in the safe encoding of
`codec.py`.

The operating system is the boundary; the audit hook (PEP 578) only gives clear messages for
the plain-Python routes and is defence in depth where there is no sandbox. It refuses:
writing, creating, deleting, renaming or re-permissioning anything outside the child's
folder; reading under the forbidden folders (the course's solutions and the checks);
starting processes; signalling other processes; network sockets; loading native code with
ctypes; changing resource limits; and the introspection (`gc`, swapping a function's
`__code__`) that could reach the hook itself.

Where a request is served: `Server.load` runs the definitions (one statement at a time),
`Server.handle` answers each later request of a check (`getattr` on the module, `call`,
`getitem`, `len`, `iter`); a per-question policy belongs at the top of `Server.handle`.
"""
from __future__ import annotations

import gc
import json
import os
import pickle
import re
import signal
import socket
import struct
import sys

_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "arcourse", "arcourse.metrics", "arcourse.data",
            "arcourse.decoding", "arcourse.training", "arcourse.models", "arcourse.grading.codec",
            "matplotlib", "matplotlib.pyplot")


# --------------------------------------------------------------------------- zygote

def zygote_main(sock_fd: int, font_fd: int = -1, font_name: str = "") -> None:
    """Import the heavy modules once, then fork a child per `spawn` request from the grader
    on the socket `sock_fd`. The zygote serves one submission (in its sandbox, when there is
    one) and ends, taking its children with it, when the grader closes the socket."""
    failed = _preload(font_fd, font_name)
    _serve(socket.socket(fileno=sock_fd), {"preload_failed": failed})


def _preload(font_fd: int, font_name: str) -> list[str]:
    """Import `_PRELOAD`, warm up and build the child's seccomp filter; what failed."""
    import importlib

    failed = []
    _copy_font_list(font_fd, font_name)
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as err:  # a missing optional module only costs speed
            failed.append(f"{name}: {type(err).__name__}: {err}")
    try:
        _warm_up()
    except Exception as err:  # noqa: BLE001 - a child then imports what it needs itself
        failed.append(f"warm-up: {type(err).__name__}: {err}")
    global _CHILD_FILTER
    try:
        from arcourse.grading import _seccomp

        _CHILD_FILTER = _seccomp.program(processes=False)
    except (ImportError, OSError, AttributeError, TypeError, OverflowError) as err:
        failed.append(f"seccomp: {type(err).__name__}: {err}")
    gc.freeze()     # what is loaded now is never collected: a child's collections then leave
    #                 those pages shared instead of touching (and copying) all of them
    return failed


def _serve(owner: socket.socket, ready: dict) -> None:
    """The zygote's loop: say ready, fork children on request, end with the socket."""
    send_message(owner, {"ready": True, "pid": os.getpid(), "seccomp": _CHILD_FILTER is not None, **ready})
    sys.stdout.flush()
    children: set[int] = set()
    while _answer(owner, children):
        pass
    for pid in children:
        _reap(pid, grace=0.0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)     # nothing left to clean up: skip the interpreter's finalisation (a second with torch)


# --------------------------------------------------------------------------- template

def template_main(sock_fd: int, font_fd: int = -1, font_name: str = "") -> None:
    """The warm process of a batch worker's bubblewrap sandbox (see `_nest.py`): import
    once, then on each `sandbox` request fork a keeper that enters new namespaces and starts
    that submission's zygote, connected to the grader by the socket sent with the request.
    Ends, with every keeper, when the grader closes `sock_fd`."""
    from arcourse.grading import _nest, _seccomp

    failed = _preload(font_fd, font_name)
    try:
        zygote_filter = _seccomp.program()
    except (OSError, AttributeError, TypeError, OverflowError):
        zygote_filter = None
    owner = socket.socket(fileno=sock_fd)
    # without a filter a student could make user namespaces of their own (the template may): no nesting then
    problem = "no seccomp filter here" if zygote_filter is None else _try_nesting()
    send_message(owner, {"ready": True, "nested": not problem, "problem": problem, "preload_failed": failed,
                         "namespaces": _nest.namespaces()})
    keepers: set[int] = set()
    while True:
        try:
            request, fds = recv_message(owner, max_fds=2)
        except (OSError, ValueError):
            break
        if request is None:
            break
        if request.get("op") == "sandbox" and len(fds) == 2:
            try:
                pid = _fork_keeper(fds[0], fds[1], request, zygote_filter)
            except OSError as err:
                send_message(owner, {"error": f"cannot start a sandbox: {err}"})
            else:
                keepers.add(pid)
                send_message(owner, {"pid": pid})
        elif request.get("op") == "end":
            pid = request.get("pid")
            status = _reap(pid, float(request.get("grace", 0))) if pid in keepers else None
            keepers.discard(pid)
            send_message(owner, {"status": status})
        for fd in fds:
            os.close(fd)
    for pid in keepers:
        _reap(pid, grace=0.0)
    os._exit(0)


def _try_nesting() -> str:
    """Whether a fork can enter namespaces of its own here ("" when it can, else why)."""
    from arcourse.grading import _nest

    pid = os.fork()
    if pid == 0:
        try:
            _nest.enter(os.getcwd(), 1)
            os.close(_nest.seal())
            os._exit(0)
        except BaseException as err:  # noqa: BLE001 - the reason travels as the exit code
            os._exit(3 if isinstance(err, OSError) else 4)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "" if code == 0 else f"this kernel refuses nested user namespaces here (exit {code})"


def _fork_keeper(zygote_fd: int, log_fd: int, request: dict, zygote_filter: bytes | None) -> int:
    """Fork the keeper of one submission: it enters new namespaces, forks the zygote (pid 1
    there), waits for it and leaves with it. Returns the keeper's pid."""
    from arcourse.grading import _nest

    template = os.getpid()
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        _nest.die_with_parent(template)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        _close_fds_but({0, 1, 2, zygote_fd})
        _nest.enter(request["folder"], int(request["folder_mb"]))
        _write_font_list()
        zygote = os.fork()
        if zygote == 0:
            _nest.die_with_parent(os.getppid())
            global _STATUS_FD
            names = _nest.namespaces()
            _STATUS_FD = _nest.seal()
            if zygote_filter is not None:
                from arcourse.grading import _seccomp

                _seccomp.install(zygote_filter)
            _serve(socket.socket(fileno=zygote_fd), {"nested": True, "namespaces": names})
        os.close(zygote_fd)
        os._exit(max(0, os.waitstatus_to_exitcode(os.waitpid(zygote, 0)[1])))
    except BaseException as err:  # noqa: BLE001 - nothing of the template's loop may go on here
        print(f"the submission's sandbox could not be set up: {type(err).__name__}: {err}", flush=True)
    finally:
        os._exit(71)


_CHILD_FILTER: bytes | None = None     # the seccomp program each child loads (see _seccomp.py)
_STATUS_FD = -1       # in a nested sandbox, the zygote's /proc/self/status opened before /proc was hidden


_FONT_LIST_LIMIT = 8 << 20         # bytes of a font list a zygote reads


def _copy_font_list(fd: int, name: str) -> None:
    """Keep the grader's matplotlib font list (read from `fd`) and write it into this
    sandbox's MPLCONFIGDIR, so that importing pyplot does not scan every font again."""
    global _FONT_LIST
    if fd < 0:
        return
    with os.fdopen(fd, "rb") as source:
        data = source.read(_FONT_LIST_LIMIT)
    if re.fullmatch(r"fontlist-v[0-9.]+\.json", name):
        _FONT_LIST = (name, data)
        _write_font_list()


def _write_font_list() -> None:
    """Write the kept font list into MPLCONFIGDIR (again in each nested sandbox's own folder)."""
    folder = os.environ.get("MPLCONFIGDIR", "")
    if not folder or _FONT_LIST is None:
        return
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, _FONT_LIST[0]), "wb") as target:
            target.write(_FONT_LIST[1])
    except OSError:   # only costs the scan
        pass


_FONT_LIST: tuple[str, bytes] | None = None


def _warm_up() -> None:
    """Rebuild pickled arguments and encode a result once, here, so the modules they load
    lazily (torch's unpickling imports `torch.utils.serialization`) are in memory before a
    child drops to uid 65534, which may not be able to read the site-packages (a checkout
    under a root-only folder)."""
    import numpy as np
    import torch

    from arcourse.grading import codec

    sample = (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), np.zeros((2, 1)), np.int64(1),
              torch.Generator().manual_seed(0), torch.nn.Linear(2, 2))
    codec.encode("ok", pickle.loads(pickle.dumps(sample)), lambda obj: (0, type(obj).__name__, False), 1 << 20)


def _answer(sock: socket.socket, children: set[int]) -> bool:
    """Serve one request from `sock`; False when it has gone."""
    try:
        request, _ = recv_message(sock)
    except (OSError, ValueError):
        return False
    if request is None:
        return False
    if request["op"] == "spawn":
        try:
            pid, fds = _fork_child(request["config"])
        except OSError as err:
            send_message(sock, {"error": f"cannot start a process: {err}"})
            return True
        children.add(pid)
        send_message(sock, {"pid": pid}, fds)
        for fd in fds:
            os.close(fd)
    elif request["op"] == "reap":
        pid = request["pid"]
        status = _reap(pid, float(request["grace"])) if pid in children else None
        children.discard(pid)
        send_message(sock, {"status": status})
    return True


def send_message(sock: socket.socket, message, fds=()) -> None:
    """One JSON message on a stream socket (a line), with file descriptors attached."""
    data = json.dumps(message).encode() + b"\n"
    sent = socket.send_fds(sock, [data], list(fds)) if fds else 0
    sock.sendall(data[sent:])


_MESSAGE_LIMIT = 1 << 20


def recv_message(sock: socket.socket, max_fds: int = 0):
    """(message or None at end of stream, received file descriptors). A message over a
    megabyte raises ValueError (the other side may be the student's)."""
    data, fds = b"", []
    while not data.endswith(b"\n"):
        if max_fds and not data:
            chunk, fds, _, _ = socket.recv_fds(sock, 1 << 16, max_fds)
        else:
            chunk = sock.recv(1 << 16)
        if not chunk:
            return None, fds
        data += chunk
        if len(data) > _MESSAGE_LIMIT:
            for fd in fds:
                os.close(fd)
            raise ValueError("message over the limit")
    return json.loads(data), fds


def _reap(pid: int, grace: float = 0.2) -> int | None:
    """Stop child `pid` (if it still runs after `grace` s) and return its exit status:
    the exit code, or minus the signal number that ended it."""
    import time

    deadline = time.monotonic() + grace
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return None if code == -signal.SIGKILL else code


def _fork_child(config: dict) -> tuple[int, list[int]]:
    requests_r, requests_w = os.pipe()
    results_r, results_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(requests_w)
            os.close(results_r)
            _child_main(requests_r, results_w, config)    # closes every other descriptor
        finally:
            os._exit(70)
    os.close(requests_r)
    os.close(results_w)
    return pid, [requests_w, results_r]


# --------------------------------------------------------------------------- child set-up

def _child_main(requests_fd: int, results_fd: int, config: dict) -> None:
    """Set up one child before any student code, then serve. Order matters: what needs
    privileges or ctypes comes first, the seccomp filter and the audit hook last."""
    import resource
    import tempfile

    import torch

    os.setsid()
    folder = config["folder"]
    os.chdir(folder)
    # stdout and stderr are the zygote's: a log file the grader holds (see sandbox.output_tail)
    _close_fds_but({0, 1, 2, requests_fd, results_fd, _STATUS_FD})
    sys.stdout.reconfigure(line_buffering=True)     # the last line before a crash reaches the log
    sys.stderr.reconfigure(line_buffering=True)
    os.environ.clear()
    os.environ.update({"HOME": folder, "TMPDIR": folder, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       "MPLBACKEND": "Agg", "MPLCONFIGDIR": folder, "CUDA_VISIBLE_DEVICES": ""})
    tempfile.tempdir = None
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an over-long write fails with EFBIG instead
    _die_with_parent()
    torch.set_num_threads(config["threads"])
    if config.get("uid") is not None:               # no sandbox but root: become nobody
        os.setgroups([])
        os.setgid(config["uid"])
        os.setuid(config["uid"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_mb"] * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (_MAX_FILES, _MAX_FILES))
    resource.setrlimit(resource.RLIMIT_NPROC, (_MAX_THREADS, _MAX_THREADS))
    resource.setrlimit(resource.RLIMIT_CPU, (config["cpu_seconds"], config["cpu_seconds"] + 1))
    _set_memory_limit(config["memory_mb"])
    if _CHILD_FILTER is not None:
        from arcourse.grading import _seccomp

        _seccomp.install(_CHILD_FILTER)
    _disarm_subprocess()
    if config["audit_hook"]:
        sys.addaudithook(_make_audit_hook(folder, config["forbidden"]))
    Server(requests_fd, results_fd, config).serve()


_MAX_FILES = 256          # open descriptors
_MAX_THREADS = 128        # RLIMIT_NPROC: the child cannot fork (seccomp), this bounds threads


def _close_fds_but(keep: set[int]) -> None:
    for fd in _open_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _open_fds() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):        # Linux, macOS
        try:
            return [int(name) for name in os.listdir(folder)]
        except OSError:
            continue
    return list(range(3, 1024))


def _set_memory_limit(megabytes: int) -> None:
    """RLIMIT_AS at the address space in use now plus `megabytes`: it counts every mapping,
    shared ones included (RLIMIT_DATA does not count MAP_SHARED)."""
    import resource

    in_use = 0
    try:
        if _STATUS_FD >= 0:     # a nested sandbox: no /proc, the zygote's status (this child's at its fork)
            text = os.pread(_STATUS_FD, 1 << 16, 0).decode()
            os.close(_STATUS_FD)
        else:
            with open("/proc/self/status") as status:
                text = status.read()
    except OSError:
        return      # no /proc (macOS): the limit would not be enforced there anyway
    for line in text.splitlines():
        if line.startswith("VmSize:"):
            in_use = int(line.split()[1]) * 1024
    limit = in_use + megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel kills this child if the zygote dies (Linux; not on macOS)."""
    from arcourse.grading import _nest

    try:
        _nest.die_with_parent(os.getppid())
    except (OSError, AttributeError):
        pass


def _disarm_subprocess() -> None:
    """`_posixsubprocess.fork_exec` starts processes without an audit event: remove it."""
    try:
        import _posixsubprocess
    except ImportError:
        return
    for name in ("fork_exec",):
        if hasattr(_posixsubprocess, name):
            delattr(_posixsubprocess, name)


_DENIED_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                  "subprocess.Popen", "os.startfile", "os.killpg", "ctypes.dlopen", "ctypes.dlsym",
                  "ctypes.dlsym/handle", "ctypes.cdata", "gc.get_objects", "gc.get_referrers",
                  "gc.get_referents", "resource.setrlimit", "resource.prlimit", "socket.connect",
                  "socket.bind", "socket.sendto", "socket.sendmsg")
# event -> (indexes of path arguments, follow a final symlink?, indexes of dir_fd arguments)
_CHANGE_EVENTS = {
    "os.remove": ((0,), False, (1,)), "os.rmdir": ((0,), False, (1,)), "os.mkdir": ((0,), False, (2,)),
    "os.rename": ((0, 1), False, (2, 3)), "os.link": ((0, 1), True, (2, 3)), "os.symlink": ((1,), False, (2,)),
    "os.chmod": ((0,), True, (2,)), "os.chown": ((0,), True, (3,)), "os.utime": ((0,), True, (3,)),
    "os.truncate": ((0,), True, ()), "os.setxattr": ((0,), True, ()), "os.removexattr": ((0,), True, ()),
    "shutil.rmtree": ((0,), False, (1,)), "os.chdir": ((0,), True, ()), "sqlite3.connect": ((0,), True, ()),
}
_WATCHED = frozenset(_DENIED_EVENTS) | frozenset(_CHANGE_EVENTS) | {
    "open", "os.listdir", "os.scandir", "os.kill", "import", "object.__setattr__"}


def _make_audit_hook(folder: str, forbidden: list[str]):
    """The audit hook of a child (see the module docstring). Everything it uses is bound
    here as an immutable keyword default (C functions, tuples, frozensets, numbers), and it
    calls no Python helper, so nothing it relies on can be reached and changed."""
    import stat as stat_module
    import types

    def ident(path):
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    own_pid = os.getpid()

    def hook(event, args, *, _watched=_WATCHED, _deny=frozenset(_DENIED_EVENTS),
             _change=types.MappingProxyType(dict(_CHANGE_EVENTS)), _stat=os.stat, _lstat=os.lstat,
             _readlink=os.readlink, _fspath=os.fspath, _islink=stat_module.S_ISLNK, _isdir=stat_module.S_ISDIR,
             _isinstance=isinstance, _str=str, _bytes=bytes, _int=int, _len=len, _range=range,
             _denied=PermissionError, _home=ident(folder),
             _forbidden=frozenset(i for i in map(ident, forbidden) if i is not None),
             _proc=ident("/proc"), _self=ident(f"/proc/{own_pid}"), _null=ident("/dev/null"), _pid=own_pid,
             _names=tuple(f.rstrip("/") for f in forbidden), _normpath=os.path.normpath, _getcwd=os.getcwd,
             _own=f"/proc/{own_pid}/", _digits=frozenset("0123456789"),
             _write_flags=os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
        if event not in _watched:
            return
        # ---- which paths the event touches: (path, follow symlinks, writes, os.open)
        if event == "open":
            path, mode, flags = args
            if _isinstance(path, _int):
                return
            writing = (flags is not None and flags & _write_flags != 0) or (
                _isinstance(mode, _str) and ("w" in mode or "a" in mode or "x" in mode or "+" in mode))
            checks = ((path, True, writing, mode is None),)
        elif event == "os.listdir" or event == "os.scandir":
            path = args[0]
            if path is None or _isinstance(path, _int):
                return
            checks = ((path, True, False, False),)
        elif event in _deny:
            raise _denied(f"the grader does not allow {event} here")
        elif event == "os.kill":
            if args[0] == _pid:
                return
            raise _denied("the grader does not allow signalling other processes")
        elif event == "import":
            if args[0] == "_posixsubprocess" or args[0] == "_ctypes":
                raise _denied(f"the grader does not allow importing {args[0]} here")
            return
        elif event == "object.__setattr__":
            if args[1] == "__code__":
                raise _denied("the grader does not allow replacing a function's __code__")
            return
        else:
            positions, follow, fd_positions = _change[event]
            for i in fd_positions:
                if i < _len(args) and args[i] is not None and args[i] != -1:
                    raise _denied(f"the grader does not allow {event} relative to a directory descriptor")
            checks = []
            for i in positions:
                path = args[i]
                if _isinstance(path, _int):
                    if event == "os.truncate":
                        continue
                    raise _denied(f"the grader does not allow {event} on a file descriptor")
                if event == "sqlite3.connect" and (path == ":memory:" or path == "" or path == b""):
                    continue
                checks.append((path, follow, True, False))
        # ---- each path: follow symlinks, then walk up its folders by (device, inode)
        for path, follow, writing, os_open in checks:
            try:
                path = _fspath(path)
            except TypeError:
                raise _denied(f"{event}: unsupported path {path!r:.80}") from None
            if _isinstance(path, _bytes):
                path = _bytes.decode(path, "utf-8", "surrogateescape")
            info = None
            for _ in _range(40):
                try:
                    info = _lstat(path)
                except OSError:
                    info = None
                    break
                if not follow or not _islink(info.st_mode):
                    break
                target = _readlink(path)
                if target.startswith("/"):
                    path = target
                else:
                    path = ((path.rpartition("/")[0] or "/") if "/" in path else ".") + "/" + target
            # by name too: inside a sandbox the forbidden folders do not exist at all
            named = _normpath(path if path.startswith("/") else _getcwd() + "/" + path)
            for name in _names:
                if named == name or named.startswith(name + "/"):
                    raise _denied(f"the grader does not allow access to {path!r:.120} (the solutions and the "
                                  "checks are off limits)")
            # another process by name (a nested sandbox has no /proc at all)
            if (named.startswith("/proc/") and _len(named) > 6 and named[6] in _digits
                    and not (named + "/").startswith(_own)):
                raise _denied(f"the grader does not allow looking into other processes ({path!r:.80})")
            is_dir = info is not None and _isdir(info.st_mode)
            if os_open and is_dir:
                # a folder's descriptor could serve as dir_fd, which the open event does not show
                raise _denied(f"the grader does not allow os.open on a folder ({path!r:.120})")
            if is_dir and (follow or not writing):
                current = path
            else:
                current = (path.rpartition("/")[0] or "/") if "/" in path else "."
            chain = []
            for _ in _range(256):
                try:
                    st = _stat(current)
                except OSError:
                    break
                node = (st.st_dev, st.st_ino)
                if chain and chain[-1] == node:
                    break
                chain.append(node)
                current = current + "/.."
            for node in chain:
                if node in _forbidden:
                    raise _denied(f"the grader does not allow access to {path!r:.120} (the solutions and the "
                                  "checks are off limits)")
            if _proc is not None and _proc in chain:
                at = chain.index(_proc)
                if at > 0 and chain[at - 1] != _self:
                    raise _denied(f"the grader does not allow looking into other processes ({path!r:.80})")
            if writing and _home not in chain:
                if info is not None and (info.st_dev, info.st_ino) == _null:
                    continue
                raise _denied(f"the grader does not allow {event} outside your working folder ({path!r:.120})")

    return hook


# --------------------------------------------------------------------------- serving requests

class _ArgumentUnpickler(pickle.Unpickler):
    """Arguments come from the grader (trusted); handles refer to objects kept here."""

    def __init__(self, data: bytes, server: "Server"):
        import io

        super().__init__(io.BytesIO(data))
        self.server = server

    def persistent_load(self, pid):
        generation, number = pid
        return self.server.lookup(generation, number)


class Server:
    """Answers the grader's requests (see `sandbox.Sandbox.request`)."""

    def __init__(self, requests_fd: int, results_fd: int, config: dict):
        import types

        self.requests, self.results = requests_fd, results_fd
        self.generation = config["generation"]
        self.result_limit = config["result_mb"] * 2**20
        self.memory_mb = config["memory_mb"]
        self.objects: dict[int, object] = {}
        self.numbers: dict[int, int] = {}
        self.module = types.ModuleType("submission")
        self.module.__dict__["__file__"] = "submission"
        sys.modules["submission"] = self.module
        self.filenames: set[str] = set()

    # -- framing
    def _read_exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = os.read(self.requests, min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _send(self, frame: bytes) -> None:
        view = memoryview(struct.pack(">Q", len(frame)) + frame)
        while view:
            view = view[os.write(self.results, view):]

    def serve(self) -> None:
        from arcourse.grading import codec

        while True:
            try:
                (size,) = struct.unpack(">Q", self._read_exact(8))
                data = self._read_exact(size)
            except EOFError:
                os._exit(0)
            try:
                request = _ArgumentUnpickler(data, self).load()
            except BaseException as err:  # the check sent something this process cannot rebuild
                status, value = "bad_request", f"{type(err).__name__}: {err}"
            else:
                try:
                    status, value = "ok", self.handle(*request)
                except BaseException as err:  # the student's error, reported as data
                    status, value = "error", self.describe(err)
            try:
                frame = codec.encode(status, value, self.keep, self.result_limit)
            except BaseException as err:
                frame = codec.encode("error", self.describe(err), self.keep, self.result_limit)
            self._send(frame)

    # -- objects that stay here
    def keep(self, obj) -> tuple[int, str, bool]:
        key = id(obj)
        if key not in self.numbers or self.objects.get(self.numbers[key]) is not obj:
            self.numbers[key] = len(self.objects)
            self.objects[len(self.objects)] = obj
        name = getattr(obj, "__qualname__", None)
        if not isinstance(name, str):
            name = type(obj).__qualname__
        return self.numbers[key], name, callable(obj)

    def lookup(self, generation: int, number):
        if generation != self.generation:
            raise LookupError("this object was made by an earlier run of your code, which was stopped")
        if number is None:
            return self.module
        return self.objects[number]

    # -- requests
    def handle(self, op: str, *args):
        """Serve one request of the checks: `load` (see `load`), then `getattr` (a name of the
        module or an attribute of a kept object), `call`, `getitem`, `len`, `iter`. The
        value returned goes back encoded; an exception raised goes back as the student's."""
        if op == "blocked":     # run the request with the question's references stubbed out (forbid.py)
            from arcourse.grading.forbid import blocking

            with blocking(args[0], self.module):
                return self.handle(*args[1:])
        if op == "load":
            return self.load(*args)
        if op == "getattr":
            target, name = args
            if target is self.module and name not in self.module.__dict__:
                raise AttributeError(f"your file does not define {name!r} (a top-level def or class is needed)")
            return getattr(target, name)
        if op == "call":
            target, positional, keywords = args
            return target(*positional, **keywords)
        if op == "getitem":
            return args[0][args[1]]
        if op == "len":
            return len(args[0])
        if op == "iter":
            return list(args[0])
        raise ValueError(f"unknown request {op!r}")

    def load(self, statements: list, sources: dict) -> dict:
        """Run the submission's definitions one statement at a time; a failing statement costs
        only what it defines."""
        import linecache

        for filename, text in sources.items():
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
            self.filenames.add(filename)
        problems = []
        for filename, lineno, label, code in statements:
            try:
                exec(compile("\n" * (lineno - 1) + code, filename, "exec"), self.module.__dict__)
            except BaseException as err:
                info = self.describe(err)
                problems.append(f"{label}: `{code.strip().splitlines()[0][:80]}` failed: {info['type']}: "
                                f"{info['message']}")
        names = sorted(k for k in self.module.__dict__ if not k.startswith("__"))
        return {"problems": problems, "names": names}

    def describe(self, err: BaseException) -> dict:
        """An exception as data: type, message, and where in the student's code it happened."""
        import traceback

        kind = type(err)
        try:
            message = str(err)
        except BaseException:
            message = "<the message could not be printed>"
        if isinstance(err, SystemExit):
            message = f"your code called sys.exit({err.code!r}); a graded function must return instead"
        if isinstance(err, MemoryError) or "can't allocate memory" in message or "not enough memory" in message:
            message = (f"{message} (out of memory: the grader gives your code {self.memory_mb} MB)").strip()
        where = []
        try:
            for frame in traceback.extract_tb(err.__traceback__):
                if frame.filename in self.filenames:
                    where.append(f"{frame.filename}, line {frame.lineno}, in {frame.name}: {(frame.line or '').strip()}")
        except BaseException:
            pass
        return {"type": kind.__name__[:100], "builtin": kind.__module__ == "builtins",
                "message": message[:2000], "where": where[-3:]}


def main() -> None:
    """Entry point: `python -I -c ... SOCKET_FD ROOT FONT_FD FONT_NAME [template]`."""
    start = template_main if sys.argv[5:] == ["template"] else zygote_main
    start(int(sys.argv[1]), int(sys.argv[3]), sys.argv[4])
