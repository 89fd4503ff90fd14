#!/usr/bin/env python3
"""Write constraints.txt: the exact version of every package of a classroom install.

    python scripts/make_constraints.py      # after changing pyproject.toml; commit the result

It asks pip to resolve `torch==2.13.0 .[lab,grader]` from scratch (a dry run: nothing is
installed) and pins what pip would install. Students then get the same versions with
`pip install torch==2.13.0 -e '.[lab,grader]' -c constraints.txt`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUEST = ["torch==2.13.0", ".[lab,grader]"]
HEADER = f"""\
# Exact versions for a reproducible classroom install (Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform}):
#     pip install torch==2.13.0 -e '.[lab,grader]' -c constraints.txt
# Every package of that install is pinned; torch's build (CPU or CUDA) comes from the index you use.
# Written by `python scripts/make_constraints.py`; rerun it after changing pyproject.toml.
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                        "--report", str(report), *REQUEST], cwd=ROOT, check=True)
        install = json.loads(report.read_text())["install"]
    pins = sorted(f"{p['metadata']['name'].lower()}=={p['metadata']['version'].split('+')[0]}"
                  for p in install if p["metadata"]["name"].lower() != "arcourse")
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(pins) + "\n")
    print(f"constraints.txt: {len(pins)} packages pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
