"""A class's grades for people: who each submission is, one feedback page per student, and
a gradebook file an LMS imports.

`arcourse grade FOLDER -o REPORTS` writes
    REPORTS/grades.csv                 one row per student (report.write_csv)
    REPORTS/feedback/STUDENT.md|.html  points per question, what each check tested, the
                                       failing input with expected and received values,
                                       the statements the reader skipped
    REPORTS/written/...                every answer to each written question (written.py)
    REPORTS/canvas.csv | moodle.csv    with --lms: one assignment column to import
Students are named from a roster CSV (`name,id,email`: a file belongs to the row whose id,
email or e-mail user name, or name written as `first_last`, appears in the file name) or
from a file-name pattern with a named group (`(?P<id>\\d+)_ex03`); otherwise by the file
name.
"""
from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from pathlib import Path

from arcourse.grading.runner import BatchEntry, GradeResult


@dataclass(frozen=True)
class Person:
    name: str
    id: str = ""
    email: str = ""

    @property
    def key(self) -> str:
        """What names the student in file names and the marks sheet: the id, else the name."""
        return self.id or self.name


def read_roster(path: str | Path) -> list[Person]:
    """The roster CSV: columns name, id, email (a header row; extra columns are ignored)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = {c.strip().lower() for c in reader.fieldnames or ()}
        if not {"name", "id", "email"} <= columns:
            raise ValueError(f"{path}: a roster needs the columns name, id, email; it has {', '.join(sorted(columns))}")
        people = []
        for row in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            if row.get("name") or row.get("id") or row.get("email"):
                people.append(Person(row.get("name", ""), row.get("id", ""), row.get("email", "")))
    return people


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def identify(paths: list[Path], roster: list[Person] | None = None,
             pattern: str | None = None) -> tuple[dict[Path, Person], list[str]]:
    """{path: Person} for each submission, and warnings (unmatched or ambiguous files)."""
    regex = re.compile(pattern) if pattern else None
    if regex is not None and not {"id", "name", "email", "student"} & set(regex.groupindex):
        raise ValueError(f"--pattern needs a named group (?P<id>...), (?P<name>...), (?P<email>...) or "
                         f"(?P<student>...), got {pattern!r}")
    people, warnings = {}, []
    for path in paths:
        found, text = None, path.stem
        if regex is not None:
            match = regex.search(path.name)
            if match is None:
                warnings.append(f"{path.name}: does not match the pattern {pattern!r}")
            else:
                groups = {k: v for k, v in match.groupdict().items() if v}
                text = next(iter(groups.values()), path.stem)
                found = Person(groups.get("name") or groups.get("student") or groups.get("id") or path.stem,
                               groups.get("id", ""), groups.get("email", ""))
        if roster:
            slug = f"_{_slug(text)}_"
            candidates = [p for p in roster if any(f"_{t}_" in slug for t in
                                                   {_slug(p.id), _slug(p.email), _slug(p.email.split("@")[0]),
                                                    _slug(p.name)} if t)]
            if len(candidates) == 1:
                found = candidates[0]
            else:
                warnings.append(f"{path.name}: matches {'several' if candidates else 'no'} roster entries"
                                + (f" ({', '.join(c.name for c in candidates)})" if candidates else ""))
        people[path] = found or Person(path.stem)
    return people, warnings


# --------------------------------------------------------------------------- feedback

def _questions(result: GradeResult):
    out = {}
    for t in result.tests:
        out.setdefault(t.question, []).append(t)
    return out


def _pending_lines(result: GradeResult) -> list[str]:
    return [f"{q}: {n} hidden check{'s' if n != 1 else ''} ({p:g} points) count only at grading"
            for q, (n, p) in result.hidden_pending.items()]


def feedback_markdown(entry: BatchEntry, person: Person, written: dict[str, tuple[float | None, float, str]]
                      | None = None) -> str:
    """A student's feedback in Markdown. `written` maps a written question to (points or
    None while unmarked, max points, the TA's comment)."""
    written = written or {}
    r = entry.result
    title = f"# {person.name or entry.path.stem}: {entry.path.name}"
    if r is None:
        return f"{title}\n\nThis submission could not be graded: {entry.error}\n"
    got = r.score + sum(p for p, _, _ in written.values() if p is not None)
    most = r.max_score + sum(m for _, m, _ in written.values())
    lines = [title, "", f"**{got:g} / {most:g} points** (exercise {r.exercise})", ""]
    lines += [f"- note: {p}" for p in r.problems]
    if r.skipped:
        lines += ["", "## Statements grading did not run", ""] + [f"- {s}" for s in r.skipped]
    lines += ["", "## Questions", "", "| question | points |", "| --- | --- |"]
    by = r.by_question()
    lines += [f"| {q} | {by[q][0]:g} / {by[q][1]:g} |" for q in by]
    lines += [f"| {q} (written) | {'not marked yet' if p is None else f'{p:g}'} / {m:g} |"
              for q, (p, m, _) in written.items()]
    for question, tests in _questions(r).items():
        about = r.descriptions.get(question, "")
        lines += ["", f"### {question}" + (f": {about}" if about else ""), ""]
        for t in tests:
            tag = " (hidden check)" if t.hidden else ""
            lines.append(f"- {'passed' if t.passed else 'FAILED'}{tag}: {t.what} ({t.score:g}/{t.max_score:g})")
            if t.message:
                lines += ["", "  ```", *[f"  {m}" for m in t.message.splitlines()], "  ```"]
    for q, (p, m, comment) in written.items():
        lines += ["", f"### {q} (written)", "", f"{'not marked yet' if p is None else f'{p:g} / {m:g}'}"
                  + (f": {comment}" if comment else "")]
    if r.hidden_pending:
        lines += ["", "## Hidden checks", ""] + [f"- {line}" for line in _pending_lines(r)]
    return "\n".join(lines) + "\n"


def feedback_html(entry: BatchEntry, person: Person, written=None) -> str:
    """The same feedback as a self-contained HTML page (no scripts, no external files)."""
    written = written or {}
    r = entry.result
    esc = html.escape
    head = (f"<!doctype html><meta charset='utf-8'><title>{esc(person.name or entry.path.stem)}</title><style>"
            "body{font-family:sans-serif;margin:1.5em;max-width:60em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.25em .6em}.ok{color:#176117}.fail{color:#a31515}"
            "pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}</style>"
            f"<h1>{esc(person.name or entry.path.stem)}: {esc(entry.path.name)}</h1>")
    if r is None:
        return head + f"<p>This submission could not be graded: {esc(entry.error)}</p>"
    got = r.score + sum(p for p, _, _ in written.values() if p is not None)
    most = r.max_score + sum(m for _, m, _ in written.values())
    parts = [head, f"<p><b>{got:g} / {most:g} points</b> (exercise {esc(r.exercise)})</p>"]
    parts += [f"<p>note: {esc(p)}</p>" for p in r.problems]
    if r.skipped:
        parts.append("<h2>Statements grading did not run</h2><ul>" + "".join(f"<li>{esc(s)}</li>" for s in r.skipped)
                     + "</ul>")
    by = r.by_question()
    rows = "".join(f"<tr><td>{esc(q)}</td><td>{by[q][0]:g} / {by[q][1]:g}</td></tr>" for q in by)
    rows += "".join(f"<tr><td>{esc(q)} (written)</td><td>{'not marked yet' if p is None else f'{p:g}'} / {m:g}</td></tr>"
                    for q, (p, m, _) in written.items())
    parts.append(f"<h2>Questions</h2><table><tr><th>question</th><th>points</th></tr>{rows}</table>")
    for question, tests in _questions(r).items():
        about = r.descriptions.get(question, "")
        parts.append(f"<h3>{esc(question)}{': ' + esc(about) if about else ''}</h3><ul>")
        for t in tests:
            tag = " (hidden check)" if t.hidden else ""
            status = "<span class='ok'>passed</span>" if t.passed else "<span class='fail'>FAILED</span>"
            parts.append(f"<li>{status}{tag}: {esc(t.what)} ({t.score:g}/{t.max_score:g})"
                         + (f"<pre>{esc(t.message)}</pre>" if t.message else "") + "</li>")
        parts.append("</ul>")
    for q, (p, m, comment) in written.items():
        parts.append(f"<h3>{esc(q)} (written)</h3><p>{'not marked yet' if p is None else f'{p:g} / {m:g}'}"
                     f"{': ' + esc(comment) if comment else ''}</p>")
    if r.hidden_pending:
        parts.append("<h2>Hidden checks</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in _pending_lines(r)) + "</ul>")
    return "".join(parts)


def _file_name(person: Person, path: Path, used: set[str]) -> str:
    base = _slug(person.key) or _slug(path.stem) or "student"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def write_feedback(entries: list[BatchEntry], people: dict[Path, Person], folder: Path,
                   written: dict[Path, dict] | None = None) -> list[Path]:
    """feedback/NAME.md and feedback/NAME.html for every entry; the paths written."""
    out, used = [], set()
    target = folder / "feedback"
    target.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        person = people.get(entry.path, Person(entry.path.stem))
        name = _file_name(person, entry.path, used)
        marks = (written or {}).get(entry.path)
        for suffix, text in ((".md", feedback_markdown(entry, person, marks)), (".html", feedback_html(entry, person, marks))):
            (target / f"{name}{suffix}").write_text(text, encoding="utf-8")
            out.append(target / f"{name}{suffix}")
    return out


# --------------------------------------------------------------------------- LMS

def write_lms(kind: str, rows: list[tuple[Person, float | None]], assignment: str, path: Path) -> None:
    """A gradebook file for one assignment column.

    canvas: Canvas's gradebook import, columns Student, ID, SIS User ID, SIS Login ID,
        Section, then the assignment (ID and SIS User ID from the roster's id).
    moodle: Moodle's "Import grades from CSV", keyed by Email address, one grade column.
    A submission that could not be graded has an empty grade (nothing is imported for it).
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if kind == "canvas":
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
            for person, total in rows:
                writer.writerow([person.name, person.id, person.id, person.email, "",
                                 "" if total is None else f"{total:g}"])
        elif kind == "moodle":
            writer.writerow(["Email address", "ID number", "Full name", assignment])
            for person, total in rows:
                writer.writerow([person.email, person.id, person.name, "" if total is None else f"{total:g}"])
        else:
            raise ValueError(f"--lms must be canvas or moodle, got {kind!r}")


# --------------------------------------------------------------------------- the whole folder

def write_class_reports(entries: list[BatchEntry], folder: str | Path, *, roster: str | Path | None = None,
                        pattern: str | None = None, manual: str | Path | None = None, anonymise: bool = False,
                        lms: str | None = None, assignment: str | None = None) -> tuple[list[Path], list[str]]:
    """Everything `arcourse grade FOLDER -o REPORTS` writes (see the module docstring);
    returns the files written and warnings for the instructor."""
    from arcourse.grading.hidden import manifest
    from arcourse.grading.report import write_csv
    from arcourse.grading.written import Answer, answers_in, answers_page, read_marks, write_marks_template

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    people, warnings = identify([e.path for e in entries], read_roster(roster) if roster else None, pattern)
    exercises = sorted({e.result.exercise for e in entries if e.result})
    maxima = {q: float(p) for ex in exercises for q, p in manifest("written", ex).items()}
    marks = read_marks(Path(manual), maxima) if manual else {}
    key_file = folder / "written" / "anonymous_key.csv"
    if marks and key_file.is_file():        # a sheet filled in on the anonymised page: back to students
        with open(key_file, newline="", encoding="utf-8") as f:
            real = {row["shown as"]: row["student"] for row in csv.DictReader(f)}
        marks = {(real.get(s, s), q): v for (s, q), v in marks.items()}
    known = {people[e.path].key for e in entries}
    warnings += [f"{manual}: marks for {s!r}, who has no graded submission" for s, _ in marks if s not in known]
    written: dict[Path, dict] = {}
    answers: dict[tuple[str, str], list[Answer]] = {}
    for number, entry in enumerate(entries, start=1):
        if entry.result is None:
            continue
        questions = manifest("written", entry.result.exercise)
        if not questions:
            continue
        person = people[entry.path]
        given = answers_in(entry.path)
        written[entry.path] = {}
        for question, most in questions.items():
            mark = marks.get((person.key, question))
            written[entry.path][question] = (mark[0] if mark else None, float(most), mark[1] if mark else "")
            shown = f"student {number}" if anonymise else person.key
            answers.setdefault((entry.result.exercise, question), []).append(Answer(shown, given.get(question, "")))
    out = []
    write_csv(entries, folder / "grades.csv", people=people if roster or pattern else None, written=written)
    out.append(folder / "grades.csv")
    out += write_feedback(entries, people, folder, written)
    if answers:
        (folder / "written").mkdir(exist_ok=True)
        for (exercise, question), given in answers.items():
            page = folder / "written" / f"{exercise}_{question}.html"
            page.write_text(answers_page(exercise, question, maxima[question], given), encoding="utf-8")
            out.append(page)
        shown = {e.path: f"student {n}" if anonymise else people[e.path].key for n, e in enumerate(entries, start=1)}
        sheet = folder / "written" / "marks.csv"
        if not sheet.exists():              # the TA's sheet: never overwritten once there
            write_marks_template([(shown[p], q, most) for p, qs in written.items() for q, (_, most, _) in qs.items()],
                                 sheet)
            out.append(sheet)
        if anonymise:
            with open(key_file, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows([("shown as", "student")] + [(shown[p], people[p].key) for p in written])
            out.append(key_file)
    if lms:
        rows = []
        for entry in entries:
            extra = sum(p for p, _, _ in written.get(entry.path, {}).values() if p is not None)
            rows.append((people[entry.path], entry.result.score + extra if entry.result else None))
        target = folder / f"{lms}.csv"
        write_lms(lms, rows, assignment or (exercises[0] if exercises else "assignment"), target)
        out.append(target)
    return out, warnings
