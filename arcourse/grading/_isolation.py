"""How the operating system contains a submission's process (the grader's side of it).

Three modes, the strongest the machine allows (`mode()`; `ARCOURSE_ISOLATION` forces one):

- `bwrap`: a bubblewrap sandbox: new user, pid, network, ipc, uts, cgroup and mount
  namespaces; inside, uid and gid 65534; an empty root holding read-only binds of exactly
  the interpreter, its standard library, the site-packages, the shared libraries and the
  `arcourse` package with its checks folder (and any forbidden folder inside a bound one)
  hidden under an empty folder; a private size-limited tmpfs as the only writable folder
  (`/submission`, also HOME, TMPDIR and the working folder); a minimal `/dev`, its own
  `/proc`, no network but loopback, `--die-with-parent`, `--new-session`, and the seccomp
  filter of `_seccomp.py`. One such sandbox per batch worker holds the template
  (`Launch(..., nest=True)`: it may make user namespaces, and has no filter of its own),
  and each submission's sandbox is a fork of it with namespaces, folders and filter of its
  own (`_nest.py`); where the kernel refuses that, each submission gets a bubblewrap
  sandbox of its own. When the grader is root, bubblewrap itself runs as uid 65534
  where uid 65534 can reach every bound file (the sandbox is then unprivileged outside
  too); otherwise as root, with every capability dropped inside. Either way the student's
  process can neither fork nor exec (its own seccomp filter), so process limits hold.
- `uid`: no usable bubblewrap but the grader is root (a container without user
  namespaces, Gradescope's default): the child drops to uid/gid 65534 before student code,
  under the same seccomp filter and resource limits. What uid 65534 cannot read or write
  is protected; keep solutions, checks and results unreadable by others.
- `none`: neither (macOS, Windows, an ordinary user without user namespaces). Only the
  resource limits, the seccomp filter where Linux has one, and the audit hook stand
  between the code and the grader's files: fine for a student checking their own file,
  not for grading other people's (`grade_many` refuses unless told `no_isolation=True`).
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

MODES = ("bwrap", "uid", "none")
MODE_ENV = "ARCOURSE_ISOLATION"
NOBODY = 65534                        # the unprivileged uid and gid student code runs as
WORKDIR = "/submission"               # the sandbox's one writable folder (not /tmp: a bound venv or
                                      # package may live under /tmp, and a tmpfs there would hide it)
_AS_NOBODY = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
_bwrap_user: dict = {}                # filled by the first successful probe
_PACKAGE = Path(__file__).resolve().parents[1]    # .../arcourse


@functools.cache
def seccomp_program() -> bytes | None:
    """The compiled seccomp filter, or None where libseccomp or seccomp is missing."""
    if not sys.platform.startswith("linux"):
        return None
    from arcourse.grading import _seccomp

    try:
        return _seccomp.program()
    except (OSError, AttributeError, TypeError, OverflowError):
        return None


@functools.cache
def mode() -> str:
    """The isolation this machine gives (see the module docstring)."""
    forced = os.environ.get(MODE_ENV, "")
    if forced:
        if forced not in MODES:
            raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, got {forced!r}")
        if forced == "bwrap" and not bwrap_works():
            raise OSError(f"{MODE_ENV}=bwrap, but bubblewrap cannot start a sandbox here: {bwrap_problem()}")
        if forced == "uid" and not _is_root():
            raise OSError(f"{MODE_ENV}=uid needs the grader to run as root")
        return forced
    if bwrap_works():
        return "bwrap"
    return "uid" if _is_root() else "none"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.cache
def bwrap_problem() -> str:
    """Why bubblewrap cannot be used here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    problem = ""
    for user in ([_AS_NOBODY, {}] if _is_root() else [{}]):
        try:
            with Launch(8) as launch:
                proc = subprocess.run(launch.command([sys.executable, "-I", "-c", "import os; print(os.getuid())"]),
                                      pass_fds=launch.fds, capture_output=True, timeout=60, **user)
        except (OSError, subprocess.SubprocessError) as err:
            problem = f"bwrap failed: {err}"
            continue
        if proc.returncode == 0 and proc.stdout.strip() == str(NOBODY).encode():
            _bwrap_user.update(user)
            return ""
        problem = f"bwrap failed: {proc.stderr.decode(errors='replace').strip()[-300:] or proc.returncode}"
    return problem


def bwrap_works() -> bool:
    return bwrap_problem() == ""


@functools.cache
def _empty_folder() -> str:
    """An empty, read-only folder (for this process's lifetime) laid over what must stay hidden."""
    folder = tempfile.mkdtemp(prefix="arcourse-empty-")
    os.chmod(folder, 0o555)
    atexit.register(remove_empty_folder)
    return folder


def remove_empty_folder() -> None:
    """Remove this process's empty folder, if it made one (at exit; a batch worker, which
    leaves without running `atexit`, calls it itself)."""
    if _empty_folder.cache_info().currsize:
        try:
            os.rmdir(_empty_folder())
        except OSError:
            pass
        _empty_folder.cache_clear()


def _readable_sources() -> list[str]:
    """What Python needs inside the sandbox: interpreter, standard library, site-packages,
    shared libraries, the arcourse package (folders or files on the host, existing ones)."""
    paths = [os.path.realpath(sys.executable)]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.append(sysconfig.get_paths()[key])
    paths += site.getsitepackages()
    if sys.prefix != sys.base_prefix:
        paths.append(os.path.join(sys.prefix, "pyvenv.cfg"))
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        paths.append(os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or ""))
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    paths += ["/etc/ld.so.cache", "/lib64", "/usr/lib64", f"/lib/{multiarch}", f"/usr/lib/{multiarch}"]
    paths.append(str(_PACKAGE))
    out = []
    for path in paths:
        path = os.path.realpath(path) if path else ""
        if path and os.path.exists(path) and path not in out:
            out.append(path)
    # a folder inside another bound folder travels with it
    return [p for p in out if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in out)]


def _symlink_chain(path: str) -> list[tuple[str, str]]:
    """(link, target) for each symlink on the way from `path` to the real interpreter."""
    chain = []
    for _ in range(40):
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        chain.append((path, target))
        path = os.path.join(os.path.dirname(path), target)
    return chain


class Launch:
    """The bubblewrap command line for one sandbox, with the descriptors it needs.

    Use as a context manager: the descriptors (binds opened here, the seccomp program)
    are closed on leaving, once bwrap has started and taken its own copies.
    """

    def __init__(self, tmp_mb: int, hidden=(), nest: bool = False):
        self.tmp_mb, self.nest = tmp_mb, nest
        self.fds: list[int] = []
        self.args: list[str] = []
        self._build([str(Path(p).resolve()) for p in hidden])

    def _fd(self, path: str) -> str:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        self.fds.append(fd)
        return str(fd)

    def _build(self, hidden: list[str]) -> None:
        a = self.args
        # a template (`nest`) forks sandboxes with namespaces of their own: it may make user
        # namespaces, and its forks load the seccomp filter themselves once inside (`_nest.py`)
        a += ["bwrap", "--unshare-all", "--unshare-user", *([] if self.nest else ["--disable-userns"]), "--uid",
              str(NOBODY), "--gid", str(NOBODY), "--die-with-parent", "--new-session", "--clearenv"]
        for name, value in (("HOME", WORKDIR), ("TMPDIR", WORKDIR), ("PATH", "/usr/bin:/bin"), ("LANG", "C.UTF-8"),
                            ("MPLBACKEND", "Agg"), ("MPLCONFIGDIR", WORKDIR + "/.matplotlib"),
                            ("CUDA_VISIBLE_DEVICES", ""), ("PYTHONDONTWRITEBYTECODE", "1"), ("OMP_NUM_THREADS", "1")):
            a += ["--setenv", name, value]
        sources = _readable_sources()
        for link in ("/lib", "/lib64", "/bin"):
            if os.path.islink(link):
                a += ["--symlink", os.readlink(link), link]
        for source in sources:
            a += ["--ro-bind-fd", self._fd(source), source]
        for link, target in _symlink_chain(sys.executable):
            if not any(link.startswith(s.rstrip("/") + "/") for s in sources if os.path.isdir(s)):
                a += ["--symlink", target, link]
        # the checks, and anything forbidden that a bound folder holds, appear empty
        for folder in [str(_PACKAGE / "grading" / "checks"), *hidden]:
            if os.path.isdir(folder) and any(folder.startswith(s.rstrip("/") + "/") or folder == s
                                              for s in sources if os.path.isdir(s)):
                a += ["--ro-bind-fd", self._fd(_empty_folder()), folder]
        a += ["--proc", "/proc", "--dev", "/dev", "--size", str(1 << 20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
              "--size", str(self.tmp_mb << 20), "--tmpfs", WORKDIR, "--chdir", WORKDIR, "--remount-ro", "/"]
        program = None if self.nest else seccomp_program()
        if program is not None:
            read, write = os.pipe()
            os.write(write, program)          # a few hundred bytes: fits the pipe's buffer
            os.close(write)
            self.fds.append(read)
            a += ["--seccomp", str(read)]

    def command(self, argv: list[str]) -> list[str]:
        return [*self.args, "--", *argv]

    @staticmethod
    def popen_user() -> dict:
        """Popen's arguments for the user bwrap runs as: uid 65534 when we are root and it
        can open everything it binds from there, else ourselves."""
        bwrap_works()
        return dict(_bwrap_user)

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    def __enter__(self) -> "Launch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
