"""`arcourse similarity`: winnowed token fingerprints see through renamed variables,
comments and layout, ignore the starter code everyone received, and flag only pairs above
the threshold, with a side-by-side page."""
from __future__ import annotations

from pathlib import Path

from arcourse import cli
from arcourse.grading.similarity import compare, normalised_tokens, winnow

HEADER = "# ---\n# jupyter:\n#   arcourse:\n#     exercise: ex02\n# ---\n"
STARTER = HEADER + '''
# %%
import torch

# %%
def entropy(p):
    """H(p) in nats along the last axis."""
    # YOUR CODE HERE
    raise NotImplementedError("replace this line with your code")

# %%
p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
print("entropy:", entropy(p).tolist(), "should be", [0.6931, 1.3863])
'''
ALICE = STARTER.replace('''    # YOUR CODE HERE
    raise NotImplementedError("replace this line with your code")''', '''    safe = torch.where(p > 0, p, torch.ones_like(p))
    terms = torch.where(p > 0, p * torch.log(safe), torch.zeros_like(p))
    total = -terms.sum(dim=-1)
    if total.dim() == 0:
        return total.item()
    return total''')
# Bob copied Alice and disguised it: other names, comments, blank lines, spacing
BOB = STARTER.replace('''    # YOUR CODE HERE
    raise NotImplementedError("replace this line with your code")''', '''    # my own approach!
    guard   = torch.where(p > 0, p, torch.ones_like(p))

    parts = torch.where(p > 0, p * torch.log(guard), torch.zeros_like(p))   # 0 log 0 = 0
    result = -parts.sum(dim=-1)
    if result.dim() == 0:
        return result.item()
    return result''')
CAROL = STARTER.replace('''    # YOUR CODE HERE
    raise NotImplementedError("replace this line with your code")''', '''    out = []
    for row in p.reshape(-1, p.shape[-1]).tolist():
        out.append(-sum(x * math.log(x) for x in row if x > 0))
    return torch.tensor(out, dtype=p.dtype).reshape(p.shape[:-1])''').replace("import torch", "import math\nimport torch")


def test_normalisation_ignores_names_comments_and_layout():
    a = [t for t, _ in normalised_tokens("total = x + 1  # sum\n")]
    b = [t for t, _ in normalised_tokens("s   =   y+2\n\n")]
    assert a == b == ["V", "=", "V", "+", "N"]
    assert [t for t, _ in normalised_tokens("torch.log(p)")] == ["V", ".", "log", "(", "V", ")"]   # attributes stay


def test_winnowing_finds_every_long_enough_match():
    tokens = normalised_tokens(ALICE)
    prints = winnow(tokens)
    assert 0 < len(prints) < len(tokens)
    assert set(prints) <= set(winnow(normalised_tokens(ALICE + "\nx = 1\n")))


def _folder(tmp_path, **files):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def test_a_disguised_copy_is_flagged_and_independent_work_is_not(tmp_path):
    folder = _folder(tmp_path, alice=ALICE, bob=BOB, carol=CAROL, dave=STARTER)
    starter = tmp_path / "ex02_information.py"
    starter.write_text(STARTER)
    pairs = compare(sorted(folder.glob("*.py")), starter=starter, threshold=0.5)
    assert [(p.a.path.stem, p.b.path.stem) for p in pairs] == [("alice", "bob")]
    assert pairs[0].similarity > 0.9
    # without the starter, the code everyone received makes the untouched stub look like a copy
    unfiltered = compare(sorted(folder.glob("*.py")), threshold=0.5)
    assert any("dave" in (p.a.path.stem, p.b.path.stem) for p in unfiltered)


def test_cli_writes_the_side_by_side_report(tmp_path, capsys):
    folder = _folder(tmp_path, alice=ALICE, bob=BOB, carol=CAROL)
    starter = tmp_path / "ex02_information.py"
    starter.write_text(STARTER)
    out = tmp_path / "report"
    assert cli.main(["similarity", str(folder), "--starter", str(starter), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alice.py  bob.py" in printed and "carol" not in printed
    index = (out / "index.html").read_text()
    page = (out / "pair_001.html").read_text()
    assert "pair_001.html" in index and "alice.py" in page and "bob.py" in page
    assert "class=\"m\"" in page and "torch.log(guard)" in page and "<script" not in page
