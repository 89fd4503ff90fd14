"""Exercise 07's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("temperature", "    if not temperature > 0:\n", "    if temperature < 0:\n", lost=1,
            why="temperature zero accepted"),
    Mistake("top_k", "    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[:, :k], True)\n",
            "    keep = logits >= logits.gather(-1, order[:, k - 1:k])  # every token tied with the k-th\n",
            lost=4, why="top-k keeps every token tied with the k-th (Hugging Face)"),
    Mistake("top_p", "    drop_sorted &= rank >= min_tokens_to_keep\n", "", lost=2,
            why="top-p ignores min_tokens_to_keep"),
    Mistake("top_p", "    mass_before = probs.cumsum(dim=-1) - probs\n", "    mass_before = probs.cumsum(dim=-1)\n",
            lost=7, why="top-p drops the token that crosses p"),
    Mistake("sample_continuations", "            if top_k is not None:\n                logits = top_k_filter(logits, top_k)\n",
            "", lost=2, why="sampler ignores top_k"),
    Mistake("sample_continuations", "torch.multinomial(logits.softmax(dim=-1), 1, generator=gen)",
            "torch.multinomial(logits.softmax(dim=-1), 1)", lost=1, why="sampler ignores the seed"),
    Mistake("beam_search", "            best = total.flatten().topk(n_keep)\n",
            "            best = total.flatten().topk(1)\n", lost=6, why="a beam that never branches"),
    Mistake("beam_search", "key=lambda h: h[1] / (len(h[0]) - n_prompt) ** length_penalty)",
            "key=lambda h: h[1])", lost=5, why="finished hypotheses ranked without length normalisation"),
    Mistake("entropy_sweep", "        log_q = apply_temperature(logits, tau).log_softmax(dim=-1)  # (N, n, V)\n",
            "        log_q = logits.log_softmax(dim=-1)  # (N, n, V)\n", lost=3,
            why="entropy measured with the untempered model"),
    Mistake("entropy_sweep", "picked.sum(dim=1).mean() / n_new", "picked.sum(dim=1).mean()", lost=3,
            why="entropy per sequence instead of per token"),
]
graded = mistakes_fixture("ex07_decoding", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
