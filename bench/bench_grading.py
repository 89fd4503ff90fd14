"""How long grading takes: the sandbox's overhead, one submission (cold and warm) and a class.

    .venv/bin/python bench/bench_grading.py            # the first course exercise, else the toy
    .venv/bin/python bench/bench_grading.py --exercise ex03 --n 30 --jobs 2

Sandbox overhead = a warm submission graded with the machine's isolation (bubblewrap, each
submission's sandbox started ahead while the previous one is graded, as a batch's workers
do) minus the same with none; also the time to start one more sandbox (with bubblewrap
a fork of the worker's template entering namespaces of its own, `_nest.py`) and the
template's own start (bubblewrap and the imports inside it, once per worker). Cold = a
fresh `arcourse grade` process (imports, the sandbox, the checks); warm = another
submission graded in a process that already graded one; batch = `n` copies (half solutions, half untouched exercises) graded by `arcourse grade FOLDER --csv`.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "grading_toy"


def _pick(exercise: str | None) -> tuple[Path, Path, Path | None]:
    """(solution, exercise stub, checks folder or None for the package's)."""
    from arcourse.cli.build import make_exercise

    solutions = sorted((ROOT / "solutions").glob(f"{exercise or 'ex'}[0-9_]*.py")) if exercise != "ex99" else []
    if solutions:
        solution = solutions[0]
        return solution, ROOT / "exercises" / solution.name, None
    stub = Path(tempfile.mkdtemp(prefix="bench-grading-")) / "ex99_toy.py"
    stub.write_text(make_exercise((TOY / "solutions" / "ex99_toy.py").read_text()))
    return TOY / "solutions" / "ex99_toy.py", stub, TOY / "checks"


class CpuGroup:
    """A cgroup (v1 cpuacct or v2) that counts the CPU time of a command and of every process
    it starts, reaped or not (a batch's workers and sandboxes are not all reaped by the
    command, so its rusage misses them). CPU time, unlike wall time, does not grow with what
    else runs on the machine. `make()` is None where no cgroup can be made (not root, no
    delegation): then only wall time is printed."""

    def __init__(self, path: Path, usage):
        self.path, self._usage = path, usage

    @classmethod
    def make(cls) -> "CpuGroup | None":
        name = f"arcourse-bench-{os.getpid()}"
        for root, marker, usage in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage", cls._v1_usage),
                                    (Path("/sys/fs/cgroup"), "cgroup.controllers", cls._v2_usage)):
            try:
                if (root / marker).exists():
                    (root / name).mkdir()
                    return cls(root / name, usage)
            except OSError:
                continue
        return None

    @staticmethod
    def _v1_usage(path: Path) -> float:
        return int((path / "cpuacct.usage").read_text()) / 1e9

    @staticmethod
    def _v2_usage(path: Path) -> float:
        fields = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
        return int(fields["usage_usec"]) / 1e6

    def join(self) -> None:
        """Move the calling process into the group (a subprocess's preexec_fn)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> float:
        """The group's CPU seconds; the group is removed (once its processes have ended)."""
        used = self._usage(self.path)
        for _ in range(50):
            try:
                self.path.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        return used


_WARM = """
import statistics, sys, time
from arcourse.grading import _isolation, grade, sandbox
sandbox.keep_warm()
solution, checks = sys.argv[1], sys.argv[2] or None
grade(solution, checks=checks)
seconds = []
for _ in range(3):
    start = time.perf_counter()
    grade(solution, checks=checks)
    seconds.append(time.perf_counter() - start)
hidden = next(iter(sandbox._templates), ())    # what the grades hid: their template, warm
start = time.perf_counter()
zygote = sandbox._Zygote(64, hidden)
zygote.wait()
boot = time.perf_counter() - start
zygote.close()
template = -1.0
if sandbox._templates:      # a bwrap template: what its cold start costs a worker, once
    start = time.perf_counter()
    sandbox._Template(hidden).wait()
    template = time.perf_counter() - start
print(_isolation.mode(), statistics.median(seconds), boot, template)
"""


def _warm(mode: str, solution: Path, checks: Path | None) -> tuple[str, float, float, float]:
    """(mode, median warm seconds per submission, seconds to start one more sandbox, seconds
    to start a template or -1 without one) in a fresh process."""
    env = {**os.environ, "ARCOURSE_ISOLATION": mode} if mode else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", _WARM, str(solution), str(checks or "")], env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return out[0], float(out[1]), float(out[2]), float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exercise", help="exNN (default: the first in solutions/, else the toy ex99)")
    parser.add_argument("--n", type=int, default=30, help="submissions in the batch")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel workers for the batch")
    args = parser.parse_args()
    solution, stub, checks = _pick(args.exercise)
    extra = ["--checks", str(checks)] if checks else []
    arcourse = [sys.executable, "-m", "arcourse.cli"]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min)")
    print(f"exercise: {solution.name}" + (" (the toy exercise of tests/grading_toy)" if checks else ""))

    mode, isolated, boot, template = _warm("", solution, checks)
    _, bare, bare_boot, _ = _warm("none", solution, checks)
    nested = (f" forked from the worker's template, whose own start took {template:.2f} s once"
              if template >= 0 else "")
    print(f"sandbox ({mode}): {isolated - bare:+.2f} s per warm submission ({isolated:.2f} s isolated, "
          f"{bare:.2f} s with none; median of 3); starting one more sandbox takes {boot:.2f} s{nested} "
          f"({bare_boot:.2f} s for a bare process with none), hidden while the previous submission is graded")

    cold, cpu = [], []
    for _ in range(2):
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([*arcourse, "grade", str(solution), *extra], check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cold.append(time.perf_counter() - start)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    best = cold.index(min(cold))
    print(f"one submission, cold (new `arcourse grade` process): {cold[best]:.2f} s wall, {cpu[best]:.2f} s CPU "
          "(grader, sandbox and student together; best of 2)")

    from arcourse.grading import grade

    grade(solution, checks=checks)
    for label, path in (("solution", solution), ("untouched exercise", stub)):
        warm = []
        for _ in range(3):
            start = time.perf_counter()
            result = grade(path, checks=checks)
            warm.append(time.perf_counter() - start)
        print(f"one submission, warm ({label}, {result.score:g}/{result.max_score:g}): "
              f"{statistics.median(warm):.2f} s (median of 3)")

    folder = Path(tempfile.mkdtemp(prefix="bench-grading-class-"))
    for i in range(args.n):
        source = solution if i % 2 == 0 else stub
        shutil.copy(source, folder / f"student{i:02d}{source.suffix}")
    out = folder / "grades.csv"
    group = CpuGroup.make()
    start = time.perf_counter()
    subprocess.run([*arcourse, "grade", str(folder), "--csv", str(out), "--jobs", str(args.jobs), *extra],
                   check=True, capture_output=True, preexec_fn=group.join if group else None)
    seconds = time.perf_counter() - start
    rows = list(csv.DictReader(out.open()))
    graded = sum(1 for r in rows if not r["error"])
    cpu = ""
    if group:
        used = group.close()
        cpu = (f"; {used:.1f} s CPU in all ({used / args.n:.2f} s per submission; over {os.cpu_count()} cores "
               f"at best {used / (os.cpu_count() or 1):.1f} s wall on a quiet machine)")
    print(f"batch of {args.n} ({args.jobs} workers): {seconds:.1f} s wall, {seconds / args.n:.2f} s per "
          f"submission, {graded}/{len(rows)} graded{cpu}")
    shutil.rmtree(folder, ignore_errors=True)
    if checks:                      # the toy's stub was written to a temporary folder
        shutil.rmtree(stub.parent, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (timings grow with it on a shared machine)")


if __name__ == "__main__":
    main()
