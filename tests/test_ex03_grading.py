"""Exercise 03's plausible mistakes, each costing exactly its points (tests/mistakes.py).
Full marks for the solution and zero for the stub are checked for every exercise in
test_grading_exercises.py."""
import pytest
from mistakes import Mistake, mistakes_fixture

MISTAKES = [
    Mistake("lstmp_layer", "        outputs.append(h)\n", "        outputs.append(unprojected)\n", lost=3,
            why="LSTMP outputs the state before the projection"),
    Mistake("teacher_forced_loss", "real = positions[None, :] < (lengths[:, None] - 1)",
            "real = positions[None, :] < lengths[:, None]", lost=3,
            why="the mask counts one padding target per row"),
    Mistake("teacher_forced_loss", "return (losses * real).sum() / real.sum()", "return (losses * real).mean()",
            lost=3, why="the masked loss divided by every position"),
    Mistake("sample_tokens_rnn", "probs = torch.softmax(logits / temperature, dim=-1)",
            "probs = torch.softmax(logits, dim=-1)", lost=3, why="a sampler that ignores the temperature"),
    Mistake("sample_tokens_rnn", "logits = model(idx)[:, -1]                                     # (N, V)",
            "logits = model(idx[:, :1])[:, -1]", lost=3,
            why="a sampler that ignores what it drew and reads only the boundary"),
    Mistake("rnn_lm_gradients", "a_bar = delta * (1 - hs[t] ** 2)", "a_bar = delta", lost=4,
            why="backpropagation forgets the tanh derivative"),
    Mistake("rnn_lm_gradients", "delta = g @ W_hy + from_later", "delta = g @ W_hy", lost=3,
            why="the gradient stops at each step (no path through later steps)"),
    Mistake("train_char_model", "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)",
            "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)", lost=3,
            why="a learning rate too small to learn within the budget"),
]
graded = mistakes_fixture("ex03_rnn", MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_mistake_loses_exactly_its_points(graded, mistake):
    graded.check(mistake)
