"""SpeculativePanel (lecture 08): measured acceptance and tokens per call, checked by rerunning."""
import pytest

from arcourse.device import make_generator
from arcourse.decoding import speculative_generate
from arcourse.widgets import SpeculativePanel

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def panel():
    return SpeculativePanel.from_checkpoint(n_tokens=30, k=2)


def rounds(n_tokens, k):
    """Target calls when every draft is accepted: each round emits k_now + 1 tokens."""
    calls, made = 0, 0
    while made < n_tokens:
        made += min(k, n_tokens - made - 1) + 1
        calls += 1
    return calls


def test_the_target_as_its_own_draft_is_always_accepted(panel):
    panel.draft.value = list(panel.drafts)[-1]  # the target itself
    for k in (1, 4, 8):
        panel.k.value = k
        assert panel.stats.acceptance_rate == 1.0
        assert panel.predicted_acceptance == pytest.approx(1.0, abs=1e-5)
        assert panel.stats.target_calls == rounds(30, k)
        assert panel.stats.tokens_per_target_call == pytest.approx(30 / rounds(30, k))
        assert f"{panel.stats.tokens_per_target_call:.2f} per call" in panel.readout
        assert panel.speculative_seconds > 0 and panel.plain_seconds > 0


def test_a_poor_draft_is_rejected_more_and_the_stats_are_real(panel):
    panel.k.value = 4
    panel.draft.value = list(panel.drafts)[0]  # the worst GPT
    stats = panel.stats
    tokens, again = speculative_generate(panel.target, panel.drafts[panel.draft.value], panel.prompt, 30, k=4,
                                         generator=make_generator(panel.seed))
    assert (tokens == panel.tokens).all() and again == stats  # what it shows is what a run measures
    assert stats.acceptance_rate < 0.95 and panel.predicted_acceptance < 0.95
    assert stats.tokens_per_target_call < 30 / rounds(30, 4)
    assert f"accepted {stats.accepted} of {stats.drafted}" in panel.readout
    assert (panel.draft.value, 4) in panel.history


def test_bad_arguments(panel):
    with pytest.raises(ValueError, match="k"):
        SpeculativePanel(panel.target, panel.drafts, [0], k=0)
    with pytest.raises(TypeError, match="drafts"):
        SpeculativePanel(panel.target, {}, [0])
    with pytest.raises(ValueError, match="draft must be one of"):
        SpeculativePanel(panel.target, panel.drafts, [0], draft="nope")
    with pytest.raises(ValueError, match="context_len"):
        SpeculativePanel(panel.target, panel.drafts, [0], n_tokens=100)
