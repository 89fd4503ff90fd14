"""Hostile submissions against the operating system's containment (bubblewrap + seccomp).

Every attack class of issue 15, by several routes where it has several, graded as one class
of students with two workers, with the audit hook switched OFF (`Limits(audit_hook=False)`):
what holds here holds because of the sandbox, not because of Python. Each attacker writes
its toy-exercise answers so that the exact score shows whether an attack got through (the
answer is right only when every route was refused, or, for a stub that steals, only when a
theft worked); stand-in victim files live in temporary folders and must come out unchanged;
two innocent classmates graded after the attackers must get their exact scores.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import site
import stat
import threading
import time
from pathlib import Path

import pytest

from arcourse import cli
from arcourse.grading import Limits, grade, grade_many, write_csv
from arcourse.grading import _isolation, report, runner
from arcourse.grading.report import format_report, gradescope_results
from grading_toy import CHECKS, POINTS, SOLUTION, variant

pytestmark = pytest.mark.skipif(not _isolation.bwrap_works(),
                                reason=f"bubblewrap cannot start a sandbox here: {_isolation.bwrap_problem()}")

OS_ONLY = Limits(question_seconds=4.0, submission_seconds=90.0, memory_mb=400, result_mb=1, audit_hook=False)
GRADER_MODULE = Path(runner.__file__).with_name("api.py")      # imported lazily by the grader
SITE = Path(site.getsitepackages()[0])
PTH = SITE / "zz_arcourse_attack.pth"
FULL = sum(POINTS.values())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _points(result) -> dict[str, float]:
    return {q: got for q, (got, _) in result.by_question().items()}


def _expect(result, lost: set[str]) -> None:
    assert _points(result) == {q: (0.0 if q in lost else most) for q, most in POINTS.items()}, (
        _points(result), format_report(result))


def _messages(result, question: str) -> str:
    return "\n".join(t.message for t in result.tests if t.question == question)


# ------------------------------------------------------------------ the world around the grader

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    checks = root / "checks"
    shutil.copytree(CHECKS, checks)
    solutions = root / "solutions"
    solutions.mkdir()
    shutil.copy(SOLUTION, solutions / SOLUTION.name)
    other = root / "other_checkout"                       # another copy of the course, and a git pack
    (other / "solutions").mkdir(parents=True)
    shutil.copy(SOLUTION, other / "solutions" / SOLUTION.name)
    (other / ".git" / "objects" / "pack").mkdir(parents=True)
    (other / ".git" / "objects" / "pack" / "pack-1.pack").write_bytes(SOLUTION.read_bytes())
    victims = root / "victims"
    victims.mkdir()
    (victims / "keep.txt").write_text("precious")
    results = root / "results"
    results.mkdir()
    klass = root / "class"
    klass.mkdir()
    return {"root": root, "checks": checks, "solution": solutions / SOLUTION.name, "solutions": solutions,
            "other": other, "victims": victims, "results": results, "class": klass,
            "repo_solution": Path(runner.__file__).resolve().parents[2] / "solutions" / "ex01_chain_rule.py",
            "repo_git": Path(runner.__file__).resolve().parents[2] / ".git"}


REFUSED_UNLESS = """
    import os
    got_through = []
    def attempt(name, action):
        try:
            outcome = action()
        except (OSError, MemoryError, RuntimeError):     # refused: exactly what must happen
            return
        except BaseException as err:                     # an attack that does not work proves nothing
            outcome = f"broken attack: {err!r}"
        got_through.append(f"{name}: {outcome!r}"[:200])
    def report(got_through):
        if got_through:
            raise AssertionError("GOT THROUGH: " + "; ".join(got_through))
"""


def _attackers(world) -> dict[str, tuple[Path, set[str]]]:
    """name -> (submission, questions it must lose)."""
    w = {k: str(v) for k, v in world.items()}
    klass = world["class"]
    out = {}

    # processes (private aliases, posix_spawn, fork, pty, os.system), ctypes (libc system/fork/ptrace,
    # raw memory writes), signals and pidfds, netlink/inet/packet sockets, ioctls
    out["procs"] = (variant(klass, "procs", {
        "softmax": REFUSED_UNLESS + """
    import subprocess, pty, sys, importlib.util
    python = sys.executable.encode()
    def spawn(fork_exec):
        r, w = os.pipe()
        return fork_exec([python, b"-c", b"pass"], [python], True, (), None, None, -1, -1, -1, -1, -1, -1,
                         r, w, False, False, -1, None, None, -1, -1, None, False)
    attempt("subprocess._fork_exec (a private alias)", lambda: spawn(subprocess._fork_exec))
    spec = importlib.util.find_spec("_posixsubprocess")
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)          # a fresh copy of the module: fork_exec is back
    attempt("a fresh _posixsubprocess.fork_exec", lambda: spawn(fresh.fork_exec))
    attempt("posix_spawn", lambda: os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], {}))
    attempt("fork", lambda: os.fork() or 1)
    attempt("pty.fork", pty.fork)
    attempt("subprocess.run", lambda: subprocess.run([sys.executable, "-c", "pass"]))
    attempt("exec", lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"]))
    report(got_through)
    return x.softmax(-1)""",
        "running_mean": REFUSED_UNLESS + """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    blob = b"untouchable"
    ctypes.memmove(id(blob) + 32, b"TOUCHED", 7)    # raw memory writes work, in this process only
    assert blob.startswith(b"TOUCHED")
    def ok(value):                          # refused by the kernel's filter: -1 with EPERM
        if value == -1 and ctypes.get_errno() == 1:
            raise OSError(1, "refused")
        return value
    # glibc's system() reports a refused spawn as exit status 127, with errno EPERM
    attempt("libc.system", lambda: ok(-1 if libc.system(b"true") == 127 << 8 else 0))
    attempt("libc.fork", lambda: ok(libc.fork()))
    attempt("ptrace(ATTACH, parent)", lambda: ok(libc.syscall(101, 16, os.getppid(), 0, 0)))
    attempt("process_vm_readv", lambda: ok(libc.syscall(310, os.getppid(), 0, 0, 0, 0, 0)))
    attempt("unshare(user)", lambda: ok(libc.unshare(0x10000000)))
    attempt("setns", lambda: ok(libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0)))
    attempt("keyctl", lambda: ok(libc.syscall(250, 0, -3, 1, 0, 0)))
    attempt("bpf", lambda: ok(libc.syscall(321, 0, 0, 0)))
    attempt("perf_event_open", lambda: ok(libc.syscall(298, 0, 0, -1, -1, 0)))
    attempt("mount", lambda: ok(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
    import numpy as np
    xs = np.asarray(xs, dtype=float)
    if xs.size == 0:
        raise ValueError("empty")
    report(got_through)
    return np.cumsum(xs) / np.arange(1, xs.size + 1)""",
        "bigram_counts": REFUSED_UNLESS + """
    import signal
    attempt("pidfd_open(parent)", lambda: os.pidfd_open(os.getppid()))
    attempt("pidfd_open(1)", lambda: os.pidfd_open(1))
    attempt("signal.pidfd_send_signal", lambda: signal.pidfd_send_signal(0, signal.SIGKILL))
    counts = {}
    for a, b in zip(text, text[1:]):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    report(got_through)
    return counts""",
        "RunningStats.update": REFUSED_UNLESS + """
    import socket, fcntl, struct
    attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
    attempt("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    attempt("inet6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
    attempt("socketpair(inet)", lambda: socket.socketpair(socket.AF_INET))
    open("flags", "w").close()
    with open("flags", "r+") as mine, open("flags", "rb") as read_only:
        for fd in (mine.fileno(), read_only.fileno()):
            attempt("FS_IOC_GETFLAGS", lambda: fcntl.ioctl(fd, 0x80086601, struct.pack("l", 0)))
            attempt("FS_IOC_SETFLAGS", lambda: fcntl.ioctl(fd, 0x40086602, struct.pack("l", 0x10)))
        attempt("ioctl with high bits", lambda: fcntl.ioctl(mine.fileno(), 0x1_00005401, b"\\0" * 64))
    attempt("TIOCSTI", lambda: fcntl.ioctl(0, 0x5412, b"x"))
    report(got_through)
    self.count += 1
    self.total += value""",
    }), set())

    # files through C code: steal the solutions (numpy, torch, open; other checkouts, a git pack)
    out["thief"] = (variant(klass, "thief", {"softmax": f"""
    import numpy as np, torch, os
    stolen = None
    for path in ({w['solution']!r}, {str(world['other'] / 'solutions' / SOLUTION.name)!r},
                 {str(world['other'] / '.git/objects/pack/pack-1.pack')!r}, {w['repo_solution']!r}):
        for read in (lambda p: np.fromfile(p, dtype=np.uint8).tobytes().decode(),
                     lambda p: bytes(torch.from_file(p, size=os.path.getsize(p), dtype=torch.uint8)).decode(),
                     lambda p: open(p).read()):
            try:
                stolen = stolen or read(path)
            except BaseException:
                pass
    for folder in ({w['repo_git']!r}, {w['checks']!r}, {w['root']!r}):
        try:
            stolen = stolen or str(os.listdir(folder))
        except BaseException:
            pass
    if stolen and "def softmax" in stolen:
        space = {{}}
        exec(stolen, space)
        return space["softmax"](x)
    return x"""}), {"softmax"})

    # files through C code: overwrite the checks, a classmate, a grader module; plant a .pth; FIFOs
    out["vandal"] = (variant(klass, "vandal", {
        "running_mean": REFUSED_UNLESS + f"""
    import numpy as np, torch
    forged = "def test_everything():\\n    pass\\n"
    attempt("torch.save over the checks", lambda: torch.save(forged, {str(world['checks'] / 'test_ex99.py')!r}))
    attempt("tofile over the checks", lambda: np.frombuffer(forged.encode(), np.uint8).tofile(
        {str(world['checks'] / 'test_ex99.py')!r}))
    attempt("tofile over alice", lambda: np.zeros(4, np.uint8).tofile({str(klass / 'ex99_alice.py')!r}))
    attempt("torch.save over bob", lambda: torch.save(0, {str(klass / 'ex99_bob.py')!r}))
    attempt("append to a grader module", lambda: open({str(GRADER_MODULE)!r}, "a").write("\\nraise SystemExit\\n"))
    attempt(".pth in site-packages", lambda: torch.save("import os", {str(PTH)!r}))
    attempt("a file beside the class", lambda: np.zeros(1).tofile({str(world['victims'] / 'new.bin')!r}))
    attempt("remove a victim", lambda: os.remove({str(world['victims'] / 'keep.txt')!r}))
    attempt("forge the results", lambda: open({str(world['results'] / 'results.json')!r}, "w").write('{{"score": 99}}'))
    xs = np.asarray(xs, dtype=float)
    if xs.size == 0:
        raise ValueError("empty")
    report(got_through)
    return np.cumsum(xs) / np.arange(1, xs.size + 1)""",
        "RunningStats.update": REFUSED_UNLESS + f"""
    attempt("FIFO at the results", lambda: os.mkfifo({str(world['results'] / 'results.json')!r}))
    attempt("FIFO in the class folder", lambda: os.mkfifo({str(klass / 'ex99_zz.py')!r}))
    attempt("FIFO of its own", lambda: os.mkfifo("own_fifo"))
    attempt("mknod", lambda: os.mknod("node", 0o600 | 0o010000))
    report(got_through)
    self.count += 1
    self.total += value""",
    }), set())

    # memory: MAP_SHARED and memfd mappings count against RLIMIT_AS; /dev/shm and the folder are small
    out["hog"] = (variant(klass, "hog", {"bigram_counts": REFUSED_UNLESS + """
    import mmap
    def shared(size):
        area = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        for i in range(0, size, 4096):
            area[i] = 1
        return size
    def memfd(size):
        fd = os.memfd_create("hog")
        os.ftruncate(fd, size)
        area = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
        area[size - 1] = 1
        return size
    def shm(size):
        with open("/dev/shm/hog", "wb") as f:
            f.write(b"x" * size)
        return size
    attempt("MAP_SHARED 1.5 GB", lambda: shared(1536 * 2**20))
    attempt("memfd 1.5 GB", lambda: memfd(1536 * 2**20))
    attempt("/dev/shm 64 MB", lambda: shm(64 * 2**20))
    counts = {}
    for a, b in zip(text, text[1:]):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    report(got_through)
    return counts"""}), set())

    # the grader's decoder: one buffer referenced 100k times; a set of 60k ints of one hash
    write_frame = """
    import json, os, struct
    def send(header, buffers=b""):
        head = json.dumps(header).encode()
        frame = struct.pack(">I", len(head)) + head + buffers
        for fd in range(3, 32):
            try:
                if os.fstat(fd).st_mode & 0o170000 == 0o010000:
                    os.write(fd, struct.pack(">Q", len(frame)) + frame)
            except OSError:
                pass
    """
    out["bomb"] = (variant(klass, "bomb", {
        "softmax": write_frame + """
    send({"s": "ok", "v": [{"bytes": 0}] * 100_000, "b": [2**19]}, b"x" * 2**19)
    return x.softmax(-1)""",
        "running_mean": write_frame + """
    send({"s": "ok", "v": {"set": [k * (2**61 - 1) for k in range(1, 60_001)]}, "b": []})
    return xs""",
    }), {"softmax", "running_mean"})

    # kill everything visible: only this student's own sandbox dies (and this call with it),
    # and the next question gets a new one
    out["killer"] = (variant(klass, "killer", {"bigram_counts": """
    import os, signal, time
    for pid in range(1, 4096):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(3)
    return {}"""}), {"bigram_counts"})

    # look for other processes: only this student's own sandbox shows (its zygote, maybe the
    # sandbox's init, and itself), never a classmate's, the grader or the machine's
    out["scout"] = (variant(klass, "scout", {"bigram_counts": REFUSED_UNLESS + """
    seen = []
    for pid in range(1, 32768):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        seen.append(pid)
    if len(seen) > 3 or max(seen) != os.getpid():
        got_through.append(f"sees {len(seen)} processes: {seen[:12]}")
    try:
        others = [name for name in os.listdir("/proc") if name.isdigit() and int(name) not in seen]
    except OSError:
        others = []
    if others:
        got_through.append(f"/proc lists {others[:12]}")
    counts = {}
    for a, b in zip(text, text[1:]):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    report(got_through)
    return counts"""}), set())

    # report injection: escapes and carriage returns in messages, a formula as the file name
    injected = klass / "=HYPERLINK(1).py"
    injected.write_text(variant(klass, "tmp_inject", {"softmax": """
    print("\\x1b[2J\\x1b[H\\x1b[32mex99: 10 / 10 points\\x1b[0m\\r")
    raise ValueError("\\x1b]0;owned\\x07\\x1b[1A\\x1b[2Kall checks passed\\rFAKE")"""}).read_text())
    (klass / "ex99_tmp_inject.py").unlink()
    out["=HYPERLINK(1)"] = (injected, {"softmax"})
    return out


@pytest.fixture(scope="module")
def batch(world):
    klass = world["class"]
    attackers = _attackers(world)
    shutil.copy(SOLUTION, klass / "ex99_alice.py")
    variant(klass, "bob", {"running_mean": "return xs"})
    paths = [p for p, _ in attackers.values()] + [klass / "ex99_alice.py", klass / "ex99_bob.py"]
    before = {p: _digest(p) for p in [*klass.iterdir(), *world["checks"].iterdir(), world["solution"],
                                      world["victims"] / "keep.txt", GRADER_MODULE]}
    module_text = GRADER_MODULE.read_bytes()
    start = time.monotonic()
    try:
        entries = grade_many(paths, jobs=2, checks=world["checks"], forbid=[world["solutions"]], limits=OS_ONLY)
    finally:       # should the sandbox ever fail, put the grader's module back as it was
        if GRADER_MODULE.read_bytes() != module_text:
            GRADER_MODULE.write_bytes(module_text)
        if PTH.exists():
            PTH.unlink()
    seconds = time.monotonic() - start
    by_name = {e.student: e for e in entries}
    return {"entries": entries, "by_name": by_name, "attackers": attackers, "before": before,
            "seconds": seconds, "module_text": module_text}


def _result(batch, name):
    entry = batch["by_name"][name if name.startswith("=") else f"ex99_{name}"]
    assert entry.result is not None, entry.error
    assert entry.result.isolation == "bwrap"
    return entry.result


# ------------------------------------------------------------------ the assertions

@pytest.mark.parametrize("name", ["procs", "thief", "vandal", "hog", "bomb", "killer", "scout", "=HYPERLINK(1)"])
def test_each_attacker_scores_exactly_what_it_earned(batch, name):
    path, lost = batch["attackers"][name]
    _expect(_result(batch, name), lost)


def test_innocent_classmates_get_their_exact_scores(batch):
    assert _result(batch, "alice").score == FULL
    _expect(_result(batch, "bob"), {"running_mean"})
    assert all(not e.error for e in batch["entries"]), [e.error for e in batch["entries"] if e.error]


def test_no_file_outside_the_sandboxes_was_created_changed_or_deleted(batch, world):
    for path, digest in batch["before"].items():
        assert path.is_file() and not path.is_symlink(), path
        assert _digest(path) == digest, f"{path} was changed"
    assert sorted(p.name for p in world["victims"].iterdir()) == ["keep.txt"]
    assert list(world["results"].iterdir()) == []
    assert {p.name for p in world["class"].iterdir()} == {p.name for p in batch["before"] if p.parent == world["class"]}
    assert not PTH.exists() and GRADER_MODULE.read_bytes() == batch["module_text"]
    assert not any(stat.S_ISFIFO(p.lstat().st_mode) for p in world["root"].rglob("*"))


def test_the_grader_survived_within_its_limits(batch):
    # eight attackers and two classmates on two workers, each within its 90 s budget
    assert batch["seconds"] < 10 * OS_ONLY.submission_seconds / 2
    for name in ("procs", "vandal", "hog", "bomb"):
        assert _result(batch, name).seconds < OS_ONLY.submission_seconds


def test_decoder_bombs_are_refused_quickly(batch):
    result = _result(batch, "bomb")
    assert "buffer 0 is referenced twice" in _messages(result, "softmax")
    assert "share one hash value" in _messages(result, "running_mean")
    assert result.seconds < 60


def test_a_killed_sandbox_is_replaced_for_the_next_question(batch):
    result = _result(batch, "killer")
    message = _messages(result, "bigram_counts")
    assert "the process running your code" in message or "was stopped after" in message, message
    assert result.by_question()["running_stats"] == (2.0, 2.0)


def test_what_the_attackers_tried_shows_in_their_messages_as_refusals(batch):
    thief = _result(batch, "thief")
    assert "softmax(x) is wrong" in _messages(thief, "softmax")      # nothing was stolen


def test_report_injection_is_cleaned(batch, world, tmp_path):
    result = _result(batch, "=HYPERLINK(1)")
    text = format_report(result) + json.dumps(gradescope_results(result))
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "all checks passedFAKE" in text or "all checks passed" in text
    out = tmp_path / "grades.csv"
    write_csv(batch["entries"], out)
    rows = {row["file"]: row for row in csv.DictReader(out.open())}
    assert "'=HYPERLINK(1).py" in rows and rows["'=HYPERLINK(1).py"]["student"] == "'=HYPERLINK(1)"
    assert "\x1b" not in out.read_text()


def test_each_submission_gets_namespaces_of_its_own():
    """Two submissions' sandboxes forked from one worker's template (`_nest.py`): every
    namespace differs between them and from the template's."""
    from arcourse.grading import sandbox

    first, second = sandbox._Zygote(16), sandbox._Zygote(16)
    try:
        first.wait()
        second.wait()
        if first.template is None:
            pytest.skip(f"this kernel refuses nested namespaces (one bubblewrap sandbox each): "
                        f"{sandbox._template(()).wait()['problem']}")
        assert second.template is first.template
        template = first.template.wait()["namespaces"]
        for kind in ("user", "pid", "net", "ipc", "uts", "mnt", "cgroup"):
            assert len({first.namespaces[kind], second.namespaces[kind], template[kind]}) == 3, kind
    finally:
        first.close()
        second.close()


def test_where_nesting_is_refused_each_submission_gets_a_bubblewrap_sandbox_of_its_own():
    """The fallback of a kernel without nested user namespaces (`sandbox.NESTED = False`
    takes the same path): one bubblewrap sandbox per submission, which grades exactly."""
    import subprocess
    import sys

    code = ("import sys; from arcourse.grading import grade, sandbox; sandbox.NESTED = False; "
            "zygote = sandbox._Zygote(16); zygote.wait(); alone = zygote.template is None and zygote.alive(); "
            "zygote.close(); r = grade(sys.argv[1], checks=sys.argv[2]); print(alone, r.isolation, float(r.score))")
    out = subprocess.run([sys.executable, "-c", code, str(SOLUTION), str(CHECKS)], capture_output=True, text=True,
                         timeout=600)
    assert out.stdout.split() == ["True", "bwrap", str(float(FULL))], out.stderr[-2000:]


def test_csv_cells_cannot_start_formulas(tmp_path):
    from arcourse.grading.runner import BatchEntry

    entries = [BatchEntry(tmp_path / f"{lead}x.py", error=f"{lead}cmd|' /C calc'!A0") for lead in "=+-@\t"]
    entries.append(BatchEntry(tmp_path / "\r=x.py", error="\r=cmd"))       # a carriage return is removed
    out = tmp_path / "grades.csv"
    write_csv(entries, out)
    rows = list(csv.DictReader(out.open(newline="")))
    assert len(rows) == 6
    for row in rows:
        assert row["student"].startswith("'") and row["error"].startswith("'") and row["total"] == ""
        assert row["file"].startswith("'") and "\r" not in row["file"] + row["error"]


# ------------------------------------------------------------------ results files

def test_a_fifo_at_the_results_path_does_not_block_gradescope(tmp_path):
    from arcourse.grading.gradescope import main

    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    shutil.copy(SOLUTION, root / "submission" / SOLUTION.name)
    (root / "results").mkdir()
    fifo = root / "results" / "results.json"
    os.mkfifo(fifo)
    outcome = {}
    os.environ[runner.CHECKS_ENV] = str(CHECKS)
    try:
        worker = threading.Thread(target=lambda: outcome.setdefault("code", main(["--root", str(root),
                                                                                   "--exercise", "ex99"])))
        worker.start()
        worker.join(240)
    finally:
        del os.environ[runner.CHECKS_ENV]
    assert not worker.is_alive(), "the autograder blocked on the FIFO"
    assert outcome["code"] == 1 and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_results_are_written_atomically_and_never_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("untouched")
    link = tmp_path / "results.json"
    link.symlink_to(target)
    with pytest.raises(runner.GraderError, match="not a regular file"):
        report.write_json({"score": 1}, link)
    assert target.read_text() == "untouched"
    plain = tmp_path / "plain.json"
    report.write_json({"score": 2}, plain)
    assert json.loads(plain.read_text()) == {"score": 2}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []      # no temporary left


# ------------------------------------------------------------------ bad notebooks, fallbacks

def test_bad_notebooks_give_a_clear_message(tmp_path):
    from arcourse.cli.build import to_notebook_json

    notebook = json.loads(to_notebook_json(SOLUTION.read_text()))
    checks = [c for c in notebook["cells"] if c["cell_type"] == "code"
              and "".join(c["source"]).startswith(("assert", "print(", "stats ="))]     # scratch, not definitions
    checks[0]["source"] = 5
    checks[1]["source"] = [1, 2]
    path = tmp_path / "ex99_bad.ipynb"
    path.write_text(json.dumps(notebook))
    result = grade(path, checks=CHECKS)
    assert result.score == FULL
    assert sum("its source is not text" in p for p in result.problems) == 2
    py = tmp_path / "ex99_bytes.py"
    py.write_bytes(SOLUTION.read_bytes().replace(b"# %% [markdown]", b"# caf\xe9 \xff\n# %% [markdown]", 1))
    result = grade(py, checks=CHECKS)
    assert result.score == FULL
    assert any("not all UTF-8 (line" in p and "read as cp1252" in p for p in result.problems)   # named, not a traceback
    assert not any("Traceback" in p for p in result.problems)


def test_without_isolation_a_folder_is_refused_unless_told(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runner, "isolation_problem", lambda: "no sandbox in this test")
    with pytest.raises(runner.GraderError, match="--no-isolation"):
        grade_many([SOLUTION], checks=CHECKS)
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SOLUTION, folder / "ex99_a.py")
    assert cli.main(["grade", str(folder), "--checks", str(CHECKS)]) == 3
    assert "--no-isolation" in capsys.readouterr().err
    assert cli.main(["grade", str(folder), "--checks", str(CHECKS), "--no-isolation", "--jobs", "1"]) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid fallback needs the grader to run as root")
def test_the_uid_fallback_runs_student_code_as_nobody(tmp_path):
    """Without bubblewrap (forced here), a root grader runs student code as uid 65534 under
    the same seccomp filter and limits."""
    import subprocess
    import sys

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.chmod(tmp_path, 0o700)
    path = variant(tmp_path, "nobody", {
        "softmax": "import os\nreturn x.softmax(-1) if os.getuid() == 65534 else x",
        "running_mean": REFUSED_UNLESS + f"""
    import numpy as np
    attempt("tofile", lambda: np.zeros(1).tofile({str(victim)!r}))
    attempt("fork", lambda: os.fork() or 1)
    attempt("netlink", lambda: __import__("socket").socket(16, 3, 0))
    xs = np.asarray(xs, dtype=float)
    if xs.size == 0:
        raise ValueError("empty")
    report(got_through)
    return np.cumsum(xs) / np.arange(1, xs.size + 1)"""})
    code = ("import sys; from arcourse.grading import grade, Limits; "
            f"r = grade({str(path)!r}, checks={str(CHECKS)!r}, limits=Limits(audit_hook=False)); "
            "print(r.isolation, r.score == r.max_score == 10)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, _isolation.MODE_ENV: "uid"})
    assert out.stdout.split() == ["uid", "True"], out.stderr[-2000:]
    assert victim.read_text() == "keep"
