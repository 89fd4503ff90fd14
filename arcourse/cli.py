"""The `arcourse` command: build the notebooks, grade submissions."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from arcourse.build import BuildError, build

    try:
        report = build(args.root, force=args.force)
    except BuildError as err:
        print(f"arcourse build: {err}", file=sys.stderr)
        return 1
    print(f"built {len(report.written)} file(s), {len(report.unchanged)} already up to date")
    for path in report.backups:
        print(f"  replaced an edited file; your version is kept in {path}")
    for path in report.kept:
        print(f"  kept {path}: it was edited since it was generated "
              f"(run `arcourse build --force` to replace it; a backup copy is made first)")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from arcourse.grading import SubmissionError, format_report, grade

    try:
        result = grade(args.submission)
    except SubmissionError as err:
        print(f"arcourse grade: {err}", file=sys.stderr)
        return 2
    print(format_report(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arcourse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="build .ipynb notebooks and exercises from the Jupytext sources")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    p.add_argument("--force", action="store_true",
                   help="also replace generated files that were edited (a backup copy is kept)")
    p.set_defaults(run=_build)

    p = commands.add_parser("grade", help="grade a student's exercise notebook (.py or .ipynb)")
    p.add_argument("submission", type=Path)
    p.set_defaults(run=_grade)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
