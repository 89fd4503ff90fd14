"""Public and hidden checks (`hidden.py`): hidden checks live outside the package, count at
grading, are `after_published` on Gradescope, never ship in the wheel, and the self-check
says how many each question has."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from arcourse.grading import format_report, grade, gradescope_results, hidden
from arcourse.grading.hidden import count_checks, manifest_from
from grading_toy import CHECKS, SOLUTION

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "arcourse" / "grading" / "checks"
HIDDEN = ROOT / "grading" / "hidden"
HIDDEN_CHECK = '''
from arcourse.grading.api import check_close, points, question
import torch


@question("softmax")
class TestSoftmaxHidden:
    @points(1)
    def test_one_hot_rows(self, student):
        """huge logits give one-hot rows"""
        check_close(student.softmax(torch.tensor([[1e4, 0.0]])), [[1.0, 0.0]], "softmax(huge)")
'''


def test_the_manifest_is_current():
    assert json.loads(hidden.MANIFEST.read_text()) == manifest_from(ROOT), "run `arcourse build`"


def test_every_exercise_has_hidden_checks_for_its_own_questions():
    for public in sorted(PUBLIC.glob("test_ex*.py")):
        secret = HIDDEN / public.name
        assert secret.is_file(), f"{public.stem}: no hidden checks"
        questions = count_checks(secret)
        assert questions and set(questions) <= set(count_checks(public)), f"{secret.name}: unknown question"
        assert not (PUBLIC / secret.name).samefile(secret)


def test_the_wheel_ships_public_checks_and_no_hidden_ones(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    if built.returncode != 0 and "No module named" in built.stderr:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("arcourse-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = "".join(zf.read(n).decode("utf-8", "replace") for n in names if n.endswith(".py"))
    assert "arcourse/grading/checks/test_ex02.py" in names and "arcourse/grading/checks/manifest.json" in names
    assert not any("hidden/" in n or n.startswith(("grading/", "solutions/")) for n in names)
    for secret in HIDDEN.glob("test_ex*.py"):
        for line in secret.read_text().splitlines():
            if line.strip().startswith("def test_"):
                assert line.strip() not in text, f"{secret.name}'s {line.strip()} is in the wheel"


def test_hidden_checks_count_and_are_published_after_grading(tmp_path):
    (tmp_path / "test_ex99.py").write_text(HIDDEN_CHECK)
    result = grade(SOLUTION, checks=CHECKS, hidden=tmp_path)
    assert result.score == result.max_score == 11
    secret = [t for t in result.tests if t.hidden]
    assert [(t.question, t.what) for t in secret] == [("softmax", "huge logits give one-hot rows")]
    assert result.by_question()["softmax"] == (4.0, 4.0)
    assert "(hidden check)" in format_report(result)
    tests = gradescope_results(result)["tests"]
    assert [t["visibility"] for t in tests if "one-hot" in t["name"]] == ["after_published"]
    assert all(t["visibility"] == "visible" for t in tests if "one-hot" not in t["name"])
    assert {t["visibility"] for t in gradescope_results(result, "after_due_date")["tests"]} == {
        "visible", "after_due_date"}


def test_the_self_check_says_what_the_hidden_checks_are_worth(tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"hidden": {"ex99": {"softmax": {"checks": 2, "points": 3}}}, "written": {}}))
    monkeypatch.setattr(hidden, "MANIFEST", manifest)
    result = grade(SOLUTION, checks=CHECKS, hidden=False)
    assert result.max_score == 10 and not any(t.hidden for t in result.tests)
    assert result.hidden_pending == {"softmax": (2, 3.0)}
    assert "softmax: 2 hidden checks, 3 points" in format_report(result)
    assert "count only at grading" in format_report(result)
