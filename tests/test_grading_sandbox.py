"""Hostile submissions: each attack costs only the question it is in, says why, earns nothing
it did not earn, and leaves the grader, the files around it and the submission intact.

The toy exercise ex99 has four questions (softmax 3, running_mean 3, bigram_counts 2,
running_stats 2 points). Each submission below breaks some questions in a different way and
leaves the others correct, so the expected score is exact.
"""
from __future__ import annotations

import json
import textwrap

import pytest

from arcourse import cli
from arcourse.grading import Limits, grade
from grading_toy import CHECKS, POINTS, SOLUTION, variant

FAST = Limits(question_seconds=1.5, submission_seconds=60.0, memory_mb=400, result_mb=1)


def _grade(path, **kwargs):
    kwargs.setdefault("limits", FAST)
    return grade(path, checks=CHECKS, forbid=[SOLUTION.parent], **kwargs)


def _messages(result, question):
    return "\n".join(t.message for t in result.tests if t.question == question)


def _points(result):
    return {q: got for q, (got, _) in result.by_question().items()}


def _assert_only(result, lost: set[str]):
    """Full marks for every question except those in `lost`, which score 0."""
    assert _points(result) == {q: (0.0 if q in lost else most) for q, most in POINTS.items()}, _points(result)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("attacks")


# ---------------------------------------------------------------- time, exits, memory

@pytest.fixture(scope="module")
def endless_and_exit(folder):
    path = variant(folder, "endless", {"softmax": "while True:\n    pass",
                                        "bigram_counts": "import os\nos._exit(0)"})
    return path, _grade(path)


def test_endless_loop_costs_only_its_question(endless_and_exit):
    _, result = endless_and_exit
    _assert_only(result, {"softmax", "bigram_counts"})
    message = _messages(result, "softmax")
    assert "was stopped after" in message and "question 'softmax' may use 1.5 s in all (an endless loop?)" in message
    assert "used up its 1.5 s" in message          # the question's next test is not run at all
    assert [t.status for t in result.tests if t.question == "softmax"] == ["timeout", "timeout"]


def test_os_exit_is_reported_and_the_process_restarted(endless_and_exit):
    _, result = endless_and_exit
    message = _messages(result, "bigram_counts")
    assert "exited with code 0" in message and "restarted" in message
    assert result.by_question()["running_stats"] == (2.0, 2.0)     # graded after the crash


@pytest.fixture(scope="module")
def exit_and_memory(folder):
    path = variant(folder, "memory", {
        "softmax": "import sys\nsys.exit(3)",
        "bigram_counts": "return bytearray(10**13)",
        "RunningStats.update": "self.blocks = [bytearray(50 * 2**20) for _ in range(100)]",
    })
    return _grade(path)


def test_sys_exit_in_a_function(exit_and_memory):
    assert "your code called sys.exit(3)" in _messages(exit_and_memory, "softmax")


def test_huge_allocations_fail_with_a_memory_message(exit_and_memory):
    _assert_only(exit_and_memory, {"softmax", "bigram_counts", "running_stats"})
    for question in ("bigram_counts", "running_stats"):
        message = _messages(exit_and_memory, question)
        assert "MemoryError" in message and "the grader gives your code 400 MB" in message


def test_endless_loop_while_loading_uses_the_submission_limit(folder):
    path = variant(folder, "slowload", extra="class Stuck:\n    while True:\n        pass")
    result = _grade(path, limits=Limits(question_seconds=1.5, submission_seconds=2.0))
    assert result.score == 0 and result.max_score == 10
    assert any("could not be loaded" in p and "took longer than the submission's 2 s" in p for p in result.problems)


def test_os_exit_while_loading(folder):
    path = variant(folder, "exitload", extra="class Gone:\n    import os\n    os._exit(5)")
    result = _grade(path)
    assert result.score == 0
    assert any("could not be loaded" in p and "exited with code 5" in p for p in result.problems)
    assert all("could not be loaded" in t.message for t in result.tests)


def test_errors_at_import_cost_only_what_they_define(folder):
    path = variant(folder, "importerror", {"running_mean": "return xs"}, extra="""
        import not_a_module_anywhere
        class Boom:
            raise RuntimeError("boom at import")
        class Leaving:
            import sys
            sys.exit(1)
        def bigram_counts(text, _=1 / 0):
            return {}
        """)
    result = _grade(path)
    problems = "\n".join(result.problems)
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in problems
    assert "RuntimeError: boom at import" in problems and "sys.exit(1)" in problems
    assert "ZeroDivisionError" in problems
    # the failed re-definition leaves the earlier bigram_counts; running_mean is wrong on purpose
    _assert_only(result, {"running_mean"})


# ---------------------------------------------------------------- escaping the folder

@pytest.fixture(scope="module")
def escape(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    sentinel = outside / "keep.txt"
    sentinel.write_text("precious")
    targets = {"written": outside / "written.txt", "sentinel": sentinel, "marker": outside / "marker.txt",
               "moved": outside / "moved.txt"}
    path = variant(folder, "escape", {
        "softmax": f"open({str(targets['written'])!r}, 'w').write('pwned')",
        "running_mean": f"import os\nos.rename({str(sentinel)!r}, {str(targets['moved'])!r})",
        "bigram_counts": f"return open({str(SOLUTION)!r}).read()",
        "RunningStats.update": f"import subprocess\nsubprocess.run(['touch', {str(targets['marker'])!r}])",
    })
    original = path.read_bytes()
    return path, original, targets, _grade(path)


def test_writes_outside_the_folder_are_refused(escape):
    _, _, targets, result = escape
    _assert_only(result, {"softmax", "running_mean", "bigram_counts", "running_stats"})
    assert "does not allow open outside your working folder" in _messages(result, "softmax")
    assert not targets["written"].exists()


def test_renaming_or_deleting_outside_is_refused(escape):
    _, _, targets, result = escape
    assert "does not allow os.rename outside your working folder" in _messages(result, "running_mean")
    assert targets["sentinel"].read_text() == "precious" and not targets["moved"].exists()


def test_reading_the_solutions_is_refused(escape):
    _, _, _, result = escape
    message = _messages(result, "bigram_counts")
    assert "PermissionError" in message and "the solutions and the checks are off limits" in message
    assert "softmax" not in message.split("off limits")[-1]       # nothing of the solution leaked back


def test_starting_processes_is_refused(escape):
    _, _, targets, result = escape
    assert "does not allow subprocess.Popen" in _messages(result, "running_stats")
    assert not targets["marker"].exists()


def test_the_submission_file_is_never_changed(escape):
    path, original, _, _ = escape
    assert path.read_bytes() == original


def test_more_escapes(folder, tmp_path):
    """Deleting files, symlinks to the checks, killing the grader, os.system, ctypes and
    switching off the audit hook are refused too; the grader survives all of them."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    path = variant(folder, "escape2", {
        "softmax": f"import os\nos.remove({str(victim)!r})",
        "running_mean": f"""
            import os
            os.symlink({str(CHECKS / 'test_ex99.py')!r}, 'link.py')
            return open('link.py').read()""",
        "bigram_counts": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "RunningStats.update": """
            import ctypes, gc, os
            refused = 0
            for attempt in (lambda: os.system("true"), lambda: ctypes.CDLL(None), gc.get_objects,
                            lambda: open("/proc/1/environ").read(), lambda: os.chdir("/")):
                try:
                    attempt()
                except PermissionError:
                    refused += 1
            raise RuntimeError(f"refused {refused} of 5")""",
    })
    result = _grade(path)
    _assert_only(result, {"softmax", "running_mean", "bigram_counts", "running_stats"})
    assert victim.read_text() == "keep"
    assert "does not allow os.remove" in _messages(result, "softmax")
    assert "off limits" in _messages(result, "running_mean")
    assert "does not allow signalling other processes" in _messages(result, "bigram_counts")
    assert "refused 5 of 5" in _messages(result, "running_stats")


# ---------------------------------------------------------------- cheating the checks

def test_monkeypatching_numpy_torch_builtins_and_the_checks_changes_nothing(folder):
    patch = """
        import builtins, numpy, torch, torch.testing
        import arcourse.grading.api as api
        torch.allclose = lambda *a, **k: True
        torch.testing.assert_close = lambda *a, **k: None
        numpy.allclose = lambda *a, **k: True
        numpy.testing.assert_allclose = lambda *a, **k: None
        api.check_close = lambda *a, **k: None
        builtins.AssertionError = type("Never", (Exception,), {})
    """
    patch = textwrap.dedent(patch)
    path = variant(folder, "patch", {"softmax": patch + "return x", "running_mean": patch + "return xs"},
                   extra="class AtImport:\n" + textwrap.indent(patch, "    "))
    result = _grade(path)
    _assert_only(result, {"softmax", "running_mean"})
    assert "softmax(x) is wrong" in _messages(result, "softmax")


def test_an_object_that_equals_everything_is_not_a_result(folder):
    path = variant(folder, "equal", {"bigram_counts": """
        class Anything:
            def __eq__(self, other):
                return True
        return Anything()"""})
    result = _grade(path)
    _assert_only(result, {"bigram_counts"})
    assert "<student's bigram_counts.<locals>.Anything>" in _messages(result, "bigram_counts")


def test_garbage_on_the_grading_channel_and_oversized_results(folder):
    path = variant(folder, "channel", {
        "softmax": """
            import os
            for fd in range(3, 64):
                try:
                    os.write(fd, b"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x10" + b"{not json at all}")
                except OSError:
                    pass
            return x.softmax(-1)""",
        "running_mean": "import numpy as np\nreturn np.zeros(10**6)",
    })
    result = _grade(path)
    _assert_only(result, {"softmax", "running_mean"})
    assert "unreadable answer" in _messages(result, "softmax")
    assert "larger than the 1 MB the grader accepts" in _messages(result, "running_mean")


def test_printed_fake_scores_and_results_files_do_nothing(folder, tmp_path, capsys):
    fake = '{"score": 999, "tests": [], "output": "FAKE"}'
    results = tmp_path / "results.json"
    path = variant(folder, "fake", {"softmax": f"""
        print({fake!r})
        print("softmax: 3 / 3 FAKE")
        import sys
        sys.stderr.write("FAKE 10 / 10 points")
        for where in ("results.json", {str(results)!r}):
            try:
                open(where, "w").write({fake!r})
            except OSError:
                pass
        return x"""}, extra=f"class Loud:\n    print({fake!r})\n    print('ex99: 10 / 10 points FAKE')")
    assert cli.main(["grade", str(path), "--checks", str(CHECKS), "--json", str(results)]) == 0
    out = capsys.readouterr()
    assert "FAKE" not in out.out and "FAKE" not in out.err
    data = json.loads(results.read_text())
    assert data["score"] == 7.0 and "FAKE" not in json.dumps(data)


def test_the_grader_process_is_intact_after_all_this():
    """After every attack above, a clean solution still gets full marks in this process."""
    assert _grade(SOLUTION).score == 10.0
