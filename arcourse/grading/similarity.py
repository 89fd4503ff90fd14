"""Similar submissions: token fingerprints with winnowing, as in MOSS (Schleimer, Wilkerson
and Aiken, 2003).

Each submission's code cells are tokenized with Python's own tokenizer; comments, blank
lines and indentation are dropped, every name that is not a keyword or an attribute becomes
`V`, numbers `N` and strings `S`, so renaming variables, reformatting and rewording comments
change nothing. Hashes of every k tokens in a row are winnowed (the smallest hash of each
window of w, Schleimer et al.'s guarantee: any match of at least w + k - 1 tokens is found).
Fingerprints that also occur in the starter code everyone received (the generated
exercise) are removed, so only what students wrote counts. Two submissions are similar by
the share of the smaller one's fingerprints they have in common. The report flags; a
person decides.
"""
from __future__ import annotations

import html
import io
import keyword
import tokenize
import zlib
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

K_TOKENS = 12      # tokens per fingerprinted k-gram
WINDOW = 8         # winnowing window (k-grams)


@dataclass
class Fingerprints:
    path: Path
    lines: list[str]                                      # the code, for the side-by-side view
    hashes: dict[int, list[int]] = field(default_factory=dict)   # hash -> lines (0-based) it covers


def normalised_tokens(code: str) -> list[tuple[str, int]]:
    """(token, line) pairs of `code` after normalising names, numbers and strings; code
    that does not tokenize keeps the tokens before the error."""
    out: list[tuple[str, int]] = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                            tokenize.ENDMARKER, tokenize.ENCODING):
                continue
            if tok.type == tokenize.NAME:
                text = tok.string if keyword.iskeyword(tok.string) or previous == "." else "V"
            elif tok.type == tokenize.NUMBER:
                text = "N"
            elif tok.type == tokenize.STRING:
                text = "S"
            else:
                text = tok.string
            out.append((text, tok.start[0] - 1))
            previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def winnow(tokens: list[tuple[str, int]], k: int = K_TOKENS, window: int = WINDOW) -> dict[int, list[int]]:
    """The winnowed fingerprints of a token list: hash -> the lines its k-gram spans."""
    grams = []
    for i in range(len(tokens) - k + 1):
        text = "\x1f".join(t for t, _ in tokens[i:i + k])
        grams.append((zlib.crc32(text.encode()), tokens[i][1], tokens[i + k - 1][1]))
    chosen: dict[int, list[int]] = {}
    for start in range(max(1, len(grams) - window + 1)):
        part = grams[start:start + window]
        if not part:
            break
        value, first, last = min(reversed(part), key=lambda g: g[0])   # rightmost minimum
        chosen.setdefault(value, [])
        chosen[value] += [n for n in range(first, last + 1) if n not in chosen[value]]
    return chosen


def _code_of(path: Path) -> str:
    from arcourse.grading.submission import read_cells

    return "\n".join(read_cells(path))


def fingerprint(path: Path, starter: set[int] = frozenset()) -> Fingerprints:
    code = _code_of(path)
    hashes = {h: lines for h, lines in winnow(normalised_tokens(code)).items() if h not in starter}
    return Fingerprints(path, code.splitlines(), hashes)


@dataclass
class Pair:
    a: Fingerprints
    b: Fingerprints
    shared: set[int]

    @property
    def similarity(self) -> float:
        """Share of the smaller submission's own fingerprints that the other also has."""
        smaller = min(len(self.a.hashes), len(self.b.hashes))
        return len(self.shared) / smaller if smaller else 0.0


def compare(paths: list[Path], starter: Path | None = None, threshold: float = 0.5,
            min_fingerprints: int = 5) -> list[Pair]:
    """Pairs of submissions whose similarity is at least `threshold`, most similar first.
    Submissions with fewer than `min_fingerprints` of their own (a stub) are left out."""
    base = set(winnow(normalised_tokens(_code_of(starter)))) if starter else set()
    prints = [p for p in (fingerprint(path, base) for path in paths) if len(p.hashes) >= min_fingerprints]
    pairs = []
    for a, b in combinations(prints, 2):
        pair = Pair(a, b, set(a.hashes) & set(b.hashes))
        if pair.similarity >= threshold:
            pairs.append(pair)
    return sorted(pairs, key=lambda p: -p.similarity)


_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
          "padding:.3em .6em;vertical-align:top}pre{margin:0;font-size:12px}.m{background:#ffe08a}"
          ".cols{display:flex;gap:1em}.cols>div{flex:1;overflow-x:auto;border:1px solid #ccc}")


def _side(prints: Fingerprints, shared: set[int]) -> str:
    marked = {n for h in shared for n in prints.hashes.get(h, [])}
    rows = [f'<pre class="{"m" if n in marked else ""}">{n + 1:4d}  {html.escape(line)}</pre>'
            for n, line in enumerate(prints.lines)]
    return f"<div><h3>{html.escape(prints.path.name)}</h3>{''.join(rows)}</div>"


def pair_html(pair: Pair) -> str:
    """A self-contained page: the two submissions side by side, shared passages marked."""
    title = f"{pair.a.path.name} and {pair.b.path.name}: {pair.similarity:.0%} similar"
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<h1>{html.escape(title)}</h1><p>Marked lines hold token sequences both submissions share after "
            "names, numbers, strings, comments and layout are normalised (the starter code excluded). "
            "Similar code is a reason to look, not a verdict.</p>"
            f"<div class='cols'>{_side(pair.a, pair.shared)}{_side(pair.b, pair.shared)}</div>")


def write_report(pairs: list[Pair], folder: Path, threshold: float) -> Path:
    """index.html listing the pairs, and one side-by-side page per pair; returns the index."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, pair in enumerate(pairs, start=1):
        name = f"pair_{number:03d}.html"
        (folder / name).write_text(pair_html(pair), encoding="utf-8")
        rows.append(f"<tr><td>{pair.similarity:.0%}</td><td>{html.escape(pair.a.path.name)}</td>"
                    f"<td>{html.escape(pair.b.path.name)}</td><td>{len(pair.shared)}</td>"
                    f"<td><a href='{name}'>side by side</a></td></tr>")
    body = "".join(rows) or "<tr><td colspan=5>no pair above the threshold</td></tr>"
    index = folder / "index.html"
    index.write_text(f"<!doctype html><meta charset='utf-8'><title>Similar submissions</title><style>{_STYLE}"
                     f"</style><h1>Similar submissions (threshold {threshold:.0%})</h1><table><tr><th>similarity"
                     "</th><th>submission</th><th>submission</th><th>shared fingerprints</th><th></th></tr>"
                     f"{body}</table>", encoding="utf-8")
    return index
