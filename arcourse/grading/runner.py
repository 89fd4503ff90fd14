"""Grading submissions: run an exercise's pytest checks against the student's code.

The checks for exercise exNN are `test_exNN.py` in the checks folder (the package's
`arcourse/grading/checks/`, or another folder given as `checks=` or `ARCOURSE_CHECKS`).
pytest runs them here, in the grader's process, with a plugin that hands each question's
tests a `student` proxy into the sandboxed submission (`sandbox.py`) and adds up points per
question. A folder of submissions is graded in parallel by a pool of worker processes.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from arcourse.grading import _isolation, _workers
from arcourse.grading.sandbox import (Budget, GraderError, Limits, Sandbox, StudentCrash, StudentError,
                                      StudentTimeout, clean_text, font_list, keep_warm, prestart,
                                      stop_warming)
from arcourse.grading.submission import SubmissionError, read_submission
from arcourse.grading import forbid as write_yourself, hidden as hidden_checks

CHECKS = Path(__file__).parent / "checks"
CHECKS_ENV = "ARCOURSE_CHECKS"
_MESSAGE_LIMIT = 1500
_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class TestResult:
    question: str
    name: str            # the test's name, e.g. "test_rows_sum_to_one"
    what: str            # what it checks: its docstring's first line, or the name in words
    score: float
    max_score: float
    status: str          # passed | failed | not_implemented | timeout | crashed | grader_error | delegated
    message: str = ""
    hidden: bool = False  # a hidden check (hidden.py): not shipped to students

    __test__ = False     # not a pytest test class

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class GradeResult:
    submission: Path
    exercise: str
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)   # question -> what it is about
    seconds: float = 0.0
    isolation: str = ""          # how the student's code was contained: bwrap | uid | none
    skipped: list[str] = field(default_factory=list)     # statements the reader left out, and why
    hidden_pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # hidden checks not run here

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def by_question(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            got, most = out.get(t.question, (0.0, 0.0))
            out[t.question] = (got + t.score, most + t.max_score)
        return out


def checks_folder(checks: str | Path | None = None) -> Path:
    """The folder of check files: `checks`, else $ARCOURSE_CHECKS, else the package's."""
    folder = Path(checks or os.environ.get(CHECKS_ENV) or CHECKS).resolve()
    if not folder.is_dir():
        raise GraderError(f"the checks folder {folder} does not exist")
    return folder


def checks_for(exercise: str, checks: str | Path | None = None) -> Path:
    folder = checks_folder(checks)
    path = folder / f"test_{exercise}.py"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("test_") for p in folder.glob("test_ex*.py"))
        raise SubmissionError(f"there are no checks for exercise {exercise!r}; known exercises: "
                              f"{', '.join(known) or 'none'}")
    return path


def forbidden_folders(checks: Path, extra=()) -> list[Path]:
    """What the student's code may not read: the checks, the course's solutions, `extra`."""
    candidates = [checks, CHECKS, Path(__file__).resolve().parents[2] / "solutions", Path.cwd() / "solutions",
                  *map(Path, extra)]
    return [p.resolve() for p in candidates if p.exists()]


def _words(name: str) -> str:
    base, _, params = name.partition("[")
    text = base.removeprefix("test_").replace("_", " ")
    return text + (f" [{params}" if params else "")


def _first_error(err: BaseException) -> BaseException:
    """The first real failure inside exception groups (hypothesis may report several)."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err


def _shorten(text: str) -> str:
    text = clean_text(text).strip()
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT - 3] + "..."


def _classify(err: BaseException) -> tuple[str, str]:
    """(status, message) for a failed test."""
    err = _first_error(err)
    notes = [n for n in getattr(err, "__notes__", []) if isinstance(n, str) and not n.startswith("You can reproduce")]
    # hypothesis's failing example, without the test's own `self` and `student` arguments
    extra = "".join("\n" + "\n".join(line for line in n.splitlines()
                                      if not re.match(r"\s+(self|student)=", line)) for n in notes)
    if isinstance(err, NotImplementedError) and isinstance(err, StudentError):
        hint = err.message.strip()
        return "not_implemented", "not implemented yet" + (f" (hint: {hint})" if hint else "")
    if isinstance(err, StudentTimeout):
        return "timeout", _shorten(str(err))
    if isinstance(err, StudentCrash):
        return "crashed", _shorten(str(err))
    if isinstance(err, StudentError) and err.kind == write_yourself.ERROR:
        return write_yourself.STATUS, _shorten(err.message)
    if isinstance(err, StudentError):
        return "failed", _shorten(str(err) + extra)
    if isinstance(err, GraderError):
        return "grader_error", _shorten(f"grader problem (not your fault): {err}")
    if isinstance(err, AssertionError):
        return "failed", _shorten((str(err) or "a check failed") + extra)
    return "failed", _shorten(f"the check could not use your result: {type(err).__name__}: {err}{extra}")


class _GradingPlugin:
    """pytest plugin: the `student` fixture, and points per test."""

    def __init__(self, box: Sandbox, limits: Limits):
        self.box, self.limits = box, limits
        self.results: list[TestResult] = []
        self.collect_errors: list[str] = []
        self.descriptions: dict[str, str] = {}
        self._meta: dict[str, tuple[str, str, float]] = {}
        self._failures: dict[str, tuple[str, str]] = {}
        self._budgets: dict[str, Budget] = {}
        self._written: dict[str, set[str]] = {}    # question -> references to write (forbid.py)
        self.hidden_folder: Path | None = None     # tests from this folder are hidden checks
        self._hidden_ids: set[str] = set()

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "question(name, description): a graded question")
        config.addinivalue_line("markers", "points(value): the points a passing test earns")

    @staticmethod
    def _question(node) -> tuple[str, str]:
        marker = node.get_closest_marker("question")
        if marker is None:
            return node.name, ""
        name = marker.kwargs.get("name", marker.args[0] if marker.args else node.name)
        description = str(marker.kwargs.get("description", marker.args[1] if len(marker.args) > 1 else ""))
        tier = marker.kwargs.get("tier")
        return str(name), f"{tier}: {description}" if tier and description else (tier or description)

    @pytest.fixture(scope="class")
    def student(self, request):
        question, _ = self._question(request.node)
        if question not in self._budgets:
            marker = request.node.get_closest_marker("question")
            seconds = max(self.limits.question_seconds, (marker.kwargs.get("seconds") if marker else None) or 0)
            self._budgets[question] = Budget(question, seconds)
            self._budgets[question].blocked = tuple(sorted(self._written.get(question, ())))
        return self.box.proxy(self._budgets[question])

    def pytest_collection_modifyitems(self, items):
        for item in items:
            question, description = self._question(item)
            marker = item.get_closest_marker("points")
            doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip().splitlines()
            what = doc[0].strip() if doc else _words(item.name)
            self._meta[item.nodeid] = (question, what, float(marker.args[0]) if marker else 1.0)
            self.descriptions.setdefault(question, description)
            self._written.setdefault(question, set()).update(write_yourself.declared(item))
            if self.hidden_folder is not None and Path(item.path).resolve().is_relative_to(self.hidden_folder):
                self._hidden_ids.add(item.nodeid)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(str(report.longrepr)[-3000:])

    def pytest_runtest_setup(self, item):
        from arcourse.device import seed_everything

        seed_everything(0)   # checks that draw random inputs without their own generator still repeat

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if call.excinfo is not None and report.failed:
            self._failures[item.nodeid] = _classify(call.excinfo.value)

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            question, what, most = self._meta[report.nodeid]
            name = report.nodeid.split("::")[-1]
            if report.passed:
                status, message, score = "passed", "", most
            elif report.skipped:
                status, message, score = "failed", f"skipped by the check: {report.longrepr}", 0.0
            else:
                status, message = self._failures.get(report.nodeid, ("failed", "failed"))
                score = 0.0
            hidden = report.nodeid in self._hidden_ids
            self.results.append(TestResult(question, name, what, score, most, status, message, hidden))


@contextlib.contextmanager
def _grading_hypothesis():
    """Hypothesis settings for grading: the same examples every run, no example database,
    no deadline (the sandbox enforces time), and the first failing example is reported as
    found: shrinking it would call a broken submission hundreds of times (each crash a
    restart). Hypothesis's cache goes to a temporary folder, not `.hypothesis/` in the
    student's folder. The caller's profile and folder are restored afterwards."""
    from hypothesis import HealthCheck, Phase, configuration, settings

    previous = settings.get_current_profile_name()
    previous_home = getattr(configuration, "__hypothesis_home_directory", None)
    configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"arcourse-hypothesis-{os.getuid()}")
    settings.register_profile("arcourse-grading", derandomize=True, database=None, deadline=None,
                              print_blob=False, phases=[Phase.explicit, Phase.generate],
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.load_profile("arcourse-grading")
    try:
        yield
    finally:
        settings.load_profile(previous)
        configuration.set_hypothesis_home_dir(previous_home)


def _run_checks(check_file: Path, plugin: _GradingPlugin, extra: Path | None = None) -> None:
    folder = check_file.parent
    folders = (str(folder),) + ((str(extra.parent),) if extra else ())
    before = set(sys.modules)
    # unraisableexception/threadexception run gc.collect() five times per session: seconds with torch loaded
    args = [str(check_file), *([str(extra)] if extra else []), "-q", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
            "-p", "no:threadexception", "-p", "no:faulthandler", "--rootdir", str(folder), "--confcutdir", str(folder), "-c", os.devnull, "-o", "addopts=",
            "--import-mode=importlib", "--capture=sys", "--tb=no", "-W", "ignore::DeprecationWarning"]
    output = io.StringIO()
    autoload = os.environ.get(_AUTOLOAD)
    os.environ[_AUTOLOAD] = "1"      # installed pytest plugins (nbval, ...) have no business here
    try:
        with _grading_hypothesis(), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            pytest.main(args, plugins=[plugin])
    finally:
        if autoload is None:
            del os.environ[_AUTOLOAD]
        else:
            os.environ[_AUTOLOAD] = autoload
        for name in set(sys.modules) - before:      # the next run may use another checks folder
            module = sys.modules.get(name)
            if str(getattr(module, "__file__", "") or "").startswith(folders):
                del sys.modules[name]
    if plugin.collect_errors:
        raise GraderError(f"the checks {check_file.name} could not be loaded:\n{plugin.collect_errors[0]}")
    if not plugin.results:
        raise GraderError(f"{check_file} holds no graded checks\n{output.getvalue()[-2000:]}")


def grade(path: str | Path, *, exercise: str | None = None, checks: str | Path | None = None,
          limits: Limits | None = None, forbid=(), hidden: str | Path | bool | None = None) -> GradeResult:
    """Grade one submission file.

    Args:
        path: the student's `.py` (Jupytext) or `.ipynb`.
        exercise: "exNN" to override what the file's header or name says.
        checks: the folder of check files (default: $ARCOURSE_CHECKS or the package's).
        limits: time and memory limits (`Limits()` by default).
        forbid: more folders the student's code may not read.
        hidden: the folder of hidden checks, False for the public checks only, None to look
            for them (see `hidden.py`).
    Returns:
        a GradeResult. Raises SubmissionError when the file cannot be graded at all, and
        GraderError when the grader itself cannot run.
    """
    start = time.perf_counter()
    limits = limits or Limits()
    submission = read_submission(path, exercise)
    check_file = checks_for(submission.exercise, checks)
    hidden_file = hidden_checks.hidden_file(submission.exercise, hidden)
    if hidden_file is not None:
        forbid = [*forbid, hidden_file.parent]
    forbidden = forbidden_folders(check_file.parent, forbid)
    try:
        prestart(limits.folder_mb, tuple(map(str, forbidden)))   # its imports overlap with pytest's collection
    except (OSError, ValueError) as err:
        raise GraderError(f"cannot start the sandbox: {err}") from None
    result = GradeResult(submission=Path(path), exercise=submission.exercise,
                         problems=[clean_text(p) for p in submission.problems], skipped=list(submission.skipped))
    if hidden_file is None:
        result.hidden_pending = hidden_checks.pending(submission.exercise)
    with Sandbox(submission, limits, forbidden) as box:
        plugin = _GradingPlugin(box, limits)
        plugin.hidden_folder = hidden_file.parent if hidden_file else None
        _run_checks(check_file, plugin, hidden_file)
        if not box.loaded and not box.broken:
            box.start()
        result.problems += box.problems
        result.isolation = box.isolation
    result.tests, result.descriptions = plugin.results, plugin.descriptions
    write_yourself.zero_delegated(result.tests)
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- a whole class

@dataclass
class BatchEntry:
    path: Path
    result: GradeResult | None = None
    error: str = ""

    @property
    def student(self) -> str:
        return self.path.stem


def _grade_entry(path: Path, exercise, checks, limits, forbid, hidden=None, last: bool = False) -> BatchEntry:
    if last:    # one of the batch's last submissions: a sandbox started ahead would go unused
        stop_warming()
    try:
        return BatchEntry(path, grade(path, exercise=exercise, checks=checks, limits=limits, forbid=forbid,
                                      hidden=hidden))
    except SubmissionError as err:
        return BatchEntry(path, error=str(err))
    except GraderError as err:
        return BatchEntry(path, error=f"grader problem: {err}")
    except Exception as err:  # one bad submission never stops the batch
        return BatchEntry(path, error=f"grading failed: {type(err).__name__}: {err}")


def submissions_in(folder: str | Path) -> list[Path]:
    """The `.py` and `.ipynb` files directly in `folder` (one per student), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in {".py", ".ipynb"}
                  and not p.name.startswith("."))


NO_ISOLATION = ("the grader cannot contain student code on this machine ({why}), so it does not grade other "
                "people's submissions here: their code would run with your permissions. Grade on Linux with "
                "bubblewrap installed (apt-get install bubblewrap), or as root, or pass --no-isolation "
                "(no_isolation=True) if you trust every submission")


def isolation_problem() -> str:
    """Why student code would run unisolated here ("" when the OS contains it)."""
    if _isolation.mode() != "none":
        return ""
    return _isolation.bwrap_problem() or "no sandbox"


def grade_many(paths, *, jobs: int | None = None, exercise: str | None = None, checks=None,
               limits: Limits | None = None, forbid=(), progress=None, no_isolation: bool = False,
               hidden=None) -> list[BatchEntry]:
    """Grade many submissions in parallel (`jobs` worker processes, default one per core).

    Each submission runs in its own sandbox (each worker keeps the next one started). A
    submission that cannot be graded gets an entry with `error` set; the others go on.
    `progress(entry)` is called as each one finishes. Entries come back in the order of
    `paths`. Where the OS cannot isolate student code this raises GraderError, unless
    `no_isolation=True`.
    """
    why = isolation_problem()
    if why and not no_isolation:
        raise GraderError(NO_ISOLATION.format(why=why))
    paths = [Path(p) for p in paths]
    limits = limits or Limits()
    checks = str(checks_folder(checks))
    forbid = [str(Path(p).resolve()) for p in forbid]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths) or 1))
    done: dict[Path, BatchEntry] = {}
    # workers fork from a server that has imported the grader (_workers.py); each keeps the
    # sandbox of its next submission started while it grades the current one
    context = _workers.start_early()      # its imports run while the font list is built
    fonts = font_list()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=keep_warm,
                             initargs=(fonts,)) as pool:
        futures = {pool.submit(_grade_entry, p, exercise, checks, limits, forbid, hidden, i >= len(paths) - jobs): p
                   for i, p in enumerate(paths)}
        for future in as_completed(futures):
            try:
                entry = future.result()
            except BrokenProcessPool:
                entry = BatchEntry(futures[future], error="grading failed: a worker process died")
            done[futures[future]] = entry
            if progress:
                progress(entry)
    return [done[p] for p in paths]


def question_columns(entries: list[BatchEntry]) -> list[str]:
    names: list[str] = []
    for entry in entries:
        for question in (entry.result.by_question() if entry.result else {}):
            if question not in names:
                names.append(question)
    return names
