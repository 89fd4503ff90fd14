"""The seccomp filter of a sandboxed submission: the kernel calls student code may not make.

A classic-BPF program, assembled here because libseccomp (used through ctypes for the
native architecture and the syscall numbers) cannot say "ioctl unless its request is one of
these". Denied calls fail with EPERM, so Python raises PermissionError and the student sees
a clean message instead of a killed process. The program is handed to bubblewrap
(`--seccomp FD`, applied before the interpreter starts) or, without bubblewrap, loaded by the
child itself (`install`) before the student's first line.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import struct

# processes and memory of others, kernel keyrings, eBPF, perf, mounts and namespaces,
# device nodes and FIFOs, io_uring (its file operations would bypass this filter), modules
DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
          "mknod", "mknodat", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
          "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns", "keyctl", "add_key", "request_key",
          "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
          "kcmp", "open_by_handle_at", "name_to_handle_at", "init_module", "finit_module", "delete_module",
          "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
          "iopl", "ioperm", "fanotify_init", "lookup_dcookie", "vhangup")
# socket families other than AF_UNIX (netlink, inet, packet, ...) are refused
SOCKET_CALLS = ("socket", "socketpair")
AF_UNIX = 1
# ioctl requests Python, numpy and torch make: terminal queries, close-on-exec, non-blocking, bytes waiting
IOCTLS = {"TCGETS": 0x5401, "TIOCGWINSZ": 0x5413, "TIOCGPGRP": 0x540F, "FIONREAD": 0x541B, "FIONBIO": 0x5421,
          "FIONCLEX": 0x5450, "FIOCLEX": 0x5451}
NO_PROCESSES = ("execve", "execveat", "fork", "vfork")
CLONE_THREAD = 0x00010000
# clone() may make threads and processes, not namespaces; clone3 hides its flags in memory
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080

_RET, _LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K = 0x06, 0x20, 0x15, 0x35, 0x45
_ALLOW, _KILL = 0x7FFF0000, 0x80000000


def _errno(code: int) -> int:
    return 0x00050000 | code          # SECCOMP_RET_ERRNO


class _Library:
    """The two libseccomp functions needed: the native arch (AUDIT_ARCH_*) and syscall numbers."""

    def __init__(self):
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        self.lib = ctypes.CDLL(name)
        self.lib.seccomp_arch_native.restype = ctypes.c_uint32
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_syscall_resolve_name.restype = ctypes.c_int

    def arch(self) -> int:
        return self.lib.seccomp_arch_native()

    def number(self, name: str) -> int | None:
        """The native syscall number, or None where this architecture has no such call."""
        nr = self.lib.seccomp_syscall_resolve_name(name.encode())
        return nr if nr >= 0 else None


def program(processes: bool = True) -> bytes:
    """The filter as `struct sock_filter[]` bytes (what `--seccomp FD` reads).

    With `processes=False` it also refuses new processes and programs (fork, vfork, a clone
    that is not a thread, execve): the filter a child adds before the student's code, while
    the zygote above it still forks.

    Raises OSError when libseccomp cannot be loaded (then there is no filter).
    """
    lib = _Library()
    arch = lib.arch()
    code: list[tuple] = []          # (op, jt label or offset, jf label or offset, k)

    def emit(op, k=0, jt=0, jf=0):
        code.append((op, jt, jf, k))

    # seccomp_data: nr (u32) at 0, arch (u32) at 4, args (u64 each, little-endian) from 16
    emit(_LD_W_ABS, 4)
    emit(_JEQ_K, arch, 1, 0)
    emit(_RET, _KILL)                                    # another ABI (i386 on x86_64): no
    emit(_LD_W_ABS, 0)
    if arch == 0xC000003E:                               # x86_64: the x32 ABI's numbers are refused
        emit(_JGE_K, 0x40000000, "deny", 0)
    for name in DENIED + (() if processes else NO_PROCESSES):
        nr = lib.number(name)
        if nr is not None:
            emit(_JEQ_K, nr, "deny", 0)
    for name in SOCKET_CALLS:
        nr = lib.number(name)
        if nr is not None:
            emit(_JEQ_K, nr, "socket", 0)
    emit(_JEQ_K, lib.number("ioctl"), "ioctl", 0)
    emit(_JEQ_K, lib.number("clone"), "clone", 0)
    clone3 = lib.number("clone3")
    if clone3 is not None:
        emit(_JEQ_K, clone3, "nosys", 0)                 # glibc falls back to clone()
    emit(_RET, _ALLOW)
    labels = {"socket": len(code)}
    emit(_LD_W_ABS, 20)                                  # the domain's high half must be 0
    emit(_JEQ_K, 0, 0, "deny")
    emit(_LD_W_ABS, 16)
    emit(_JEQ_K, AF_UNIX, "allow", "deny")
    labels["ioctl"] = len(code)
    emit(_LD_W_ABS, 28)                                  # the request's high half must be 0
    emit(_JEQ_K, 0, 0, "deny")
    emit(_LD_W_ABS, 24)
    for request in IOCTLS.values():
        emit(_JEQ_K, request, "allow", 0)
    emit(_RET, _errno(errno.EPERM))
    labels["clone"] = len(code)
    emit(_LD_W_ABS, 16)
    if processes:
        emit(_JSET_K, CLONE_NAMESPACES, "deny", "allow")
    else:
        emit(_JSET_K, CLONE_NAMESPACES, "deny", 0)
        emit(_JSET_K, CLONE_THREAD, "allow", "deny")
    labels["nosys"] = len(code)
    emit(_RET, _errno(errno.ENOSYS))
    labels["allow"] = len(code)
    emit(_RET, _ALLOW)
    labels["deny"] = len(code)
    emit(_RET, _errno(errno.EPERM))

    out = []
    for i, (op, jt, jf, k) in enumerate(code):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise OverflowError("seccomp program too long for its jumps")
        out.append(struct.pack("=HBBI", op, jt, jf, k))
    return b"".join(out)


def install(bpf: bytes) -> None:
    """Load `bpf` for this process and its future children (no new privileges from then on)."""
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    prog = SockFprog(len(bpf) // 8, bpf)
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
