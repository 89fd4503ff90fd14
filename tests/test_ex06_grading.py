"""Exercise 06's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("causal_attention", "/ math.sqrt(D)                  # (B, N, T, T)\n    ahead",
            "                  # (B, N, T, T)\n    ahead", lost=3,
            why="causal attention without the 1/sqrt(D) scale"),
    Mistake("causal_attention", 'weights = scores.masked_fill(ahead, float("-inf")).softmax(dim=-1)',
            "weights = scores.softmax(dim=-1).masked_fill(ahead, 0.0)", lost=4,
            why="the future zeroed after the softmax, so rows no longer sum to 1"),
    Mistake("sliding_window_attention", "(t[:, None] - t[None, :] >= window)", "(t[:, None] - t[None, :] > window)",
            lost=6, why="a window one step too wide"),
    Mistake("sliding_window_attention", "scores = q @ k.transpose(-2, -1) / math.sqrt(D)                  # (B, N, T, T)\n"
            "    weights = scores.masked_fill(hidden",
            "scores = q @ k.transpose(-2, -1)                  # (B, N, T, T)\n    weights = scores.masked_fill(hidden",
            lost=4, why="sliding-window scores without the 1/sqrt(D) scale"),
    Mistake("multi_head_attention", "& real[:, None, :]", "& real[:, :, None]", lost=2,
            why="padding hidden on the query axis instead of the key axis"),
    Mistake("multi_head_attention",
            "    weights = torch.where(allowed[:, None].any(-1, keepdim=True), weights, torch.zeros_like(weights))\n",
            "", lost=1, why="padding rows left as the NaN of a softmax over no key"),
    Mistake("attention_step", "(q @ k_cache.transpose(-2, -1) / math.sqrt(D))", "(q @ k_cache.transpose(-2, -1))",
            lost=4, why="a cached step without the 1/sqrt(D) scale"),
    Mistake("attention_step", "    if (k_cache.ndim != 4 or k_cache.shape != v_cache.shape\n",
            "    if False and (k_cache.ndim != 4 or k_cache.shape != v_cache.shape\n", lost=1,
            why="a cached step that never checks the caches"),
    Mistake("decode_attention",
            "count(q[:, :, t:t + 1], k[:, :, :t + 1].transpose(-2, -1)) / math.sqrt(D)   # (B, N, 1, t + 1)\n"
            "            rows.append(count(scores.softmax(dim=-1), v[:, :, :t + 1]))",
            "count(q[:, :, t:t + 1], k.transpose(-2, -1)) / math.sqrt(D)   # (B, N, 1, T)\n"
            "            rows.append(count(scores.softmax(dim=-1), v))", lost=2,
            why="the cached step reads the whole sequence, future included"),
    Mistake("decode_attention",
            "count(q[:, :, t:t + 1], k[:, :, :t + 1].transpose(-2, -1)) / math.sqrt(D)   # (B, N, 1, t + 1)\n"
            "            rows.append(count(scores.softmax(dim=-1), v[:, :, :t + 1]))",
            "count(q[:, :, :t + 1], k[:, :, :t + 1].transpose(-2, -1)) / math.sqrt(D)   # (B, N, t + 1, t + 1)\n"
            "            rows.append(count(scores.softmax(dim=-1), v[:, :, :t + 1])[:, :, -1:])", lost=2,
            why="the cached branch recomputes every row of the prefix"),
]
graded = mistakes_fixture("ex06_attention", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
