"""Suite-wide pytest hooks: report how long each notebook takes under nbval.

Speed is measured, not asserted: the table shows each notebook's seconds (kernel start
included) against the course's 90 s budget, and build/notebook-times.json keeps them.
"""
import json
from collections import defaultdict
from pathlib import Path

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
