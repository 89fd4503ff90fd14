"""A submission's own namespaces, entered by a fork of the warm template (`_child.template_main`).

With `bwrap` isolation one bubblewrap sandbox per batch worker holds the *template*: a
process that has imported numpy, torch and arcourse (never the checks, never a student's
code) and forks one process per submission. That fork enters namespaces of its own before
anything of the submission reaches it, so each submission still has its own sandbox, nested
in the template's, while skipping the seconds of imports a fresh interpreter would need:

- `enter` (in the fork, "the keeper"): new user, pid, network, ipc, uts, cgroup and mount
  namespaces; uid and gid 65534 mapped onto themselves; its own size-limited tmpfs at
  `/submission` (the only writable folder) and at `/dev/shm`, hiding the template's. The
  root stays the template's: read-only binds of the interpreter, its libraries and the
  package, the checks hidden.
- `seal` (in the keeper's child, pid 1 of the new pid namespace: the submission's zygote):
  `/proc` and `/dev/pts` hidden under empty read-only folders (`/proc` here would list the
  template's pid namespace, other submissions included, and a fresh one cannot be mounted
  under the template's locked mounts), every capability dropped, then the zygote's seccomp
  filter (`_seccomp.py`).

What one submission can do therefore reaches no other: no process of another is visible or
nameable (pid namespace), no abstract socket or IPC object is shared (network, ipc), no
writable folder is shared (mount), and nothing of the template can be written.
"""
from __future__ import annotations

import ctypes
import os

_NEWNS, _NEWCGROUP, _NEWUTS, _NEWIPC, _NEWUSER, _NEWPID, _NEWNET = (0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                                                    0x10000000, 0x20000000, 0x40000000)
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 1, 2, 4, 8, 1 << 14, 1 << 18
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 47, 4
_CAP_VERSION_3 = 0x20080522
_NAMESPACES = ("user", "pid", "net", "ipc", "uts", "mnt", "cgroup")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {target}")


def die_with_parent(parent: int) -> None:
    """The kernel kills this process when its parent ends (checked against the race of an
    already-ended parent)."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(75)


def namespaces() -> dict[str, str]:
    """This process's namespace identities ("user:[4026531837]", ...), for reports and tests."""
    out = {}
    for name in _NAMESPACES:
        try:
            out[name] = os.readlink(f"/proc/self/ns/{name}")
        except OSError:
            pass
    return out


def enter(folder: str, folder_mb: int) -> None:
    """Move this process into new namespaces with its own writable `folder` of `folder_mb`
    MB; the children it forks from now on start a new pid namespace (see `seal`)."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(_NEWUSER | _NEWNS | _NEWPID | _NEWNET | _NEWIPC | _NEWUTS | _NEWCGROUP), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)          # nothing propagates back to the template
    _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={folder_mb}m,mode=0700")
    _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=1m,mode=0700")
    os.chdir(folder)           # the template's folder, under the new one, is out of reach from here


def seal() -> int:
    """Hide `/proc` and `/dev/pts`, drop every capability; a descriptor of this process's
    `/proc/self/status`, opened before, for the children's memory limit (`_child`)."""
    status = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
    for target in ("/proc", "/dev/pts"):
        if os.path.isdir(target):
            _mount("none", target, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=4k,mode=0555")
    _drop_capabilities()
    return status


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets, and check."""
    cap = 0
    while _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT)")
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    if cap == 0 or any(d.effective or d.permitted or d.inheritable for d in data):
        raise OSError("the submission's process kept capabilities")
