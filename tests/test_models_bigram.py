"""BigramLM: counts by hand, smoothing, normalisation, generation, and gradient training."""
import math

import pytest
import torch

from arcourse import evaluate, make_generator, nll, seed_everything, train
from arcourse.data import CharTokenizer, NameBatches, pad_sequences
from arcourse.decoding import generate
from arcourse.models import BigramConfig, BigramLM

SEQS = [[0, 1, 2, 0], [0, 1, 1, 0], [0, 2, 0]]  # boundary id 0 wraps each sequence


def fitted(alpha: float) -> BigramLM:
    return BigramLM(BigramConfig(3, alpha=alpha)).fit([pad_sequences(SEQS, 0)])


def test_counts_by_hand_skip_padding():
    counts = BigramLM.count([pad_sequences(SEQS, 0)], 3)
    # pairs: 0->1, 1->2, 2->0 | 0->1, 1->1, 1->0 | 0->2, 2->0 (padding of the short row is not counted)
    want = torch.tensor([[0, 2, 1], [1, 1, 1], [2, 0, 0]], dtype=torch.float64)
    assert torch.equal(counts, want)


def test_add_alpha_probabilities():
    model = fitted(alpha=0.5)
    probs = model.table.exp()
    torch.testing.assert_close(probs[0], torch.tensor([0.5, 2.5, 1.5]) / 4.5)
    torch.testing.assert_close(probs[2], torch.tensor([2.5, 0.5, 0.5]) / 3.5)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3))


def test_alpha_zero_is_maximum_likelihood_with_zeros():
    model = BigramLM(BigramConfig(4, alpha=0.0)).fit([pad_sequences(SEQS, 0)])
    probs = model.table.exp()
    torch.testing.assert_close(probs[1], torch.tensor([1, 1, 1, 0]) / 3.0)
    torch.testing.assert_close(probs[3], torch.full((4,), 0.25))  # never seen: uniform
    # an unseen pair costs infinite NLL: why smoothing exists
    assert math.isinf(nll(model(torch.tensor([[1]])), torch.tensor([[3]])).item())


def test_forward_contract_and_fast_path():
    model = fitted(alpha=1.0)
    idx = torch.tensor([[0, 1, 2], [2, 2, 1]])
    logits = model(idx)
    assert logits.shape == (2, 3, 3)
    torch.testing.assert_close(logits[1, 0], model.table[2])
    logits, state = model.start(idx)
    torch.testing.assert_close(logits, model.table[idx[:, -1]])
    step, _ = model.step(torch.tensor([1, 0]), state)
    torch.testing.assert_close(step, model.table[[1, 0]])
    outs = [generate(model, torch.zeros(4, 1, dtype=torch.long), 10, generator=make_generator(0), eos_id=0,
                     use_cache=cache) for cache in (True, False)]
    assert torch.equal(outs[0], outs[1])


def test_gradient_training_reaches_the_count_solution():
    """The smoothed counts with alpha -> 0 are the maximum-likelihood table: training the
    same table by gradient descent approaches the count model's loss."""
    tok = CharTokenizer("abc")
    names = ["ab", "abc", "ca", "bca", "a", "cab", "bb", "acb"]
    batches = NameBatches(names, tok, batch_size=len(names), shuffle=False)
    counted = BigramLM(BigramConfig(tok.vocab_size, alpha=1e-3)).fit(batches)
    seed_everything(0)
    learned = BigramLM(BigramConfig(tok.vocab_size))
    train(learned, batches, 400, lr=0.1, progress=False)
    assert abs(evaluate(learned, batches) - evaluate(counted, batches)) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(vocab_size=1), "vocab_size"),
    (dict(vocab_size=5, alpha=-1.0), "alpha"),
    (dict(vocab_size=5, alpha=float("nan")), "alpha"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BigramConfig(**kwargs)


def test_bad_inputs():
    model = fitted(alpha=1.0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        BigramLM.count([(torch.tensor([[0, 5]]), torch.tensor([[1, 1]]))], 3)
    with pytest.raises(TypeError, match="BigramConfig"):
        BigramLM(3)
