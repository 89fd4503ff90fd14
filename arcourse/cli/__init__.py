"""The `arcourse` command: build the notebooks, release a student edition, grade
submissions, write class reports, package Gradescope autograders, compare submissions, render
slides and the website."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from arcourse.cli.build import BuildError, build

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
    if args.submission.is_dir():     # a class: its workers' server imports the grader beside us
        from arcourse.grading import _workers

        _workers.start_early()
    from arcourse.grading import GraderError, SubmissionError, format_report, grade
    from arcourse.grading.report import gradescope_results, write_json

    try:
        limits = _limits(args)
        if args.submission.is_dir():
            return _grade_folder(args, limits)
        if args.csv:
            raise SubmissionError("--csv is for a folder of submissions; use --json for one file")
        if args.output:
            raise SubmissionError("-o/--output is for a folder of submissions; use --json for one file")
        result = grade(args.submission, exercise=args.exercise, checks=args.checks, limits=limits,
                       hidden=_hidden(args))
    except (SubmissionError, ValueError) as err:
        print(f"arcourse grade: {err}", file=sys.stderr)
        return 2
    except GraderError as err:
        print(f"arcourse grade: the grader failed: {err}", file=sys.stderr)
        return 3
    if result.isolation == "none":
        print("notice: no OS sandbox here, so your code ran as you (fine for your own file; see the README)",
              file=sys.stderr)
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
                         forbid=[args.submission], progress=progress, no_isolation=args.no_isolation,
                         hidden=_hidden(args))
    failed = sum(1 for e in entries if e.error)
    print(f"graded {len(entries) - failed} of {len(entries)} submissions" + (f"; {failed} could not be graded"
                                                                           if failed else ""))
    if args.csv:
        write_csv(entries, args.csv)
        print(f"grades written to {args.csv}")
    if args.output:
        return _class_reports(args, entries)
    return 0


def _hidden(args: argparse.Namespace):
    """grade's hidden checks: a folder, none (--public-only), or wherever hidden.py finds them."""
    return False if args.public_only else args.hidden


def _class_reports(args: argparse.Namespace, entries) -> int:
    from arcourse.grading.reports import write_class_reports

    try:
        written, warnings = write_class_reports(entries, args.output, roster=args.roster, pattern=args.pattern,
                                                manual=args.manual, anonymise=args.anonymise, lms=args.lms,
                                                assignment=args.assignment)
    except (OSError, ValueError) as err:
        print(f"arcourse grade: {err}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"  warning: {warning}")
    print(f"reports written to {args.output}: grades.csv, feedback/ (one .md and .html per student)"
          + (", written/ (answers to mark)" if (Path(args.output) / "written").is_dir() else "")
          + (f", {args.lms}.csv" if args.lms else ""))
    return 0


def _release(args: argparse.Namespace) -> int:
    from arcourse.cli.build import BuildError
    from arcourse.release import release

    try:
        report = release(args.root, args.output, args.exercises or None, force=args.force)
    except BuildError as err:
        print(f"arcourse release: {err}", file=sys.stderr)
        return 1
    print(f"wrote the student edition to {args.output} ({len(report.written)} files); "
          f"students run `python3 course.py lab` there")
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from arcourse.grading.runner import submissions_in
    from arcourse.grading.similarity import compare, write_report

    try:
        paths = submissions_in(args.folder)
        pairs = compare(paths, starter=args.starter, threshold=args.threshold)
    except (ValueError, OSError) as err:
        print(f"arcourse similarity: {err}", file=sys.stderr)
        return 2
    output = args.output or Path(args.folder) / "similarity"
    index = write_report(pairs, output, args.threshold)
    for pair in pairs:
        print(f"{pair.similarity:4.0%}  {pair.a.path.name}  {pair.b.path.name}")
    print(f"{len(pairs)} pair(s) of {len(paths)} submissions at or above {args.threshold:.0%}; side by side in {index}"
          + ("" if args.starter else " (no --starter given: code everyone received counts as shared)"))
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from arcourse.grading import GraderError, SubmissionError
    from arcourse.grading.gradescope import build_autograder

    from arcourse.grading.gradescope import LatePolicy

    output = args.output or Path(f"{args.exercise}_autograder.zip")
    try:
        build_autograder(args.exercise, output, checks=args.checks, hidden=args.hidden,
                         hidden_visibility=args.hidden_visibility,
                         late_policy=LatePolicy(args.late_policy, args.late_penalty))
    except (SubmissionError, GraderError, ValueError, FileNotFoundError) as err:
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


def _site(args: argparse.Namespace) -> int:
    from arcourse.site import SiteError, build_site

    try:
        report = build_site(args.root, args.output, cache=args.cache, fresh=args.fresh, quiet=not args.verbose)
    except (SiteError, ImportError) as err:
        print(f"arcourse site: {err}", file=sys.stderr)
        return 1
    ran = ", ".join(report.executed) if report.executed else "none (all from the cache)"
    print(f"site written to {report.output / 'index.html'}: {len(report.lectures)} lectures, "
          f"{len(report.exercises)} exercises; lectures executed: {ran}")
    if report.reused:
        print(f"outputs taken from build/executed/ (the test suite's run): {', '.join(report.reused)}")
    print(f"build time: {report.seconds:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    from arcourse import __version__

    parser = argparse.ArgumentParser(prog="arcourse", description=__doc__)
    parser.add_argument("--version", action="version", version=f"arcourse {__version__}")
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
    p.add_argument("--no-isolation", action="store_true",
                   help="grade a folder even where the OS cannot sandbox student code (trusted submissions only)")
    p.add_argument("--hidden", type=Path, help="folder of hidden checks (default: the course's grading/hidden)")
    p.add_argument("--public-only", action="store_true", help="run the public checks only, as a student's self-check")
    p.add_argument("-o", "--output", type=Path,
                   help="a folder for class reports: grades.csv, feedback per student, written answers, LMS file")
    p.add_argument("--roster", type=Path, help="CSV with columns name,id,email that names the students")
    p.add_argument("--pattern", help="regex with a named group (?P<id>...) or (?P<name>...) on the file names")
    p.add_argument("--lms", choices=["canvas", "moodle"], help="also write a gradebook file to import")
    p.add_argument("--assignment", help="the LMS column's name (default: the exercise)")
    p.add_argument("--manual", type=Path, help="the TA's marks sheet for the written answers (written/marks.csv)")
    p.add_argument("--anonymise", action="store_true", help="show written answers as 'student N' to the TA")
    p.set_defaults(run=_grade)

    p = commands.add_parser("release", help="write the student edition: lectures, exercise stubs, public checks")
    p.add_argument("exercises", nargs="*", help="exNN ... (default: every exercise)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the folder to write")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the instructor's course folder (default: here)")
    p.add_argument("--force", action="store_true", help="write into a folder that is not an earlier release")
    p.set_defaults(run=_release)

    p = commands.add_parser("similarity", help="flag pairs of similar submissions (token fingerprints)")
    p.add_argument("folder", type=Path, help="a folder with one .py/.ipynb per student")
    p.add_argument("--starter", type=Path, help="the exercise as handed out (exercises/exNN_*.py): not counted")
    p.add_argument("--threshold", type=float, default=0.5, help="share of fingerprints in common (default 0.5)")
    p.add_argument("-o", "--output", type=Path, help="folder for the HTML report (default: FOLDER/similarity)")
    p.set_defaults(run=_similarity)

    p = commands.add_parser("gradescope", help="package an exercise's autograder for Gradescope")
    p.add_argument("exercise", help="exNN")
    p.add_argument("-o", "--output", type=Path, help="the zip to write (default: exNN_autograder.zip)")
    p.add_argument("--checks", type=Path, help="folder of test_exNN.py check files (default: the package's)")
    p.add_argument("--hidden", type=Path, help="folder of hidden checks (default: the course's grading/hidden)")
    p.add_argument("--hidden-visibility", default="after_published",
                   choices=["hidden", "after_due_date", "after_published", "visible"],
                   help="when students see the hidden checks' results (default after_published)")
    p.add_argument("--late-policy", default="none", choices=["none", "penalty", "zero"],
                   help="late submissions: flag only, a penalty per day, or 0 after the late due date")
    p.add_argument("--late-penalty", type=float, default=0.1, help="share of the score off per late day (0.1)")
    p.set_defaults(run=_gradescope)

    p = commands.add_parser("slides", help="render a lecture as reveal.js slides that work offline")
    p.add_argument("lecture", help="the lecture's number, e.g. 04")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "slides",
                   help="folder for the deck and its _static/ scripts (default: build/slides)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    p.add_argument("--no-execute", action="store_true",
                   help="do not run the notebook first: prose, math and code, no outputs (fast)")
    p.set_defaults(run=_slides)

    p = commands.add_parser("site", help="execute the lectures (cached) and render the course website")
    p.add_argument("-o", "--output", type=Path, default=Path("build/site"), help="output folder (default build/site)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    p.add_argument("--cache", type=Path, help="executed notebooks kept here (default ROOT/build/site-cache)")
    p.add_argument("--fresh", action="store_true", help="ignore the cache and build/executed/: run every lecture again")
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress messages")
    p.set_defaults(run=_site)

    args = parser.parse_args(argv)
    return args.run(args)

