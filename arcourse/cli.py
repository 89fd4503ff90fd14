"""The `arcourse` command: build the notebooks, grade submissions, render slides."""
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


def _limits(args: argparse.Namespace):
    from arcourse.grading import Limits

    return Limits(question_seconds=args.question_timeout, submission_seconds=args.timeout, memory_mb=args.memory)


def _grade(args: argparse.Namespace) -> int:
    from arcourse.grading import GraderError, SubmissionError, format_report, grade
    from arcourse.grading.report import gradescope_results, write_json

    try:
        limits = _limits(args)
        if args.submission.is_dir():
            return _grade_folder(args, limits)
        if args.csv:
            raise SubmissionError("--csv is for a folder of submissions; use --json for one file")
        result = grade(args.submission, exercise=args.exercise, checks=args.checks, limits=limits)
    except (SubmissionError, ValueError) as err:
        print(f"arcourse grade: {err}", file=sys.stderr)
        return 2
    except GraderError as err:
        print(f"arcourse grade: the grader failed: {err}", file=sys.stderr)
        return 3
    print(format_report(result))
    if args.json:
        write_json(gradescope_results(result), args.json)
        print(f"\nresults written to {args.json} (Gradescope format)")
    return 0


def _grade_folder(args: argparse.Namespace, limits) -> int:
    from arcourse.grading import SubmissionError, grade_many, write_csv
    from arcourse.grading.runner import submissions_in

    if args.json:
        raise SubmissionError("--json is for one submission; use --csv for a folder")
    paths = submissions_in(args.submission)
    if not paths:
        raise SubmissionError(f"{args.submission}: no .py or .ipynb submissions in this folder")

    def progress(entry):
        r = entry.result
        text = f"{r.score:g} / {r.max_score:g}" if r else f"ERROR {entry.error.splitlines()[0]}"
        print(f"{entry.path.name}: {text}", flush=True)

    entries = grade_many(paths, jobs=args.jobs, exercise=args.exercise, checks=args.checks, limits=limits,
                         forbid=[args.submission], progress=progress)
    failed = sum(1 for e in entries if e.error)
    print(f"graded {len(entries) - failed} of {len(entries)} submissions" + (f"; {failed} could not be graded"
                                                                           if failed else ""))
    if args.csv:
        write_csv(entries, args.csv)
        print(f"grades written to {args.csv}")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from arcourse.grading import GraderError, SubmissionError
    from arcourse.grading.gradescope import build_autograder

    output = args.output or Path(f"{args.exercise}_autograder.zip")
    try:
        build_autograder(args.exercise, output, checks=args.checks)
    except (SubmissionError, GraderError) as err:
        print(f"arcourse gradescope: {err}", file=sys.stderr)
        return 2
    print(f"wrote {output}: upload it as the autograder of {args.exercise} on Gradescope")
    return 0


def _slides(args: argparse.Namespace) -> int:
    from arcourse.slides import SlidesError, find_lecture, render_slides

    try:
        deck = render_slides(find_lecture(args.lecture, args.root), args.output, execute=not args.no_execute)
    except SlidesError as err:
        print(f"arcourse slides: {err}", file=sys.stderr)
        return 2
    print(f"wrote {deck}: open it in a browser (it needs no network; keep _static/ beside it)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arcourse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("build", help="build .ipynb notebooks and exercises from the Jupytext sources")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    p.add_argument("--force", action="store_true",
                   help="also replace generated files that were edited (a backup copy is kept)")
    p.set_defaults(run=_build)

    p = commands.add_parser("grade", help="grade a student's exercise notebook (.py or .ipynb), or a folder of them")
    p.add_argument("submission", type=Path, help="a .py/.ipynb file, or a folder with one file per student")
    p.add_argument("--json", type=Path, help="also write Gradescope's results.json here (one file)")
    p.add_argument("--csv", type=Path, help="write one row per student here (a folder)")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers for a folder (default: one per core)")
    p.add_argument("--exercise", help="exNN, when neither the file's name nor its header says")
    p.add_argument("--checks", type=Path, help="folder of test_exNN.py check files (default: the package's)")
    p.add_argument("--question-timeout", type=float, default=20.0, help="seconds per question (default 20)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per submission (default 300)")
    p.add_argument("--memory", type=int, default=2048, help="MB the submission may allocate (default 2048)")
    p.set_defaults(run=_grade)

    p = commands.add_parser("gradescope", help="package an exercise's autograder for Gradescope")
    p.add_argument("exercise", help="exNN")
    p.add_argument("-o", "--output", type=Path, help="the zip to write (default: exNN_autograder.zip)")
    p.add_argument("--checks", type=Path, help="folder of test_exNN.py check files (default: the package's)")
    p.set_defaults(run=_gradescope)

    p = commands.add_parser("slides", help="render a lecture as reveal.js slides that work offline")
    p.add_argument("lecture", help="the lecture's number, e.g. 04")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "slides",
                   help="folder for the deck and its _static/ scripts (default: build/slides)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    p.add_argument("--no-execute", action="store_true",
                   help="do not run the notebook first: prose, math and code, no outputs (fast)")
    p.set_defaults(run=_slides)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
