#!/usr/bin/env python3
"""Put the Colab/JupyterHub setup cell right after the title cell of every lecture and solution.

    python scripts/setup_cells.py          # insert or refresh the cells, then run `arcourse build`
    python scripts/setup_cells.py --check  # exit 1 if a notebook lacks the current cell

Run it after a version bump (the cell pins the release tag) or after changing
arcourse.hosting.REPOSITORY. Exercises get the cell from their solutions through the build.
Only the setup cell is touched; every other line of a notebook stays as it is.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arcourse.hosting import extras_for, with_setup_cell

ROOT = Path(__file__).resolve().parents[1]


def sources(root: Path = ROOT) -> list[Path]:
    return sorted((root / "lectures").glob("[0-9][0-9]_*.py")) + sorted((root / "solutions").glob("ex[0-9][0-9]_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report notebooks whose setup cell is missing or old")
    args = parser.parse_args(argv)
    stale = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        wanted = with_setup_cell(text, extras_for(path))
        if wanted != text:
            stale.append(path)
            if not args.check:
                path.write_text(wanted, encoding="utf-8")
    verb = "lack the current setup cell" if args.check else "updated"
    for path in stale:
        print(f"{verb}: {path.relative_to(ROOT)}")
    if args.check:
        return 1 if stale else 0
    if stale:
        from arcourse.cli.build import build

        build(ROOT)  # exercises/ follow their solutions
    return 0


if __name__ == "__main__":
    sys.exit(main())
