"""Fair reading of submissions (`submission.py`): pure, cheap module-level statements are
kept, what is skipped is listed with the reason, saved outputs do not count toward the size
limit, a stray cp1252 byte does not reject a file, and a header naming another exercise
than the file name warns."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from arcourse.grading import format_report, grade, read_submission
from arcourse.grading import submission as reader
from arcourse.grading.submission import RULE, SubmissionError

ROOT = Path(__file__).resolve().parents[1]
HEADER = "# ---\n# jupyter:\n#   arcourse:\n#     exercise: ex02\n# ---\n"


def _kept(tmp_path, code: str, name="ex02_mine.py"):
    path = tmp_path / name
    path.write_text(HEADER + "\n# %%\n" + code)
    sub = read_submission(path)
    return [s.code for s in sub.statements], sub


def test_pure_constants_try_imports_and_tables_are_kept(tmp_path):
    code = ("import math\nLN2 = math.log(2)\nTABLE = {c: i for i, c in enumerate('abc')}\n"
            "EPS: float = 1e-12\ntry:\n    import scipy\nexcept ImportError:\n    scipy = None\n"
            "LEVELS = tuple(range(4))\n")
    kept, sub = _kept(tmp_path, code)
    assert any(k.startswith("LN2") for k in kept) and any(k.startswith("TABLE") for k in kept)
    assert any(k.startswith("try:") for k in kept) and any(k.startswith("EPS") for k in kept)
    assert sub.skipped == [] and sub.problems == []


def test_skipped_statements_are_listed_with_the_reason(tmp_path):
    code = ("import torch\nSCALE = 2.0\nmodel = torch.nn.Linear(2, 2)\nhistory = train(model, steps=500)\n"
            "for step in range(3):\n    losses = step\n"
            "def predict(x):\n    return model(x) * SCALE\n"
            "print('done')\n")
    kept, sub = _kept(tmp_path, code)
    assert not any("train(" in k for k in kept) and not any(k.startswith("for") for k in kept)
    assert len(sub.skipped) == 3, sub.skipped                     # print() binds nothing: not listed
    first = sub.skipped[0]                                        # used by a kept function: listed first
    assert "model = torch.nn.Linear" in first and "your code uses model" in first and "line 10" in first
    assert any("history = train" in s and "calls train()" in s for s in sub.skipped)
    assert any("for step in range(3)" in s and "loop" in s for s in sub.skipped)


def test_a_cp1252_byte_in_a_comment_does_not_reject_the_file(tmp_path):
    path = tmp_path / "ex02_mine.py"
    path.write_bytes((HEADER + "\n# %%\n# it\x92s my code\ndef f():\n    return 1\n").encode("latin-1"))
    sub = read_submission(path)
    assert [s.code.split("(")[0] for s in sub.statements] == ["def f"]
    assert any("not all UTF-8" in p and "line 8" in p for p in sub.problems), sub.problems


def test_saved_outputs_do_not_count_toward_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_BYTES", 10_000)
    cell = {"cell_type": "code", "source": "def f():\n    return 1\n", "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * 50_000}]}
    notebook = {"cells": [cell], "metadata": {"arcourse": {"exercise": "ex02"}}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "mine.ipynb"
    path.write_text(json.dumps(notebook))
    assert path.stat().st_size > 10_000
    assert len(read_submission(path).statements) == 1
    cell["source"] = "x = 1\n" * 3000                              # the code itself is over the limit
    path.write_text(json.dumps(notebook))
    with pytest.raises(SubmissionError, match="its code is larger than"):
        read_submission(path)


def test_a_header_naming_another_exercise_warns(tmp_path):
    _, sub = _kept(tmp_path, "x = 1\n", name="ex03_rnn.py")
    assert sub.exercise == "ex02"
    assert any("named for ex03 but its header says ex02" in p for p in sub.problems)
    _, same = _kept(tmp_path, "x = 1\n", name="ex02_information.py")
    assert not any("header says" in p for p in same.problems)


def test_every_exercise_states_the_rule_at_its_top():
    for source in sorted([*ROOT.glob("solutions/ex*.py"), *ROOT.glob("exercises/ex*.py")]):
        head = source.read_text(encoding="utf-8").split("# %%", 3)
        assert RULE in "".join(head[:2]), f"{source.name}: the first markdown cell should state: {RULE}"


def test_a_correct_ex02_with_computed_constants_gets_full_marks(tmp_path):
    """The issue's case: `LN2 = math.log(2)` at the top and a `try:` import cost 2 points before."""
    text = (ROOT / "solutions" / "ex02_information.py").read_text(encoding="utf-8")
    text = text.replace("import math\n", "import math\n\nLN2 = math.log(2)\ntry:\n    import scipy\n"
                        "except ImportError:\n    scipy = None\n", 1)
    text = text.replace("-(freq * torch.log(safe)).sum(dim=-1)", "-(freq * torch.log2(safe) * LN2).sum(dim=-1)")
    assert "torch.log2(safe) * LN2" in text
    text += "\n# %%\nhistory = [plugin_entropy(counts) for _ in range(3)]   # a scratch cell\n"
    path = tmp_path / "ex02_information.py"
    path.write_text(text, encoding="utf-8")
    result = grade(path)
    report = format_report(result)
    assert result.score == result.max_score, report
    assert "history = [plugin_entropy(counts)" in report and "grading did not run" in report
