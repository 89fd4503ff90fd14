"""Suite-wide pytest hooks: report how long each notebook takes under nbval.

Speed is measured, not asserted: the table shows each notebook's seconds (kernel start
included) against the course's 90 s budget, and build/notebook-times.json keeps them.

Each lecture that passes under nbval is also written, with the outputs nbval collected, to
build/executed/, where tests/test_lecture_claims.py reads it (so the suite executes every
lecture once), and so does the site build of tests/test_site.py; both are moved after the
notebooks.
"""
import json
from collections import defaultdict
from pathlib import Path

import pytest
import torch

# The unit tests use tiny models, for which one thread is fastest and never thrashes when
# other work shares the cores (two threads on a busy 2-core machine made a 1 s test take
# 140 s). Notebooks run in their own kernels and choose for themselves.
torch.set_num_threads(1)

BUDGET_S = 90.0
_times: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _times:
        return
    tr = terminalreporter
    tr.section("notebook run times (nbval, this machine)")
    for path, seconds in sorted(_times.items()):
        flag = "  OVER BUDGET" if seconds > BUDGET_S else ""
        tr.write_line(f"{seconds:7.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_times.values()):7.1f} s  total for {len(_times)} notebooks (budget {BUDGET_S:.0f} s each)")
    out = Path("build") / "notebook-times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({k: round(v, 2) for k, v in sorted(_times.items())}, indent=1) + "\n")


EXECUTED = Path("build") / "executed"
_cells: dict[str, list] = defaultdict(list)   # notebook path -> [(item, passed)]


AFTER_NOTEBOOKS = ("tests/test_lecture_claims.py", "tests/test_site.py")


def pytest_collection_modifyitems(items):
    """Run the claims test and the site test after the lecture notebooks whose outputs they read."""
    items.sort(key=lambda item: item.nodeid.startswith(AFTER_NOTEBOOKS))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    path = item.nodeid.split("::")[0]
    if not (path.startswith("lectures/") and path.endswith(".ipynb") and hasattr(item, "test_outputs")):
        return
    if report.when == "call" or (report.when == "setup" and report.skipped):
        _cells[path].append((item, not report.failed))
        notebook = item.parent.nb
        n_code = sum(cell.cell_type == "code" for cell in notebook.cells)
        if len(_cells[path]) == n_code and all(ok for _, ok in _cells[path]):
            for cell_item, _ in _cells[path]:
                cell_item.cell.outputs = cell_item.test_outputs or []
            EXECUTED.mkdir(parents=True, exist_ok=True)
            import nbformat
            nbformat.write(notebook, EXECUTED / Path(path).name)
