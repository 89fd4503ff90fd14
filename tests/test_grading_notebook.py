"""The self-check from inside a notebook: `check_notebook()` in a real Jupyter kernel.

A kernel runs an exercise's cells as a student would (the solution: full marks; the stub:
its visible checks fail and it scores nothing), then calls `check_notebook`, which grades the
cells the kernel ran, exactly as `arcourse grade` grades the saved file.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from arcourse.grading import SubmissionError, check_notebook, grade

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "ex02_information"

pytestmark = pytest.mark.slow


def _code_cells(path: Path) -> list[str]:
    import jupytext

    return [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]


@pytest.fixture
def kernel():
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT))
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def _run(client, code: str) -> str:
    out: list[str] = []

    def hook(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            out.append(content["text"])
        elif message["msg_type"] == "error":
            out.append(f"{content['ename']}: {content['evalue']}\n")

    client.execute_interactive(code, timeout=300, output_hook=hook)
    return "".join(out)


def _score(text: str) -> tuple[float, float]:
    got, most = re.search(r"SCORE ([\d.]+) ([\d.]+)", text).groups()
    return float(got), float(most)


def test_check_notebook_grades_the_cells_a_kernel_ran(kernel):
    for cell in _code_cells(ROOT / "solutions" / f"{EXERCISE}.py"):
        _run(kernel, cell)
    out = _run(kernel, "from arcourse.grading import check_notebook\n"
                       "r = check_notebook('ex02')\nprint('SCORE', r.score, r.max_score)")
    got, most = _score(out)
    reference = grade(ROOT / "solutions" / f"{EXERCISE}.py")
    assert most == reference.max_score > 0 and got == most, out
    assert "(exercise ex02):" in out and f"{most:g} / {most:g} points" in out  # the report was printed


def test_check_notebook_on_the_stub_and_from_the_notebook_name(kernel):
    for cell in _code_cells(ROOT / "exercises" / f"{EXERCISE}.py"):
        _run(kernel, cell)  # the visible checks fail with NotImplementedError, as for a student
    out = _run(kernel, "from arcourse.grading import check_notebook\n"
                       f"__session__ = '/home/student/{EXERCISE}.ipynb'\n"  # what JupyterLab's kernel is told
                       "r = check_notebook(show=False)\nprint('SCORE', r.score, r.max_score, r.exercise)")
    got, most = _score(out)
    assert got == 0 and most > 0 and out.strip().endswith("ex02"), out


def test_check_notebook_outside_a_notebook_says_what_to_do(tmp_path):
    with pytest.raises(SubmissionError, match="pass path="):
        check_notebook("ex02")
    saved = tmp_path / f"{EXERCISE}.py"
    saved.write_text((ROOT / "solutions" / f"{EXERCISE}.py").read_text(encoding="utf-8"))
    result = check_notebook(path=saved, show=False)
    assert result.score == result.max_score > 0
