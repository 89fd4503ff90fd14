"""Write it yourself (`arcourse/grading/forbid.py`): the references a question declares are
stubs while the student's code runs for it, everything is restored afterwards, and a
submission that delegates gets 0 on exactly the delegated questions, per exercise."""
from __future__ import annotations

import re
import types
from pathlib import Path

import pytest
import torch

import arcourse
from arcourse import metrics
from arcourse.grading import forbid
from arcourse.grading.api import question
from arcourse.grading.runner import TestResult, grade_many

ROOT = Path(__file__).resolve().parents[1]


def test_blocked_references_raise_and_come_back():
    x = torch.randn(2, 5)
    want = torch.log_softmax(x, -1)
    student = types.ModuleType("submission")
    student.ls = torch.log_softmax                     # `from torch import log_softmax as ls`
    names = ("torch.log_softmax", "torch.Tensor.log_softmax", "torch.nn.functional.log_softmax",
             "arcourse.metrics.entropy")
    with forbid.blocking(names, student):
        for call in (lambda: torch.log_softmax(x, -1), lambda: x.log_softmax(-1), lambda: student.ls(x, -1),
                     lambda: torch.nn.functional.log_softmax(x, -1), lambda: arcourse.entropy(torch.ones(2) / 2),
                     lambda: metrics.entropy(torch.ones(2) / 2)):
            with pytest.raises(forbid.WriteItYourselfError, match="write (log_softmax|entropy) yourself"):
                call()
        assert torch.equal(torch.exp(x), x.exp())    # what is not declared still works
    torch.testing.assert_close(torch.log_softmax(x, -1), want)
    torch.testing.assert_close(x.log_softmax(-1), want)
    torch.testing.assert_close(student.ls(x, -1), want)
    assert "log_softmax" not in torch.Tensor.__dict__        # the inherited method is back, not a copy
    assert arcourse.entropy is metrics.entropy


def test_restored_even_when_the_student_raises():
    with pytest.raises(ZeroDivisionError):
        with forbid.blocking(["torch.logsumexp"]):
            1 / 0
    assert torch.logsumexp(torch.zeros(3), 0) == pytest.approx(torch.log(torch.tensor(3.0)))


def test_unknown_references_are_ignored_and_bad_declarations_refused():
    with forbid.blocking(["torch.not_a_function_anywhere"]):
        pass
    with pytest.raises(TypeError, match="list of dotted names"):
        question("q", write="torch.log_softmax")
    with pytest.raises(ValueError, match="dotted names"):
        question("q", write=["log_softmax"])


def test_a_delegated_question_scores_zero_and_the_others_keep_their_points():
    tests = [TestResult("a", "t1", "", 0.0, 2.0, forbid.STATUS, "blocked"),
             TestResult("a", "t2", "", 1.0, 1.0, "passed"),            # input validation, never reached the stub
             TestResult("b", "t3", "", 3.0, 3.0, "passed")]
    forbid.zero_delegated(tests)
    assert [t.score for t in tests] == [0.0, 0.0, 3.0]
    assert "0 for the whole question" in tests[1].message and tests[2].message == ""


def test_every_declared_reference_exists():
    """A declaration that names nothing would silently allow delegation (say after a rename)."""
    for check in sorted((ROOT / "arcourse" / "grading" / "checks").glob("test_ex*.py")):
        for names in re.findall(r"write=\(([^)]*)\)", check.read_text(), re.S):
            for name in re.findall(r'"([^"]+)"', names):
                forbid.resolve(name)


# one delegating submission per exercise: (solution, {function: delegating body}, delegated questions)
DELEGATIONS = {
    "ex01_chain_rule": ({"ancestral_sample": """
        import arcourse.decoding as d
        gen = torch.Generator().manual_seed(seed)
        x = torch.zeros(n_samples, len(tables), dtype=torch.long)
        for i, table in enumerate(tables):
            probs = table[tuple(x[:, j] for j in range(i))] if i else table.expand(n_samples, -1)
            x[:, i] = d.sample_tokens(probs.log(), generator=gen)
        return x"""}, {"ancestral_sample"}),
    "ex02_information": ({"plugin_entropy": "c = torch.as_tensor(counts).double()\nreturn metrics.entropy(c / c.sum(-1, keepdim=True))",
                          "logsumexp": "return torch.logsumexp(x, dim=dim, keepdim=keepdim)"},
                         {"plugin_entropy", "logsumexp"}),
    "ex03_rnn": ({"lstmp_layer": """
        lstm = torch.nn.LSTM(xs.shape[-1], W_hr.shape[1], proj_size=W_hr.shape[0], batch_first=True).to(xs.dtype)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(W_ih)
            lstm.weight_hh_l0.copy_(W_hh)
            lstm.bias_ih_l0.copy_(b_ih)
            lstm.bias_hh_l0.copy_(b_hh)
            lstm.weight_hr_l0.copy_(W_hr)
            out, (_, c) = lstm(xs)
            return out, c[0]"""}, {"lstmp_layer"}),
    "ex04_pixelcnn": ({"make_mask": """
        from arcourse.models.pixelcnn import pixelcnn_mask
        return pixelcnn_mask(kernel_size, mask_type, in_channels, out_channels, data_channels)"""}, {"make_mask"}),
    "ex05_wavenet": ({"mu_law_encode": "import arcourse\nreturn arcourse.mu_law_encode(x, levels)",
                      "mu_law_decode": "import arcourse\nreturn arcourse.mu_law_decode(q, levels)"}, {"mu_law"}),
    "ex06_attention": ({"causal_attention": """
        import torch.nn.functional as F
        T = q.shape[-2]
        ahead = torch.ones(T, T, dtype=torch.bool).triu(1)
        w = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(ahead, float('-inf')).softmax(-1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True), w"""}, {"causal_attention"}),
    "ex07_decoding": ({"top_k_filter": "from arcourse.decoding import TopK\nreturn TopK(k)(logits)"},
                      # the student's sampler calls this top_k_filter: it delegates too
                      {"top_k", "sample_continuations"}),
    "ex08_beyond": ({"normal_nll": "return -torch.distributions.Normal(mu, sigma).log_prob(x)"}, {"gaussian_nll"}),
}


@pytest.fixture(scope="module")
def delegated_grades(tmp_path_factory):
    from grading_toy import replace_bodies

    folder = tmp_path_factory.mktemp("delegating")
    for stem, (bodies, _) in DELEGATIONS.items():
        (folder / f"{stem}.py").write_text(replace_bodies((ROOT / "solutions" / f"{stem}.py").read_text(), bodies))
    entries = grade_many(sorted(folder.glob("*.py")), jobs=2)
    return {e.path.stem: e for e in entries}


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(DELEGATIONS))
def test_a_delegating_submission_gets_zero_on_exactly_the_delegated_questions(stem, delegated_grades):
    entry = delegated_grades[stem]
    assert entry.result is not None, entry.error
    delegated = DELEGATIONS[stem][1]
    for name, (got, most) in entry.result.by_question().items():
        if name in delegated:
            assert got == 0 and most > 0, f"{stem} {name}: {got}/{most} although it calls the reference"
            assert any("yourself" in t.message for t in entry.result.tests if t.question == name)
        else:
            assert got == most, f"{stem} {name}: honest work lost points ({got}/{most})"
