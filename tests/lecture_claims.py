"""Find measured-looking numbers in a lecture's prose that none of its cells printed.

The course promises that a number in a lecture's markdown is an output of one of its cells.
This module makes the promise checkable: it pulls the *claims* out of the markdown cells
(decimals such as ``3.03``, percentages, ``×`` ratios, ``about N`` / ``≈ N``) and looks for
each in the text the notebook printed, at the precision the prose uses (``4.09`` matches a
printed ``4.087``; ``20 %`` matches ``20.3 %`` or ``0.203``). A number that is a literal of
the notebook's own code is a choice, not a measurement (a temperature ``0.5``, an assert's
threshold ``0.25``, ``500`` steps) and passes too. Other definitional constants (``µ = 255``,
a paper's published figure) go in a short per-lecture allow-list.

Executed notebooks come from ``build/executed/`` (written by the nbval hook in the root
``conftest.py``, so the suite runs each lecture once) or, when missing or stale, from a
fresh nbclient run that writes them there.

Run ``python tests/lecture_claims.py [NN ...]`` to list each lecture's unbacked claims
(``--execute`` re-runs the notebooks first).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LECTURES = ROOT / "lectures"
EXECUTED = ROOT / "build" / "executed"

# Definitional constants per lecture: numbers that are chosen or defined, not measured.
ALLOWED: dict[str, set[str]] = {
    "01_chain_rule": set(),
    "02_information": {"1.75", "0.5", "0.25", "0.125"},
    "03_rnn": {"4×"},
    "04_pixelcnn": {"3.14", "3.03"},   # the Gated PixelCNN paper's CIFAR-10 figures, cited as such
    "05_wavenet": set(),
    "06_gpt": set(),
    "07_decoding": set(),
    "08_beyond": set(),
}

_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_PATTERNS = [
    ("decimal", re.compile(r"(?<![\w.^_{])(\d+\.\d+)(?![\d.]*[}\w])")),
    ("percent", re.compile(rf"(?<![\w.])({_NUMBER})\s*(?:%|\\%|per ?cent)")),
    ("ratio", re.compile(rf"(?<![\w.])({_NUMBER})\s*(?:×|x\b)(?!\s*\d)")),
    ("about", re.compile(rf"(?:\babout|\baround|\broughly|≈|\\approx)\s*({_NUMBER})")),
]
_WORD_RATIOS = re.compile(r"\b(?:about half|twice as|half as|(?:two|three|four|five|ten) times)\b", re.I)
_PRINTED = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?", re.I)


@dataclass(frozen=True)
class Claim:
    kind: str       # decimal, percent, ratio, about, words
    text: str       # as written in the prose
    context: str    # the surrounding words, for the report

    def __str__(self):
        return f"{self.kind:8s} {self.text!r:12s} … {self.context} …"


def markdown_claims(notebook) -> list[Claim]:
    """Every measured-looking number in the notebook's markdown cells."""
    claims = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"`[^`]*`", " ", cell.source)                  # code spans name code, not results
        for kind, pattern in _PATTERNS:
            for match in pattern.finditer(text):
                lo, hi = max(0, match.start() - 40), min(len(text), match.end() + 30)
                context = " ".join(text[lo:hi].split())
                claims.append(Claim(kind, match.group(1) if kind != "ratio" else match.group(1) + "×", context))
        for match in _WORD_RATIOS.finditer(text):
            lo, hi = max(0, match.start() - 40), min(len(text), match.end() + 30)
            claims.append(Claim("words", match.group(0), " ".join(text[lo:hi].split())))
    return claims


def printed_text(notebook) -> str:
    """All text the notebook's code cells printed or displayed (images excluded)."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def printed_numbers(text: str) -> list[tuple[float, int]]:
    """(value, decimals) of every number in the printed text."""
    found = []
    for token in _PRINTED.findall(text):
        token = token.replace(",", "")
        try:
            value = float(token)
        except ValueError:
            continue
        mantissa = token.lower().split("e")[0]
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        found.append((abs(value), decimals))
    return found


def code_literals(notebook) -> set[float]:
    """Every number written in the notebook's code cells: the constants the lecture chose."""
    values = set()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for token in re.findall(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?:e-?\d+)?", cell.source):
                values.add(float(token.replace("_", "")))
    return values


def is_backed(claim: Claim, numbers: list[tuple[float, int]], literals: set[float] = frozenset()) -> bool:
    """True if some printed number rounds to the claim at the claim's own precision, or the
    claim is exactly a literal of the code."""
    if claim.kind == "words":
        return False
    written = claim.text.rstrip("×").replace(",", "")
    value = float(written)
    if value in literals or (claim.kind == "percent" and value / 100 in literals):
        return True
    decimals = len(written.split(".")[1]) if "." in written else 0
    half_unit = 0.5 * 10 ** -decimals + 1e-12
    targets = [value] + ([value / 100] if claim.kind == "percent" else [])
    tolerances = [half_unit] + ([half_unit / 100] if claim.kind == "percent" else [])
    if claim.kind == "about" and decimals == 0:                    # "about 40": within 10 %
        tolerances[0] = max(half_unit, 0.1 * value)
    for target, tolerance in zip(targets, tolerances):
        if any(abs(printed - target) <= tolerance for printed, _ in numbers):
            return True
    return False


def unbacked_claims(stem: str, executed) -> list[Claim]:
    """The claims of lecture `stem` that its executed notebook never printed."""
    numbers, literals = printed_numbers(printed_text(executed)), code_literals(executed)
    allowed = ALLOWED.get(stem, set())
    return [c for c in markdown_claims(executed) if c.text not in allowed and not is_backed(c, numbers, literals)]


def lecture_stems() -> list[str]:
    return sorted(p.stem for p in LECTURES.glob("[0-9][0-9]_*.py"))


def executed_notebook(stem: str, force: bool = False):
    """The executed notebook of lecture `stem`: the stored one if fresh, else run it now."""
    source, ipynb, stored = LECTURES / f"{stem}.py", LECTURES / f"{stem}.ipynb", EXECUTED / f"{stem}.ipynb"
    newest_input = max(p.stat().st_mtime for p in (source, ipynb) if p.exists())
    if not force and stored.exists() and stored.stat().st_mtime >= newest_input:
        return nbformat.read(stored, as_version=4)
    from nbclient import NotebookClient

    notebook = nbformat.read(ipynb, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(LECTURES)}}).execute()
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, stored)
    return notebook


def main(argv: list[str]) -> int:
    force = "--execute" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    stems = [s for s in lecture_stems() if not wanted or any(s.startswith(w) for w in wanted)]
    total = 0
    for stem in stems:
        claims = unbacked_claims(stem, executed_notebook(stem, force=force))
        total += len(claims)
        print(f"{stem}: {len(claims)} unbacked claim(s)")
        for claim in claims:
            print("   ", claim)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
