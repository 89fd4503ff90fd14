"""The notebook pipeline: exercises come from solutions, and nothing a student wrote is lost."""
import json
from pathlib import Path

import pytest

from arcourse.cli.build import BuildError, build, exercise_sources, make_exercise, to_notebook_json

ROOT = Path(__file__).resolve().parents[1]
HEADER = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""
SOLUTION = HEADER + '''
# %%
def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    # HINT: multiply by two
    return 2 * x
    ### END SOLUTION

# %% [markdown]
# Why?
# ### BEGIN SOLUTION
# Because.
# ### END SOLUTION
'''


def test_exercises_match_what_the_build_produces():
    """exercises/ is generated: editing it by hand, or a solution without rebuilding, fails here."""
    expected = exercise_sources(ROOT)
    committed = sorted((ROOT / "exercises").glob("*.py"))
    assert sorted(expected) == committed, "exercises/ and solutions/ hold different files; run `arcourse build`"
    for path, text in expected.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} drifted from solutions/; run `arcourse build`"


def test_every_source_has_a_kernelspec_header():
    for source in [*ROOT.glob("lectures/*.py"), *ROOT.glob("solutions/*.py"), *ROOT.glob("exercises/*.py")]:
        json.loads(to_notebook_json(source.read_text(encoding="utf-8"), str(source)))


def test_solution_regions_become_stubs_with_hints():
    exercise = make_exercise(SOLUTION)
    assert "return 2 * x" not in exercise and "Because." not in exercise
    assert "    raise NotImplementedError('multiply by two')" in exercise
    assert '    """Twice x."""' in exercise  # signature and docstring stay
    assert "# YOUR ANSWER HERE" in exercise
    namespace = {}
    exec(exercise, namespace)
    with pytest.raises(NotImplementedError, match="multiply by two"):
        namespace["double"](1)


@pytest.mark.parametrize("broken, message", [
    ("    ### BEGIN SOLUTION\n    x = 1\n", "never closed"),
    ("    ### END SOLUTION\n", "without"),
    ("    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "inside the region"),
])
def test_unbalanced_markers_are_reported_with_a_line_number(broken, message):
    with pytest.raises(BuildError, match=message):
        make_exercise("def f():\n" + broken, "sol.py")


def test_missing_kernelspec_is_an_error():
    with pytest.raises(BuildError, match="kernelspec"):
        to_notebook_json("# %%\nx = 1\n", "bare.py")


def _course(tmp_path):
    (tmp_path / "lectures").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "lectures" / "01_intro.py").write_text(HEADER + "\n# %%\nx = 1\n")
    (tmp_path / "solutions" / "ex01_double.py").write_text(SOLUTION)
    return tmp_path


def test_build_writes_notebooks_and_exercises_and_is_idempotent(tmp_path):
    root = _course(tmp_path)
    first = build(root)
    names = sorted(p.relative_to(root).as_posix() for p in first.written)
    assert names == ["exercises/ex01_double.ipynb", "exercises/ex01_double.py",
                     "lectures/01_intro.ipynb", "solutions/ex01_double.ipynb"]
    second = build(root)
    assert second.written == [] and len(second.unchanged) == 4


def test_build_keeps_a_students_edits_unless_forced_and_then_backs_up(tmp_path):
    root = _course(tmp_path)
    build(root)
    student = root / "exercises" / "ex01_double.py"
    edited = student.read_text().replace("raise NotImplementedError('multiply by two')", "return x + x")
    student.write_text(edited)
    # the solution changes; a rebuild must still not touch the student's file
    (root / "solutions" / "ex01_double.py").write_text(SOLUTION.replace("Twice x.", "Two times x."))
    report = build(root)
    assert student in report.kept and student.read_text() == edited
    forced = build(root, force=True)
    assert "Two times x." in student.read_text()
    [backup] = forced.backups
    assert backup.read_text() == edited


def test_build_updates_untouched_generated_files(tmp_path):
    root = _course(tmp_path)
    build(root)
    (root / "solutions" / "ex01_double.py").write_text(SOLUTION.replace("Twice x.", "Two times x."))
    report = build(root)
    assert "Two times x." in (root / "exercises" / "ex01_double.py").read_text()
    assert report.kept == [] and report.backups == []


def test_build_refuses_a_folder_that_is_not_a_course(tmp_path):
    with pytest.raises(BuildError, match="not a course folder"):
        build(tmp_path)


def test_exercise_files_must_be_named_exNN(tmp_path):
    root = _course(tmp_path)
    (root / "solutions" / "homework.py").write_text(SOLUTION)
    with pytest.raises(BuildError, match="exNN_topic"):
        build(root)


def test_cli_build_says_what_it_kept(tmp_path, capsys):
    from arcourse.cli import main

    root = _course(tmp_path)
    assert main(["build", "--root", str(root)]) == 0
    (root / "exercises" / "ex01_double.py").write_text("# my work\n")
    assert main(["build", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "kept" in out and "--force" in out
    assert (root / "exercises" / "ex01_double.py").read_text() == "# my work\n"
