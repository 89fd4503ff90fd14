"""Exact string log-likelihoods and the exposure-bias measurement, on models with known answers."""
import math

import numpy as np
import pytest
import torch

from arcourse import evaluate, make_generator
from arcourse.data import CharTokenizer, NameBatches
from arcourse.decoding import Temperature, generate
from arcourse.metrics.evaluation import exposure_bias, text_log_prob
from arcourse.models import BigramConfig, BigramLM

TOK = CharTokenizer("ab")  # ids: "." 0, "a" 1, "b" 2
NEVER = -math.inf


def table_model(rows) -> BigramLM:
    model = BigramLM(BigramConfig(3))
    with torch.no_grad():
        model.table.copy_(torch.tensor(rows, dtype=torch.float32).log())
    return model


def test_text_log_prob_by_hand():
    # p(. -> a) = 0.75, p(a -> b) = 0.5, p(b -> .) = 0.25, ...
    model = table_model([[0.0, 0.75, 0.25], [0.5, 0.0, 0.5], [0.25, 0.25, 0.5]])
    got = text_log_prob(model, TOK, ["ab", "", "bba"])
    want = torch.tensor([0.75 * 0.5 * 0.25, 0.0, 0.25 * 0.5 * 0.25 * 0.5], dtype=torch.float64).log()
    torch.testing.assert_close(got, want)
    assert got[1] == -math.inf  # p(empty name) = p(. -> .) = 0
    with pytest.raises(TypeError, match="sequence of strings"):
        text_log_prob(model, TOK, "ab")


def test_deterministic_model_that_copies_training():
    # . -> a -> b -> . with certainty: every sample is "ab"
    model = table_model([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    report = exposure_bias(model, TOK, ["ab", "ba"], ["ba", "ab"], n_samples=5, n=2)
    assert report.samples == ["ab"] * 5
    assert report.unseen_rate_samples == 0 and report.unseen_rate_data == 0 and report.gap == 0
    assert report.real_fraction == 1 and report.copied_fraction == 1 and report.unfinished_fraction == 0
    assert report.mean_length_samples == 2 and report.mean_length_data == 2
    # test "ba" is impossible under this model: infinite NLL at its first step
    assert math.isinf(report.teacher_forced_nll)
    np.testing.assert_array_equal(report.count_samples_by_position[:4], [5, 5, 5, 0])


def test_samples_off_the_training_n_grams_and_unfinished():
    # . -> a, then a -> a forever: "aaaa..." never ends
    model = table_model([[0, 1, 0], [0, 1, 0], [1, 0, 0]])
    report = exposure_bias(model, TOK, ["ab"], ["ab"], n_samples=3, max_len=4, n=2)
    assert report.samples == ["aaaa"] * 3 and report.unfinished_fraction == 1
    # n-grams of "aaaa" (unfinished, so no end token): (., a) seen, then (a, a) three times unseen
    np.testing.assert_array_equal(report.unseen_rate_samples_by_position[:4], [0, 1, 1, 1])
    assert report.unseen_rate_samples == 0.75 and report.real_fraction == 0
    assert np.isnan(report.unseen_rate_samples_by_position[4])  # no sample reaches position 4
    np.testing.assert_array_equal(report.unseen_rate_data_by_position[:3], [0, 0, 0])


def test_teacher_forced_loss_matches_evaluate():
    model = table_model([[0.2, 0.5, 0.3], [0.4, 0.3, 0.3], [0.1, 0.6, 0.3]])
    test = ["ab", "b", "aab", "bbba"]
    report = exposure_bias(model, TOK, ["ab"], test, n_samples=4, generator=make_generator(0))
    assert report.teacher_forced_nll == pytest.approx(evaluate(model, NameBatches(test, TOK, 3, shuffle=False)))
    # position 0 is the first character of every test text
    first = -np.log([0.5, 0.3, 0.5, 0.3]).mean()
    assert report.teacher_forced_nll_by_position[0] == pytest.approx(first)


def test_zero_point_and_drift():
    """Samples of the true source look like held-out data (gap near 0); a distorted model
    (sampled at temperature 3) leaves the data's n-grams (gap clearly above 0)."""
    tok = CharTokenizer("abcdef")
    gen = torch.Generator().manual_seed(0)
    source = BigramLM(BigramConfig(tok.vocab_size))
    with torch.no_grad():
        source.table.copy_(torch.randn(7, 7, generator=gen) * 1.5)
        source.table[:, 0] += 1.0  # texts end after a few characters
    texts = generate(source, torch.zeros(2200, 1, dtype=torch.long), 40, generator=make_generator(1), eos_id=0)
    names = [tok.decode(row[1:]) for row in texts.tolist()]
    train, test = names[:200], names[200:]  # a small training set leaves n-grams unseen
    fair = exposure_bias(source, tok, train, test, n_samples=2000, max_len=39, generator=make_generator(2))
    hot = exposure_bias(source, tok, train, test, n_samples=2000, max_len=39, processors=[Temperature(3.0)],
                        generator=make_generator(2))
    assert 0.02 < fair.unseen_rate_data < 0.2
    assert abs(fair.gap) < 0.2 * fair.unseen_rate_data
    assert hot.gap > 3 * fair.unseen_rate_data


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n >= 1"),
    (dict(n_samples=0), "n_samples"),
    (dict(max_len=0), "max_len"),
])
def test_validation(kwargs, match):
    model = BigramLM(BigramConfig(3))
    with pytest.raises(ValueError, match=match):
        exposure_bias(model, TOK, ["ab"], ["ba"], **kwargs)
    with pytest.raises(ValueError, match="non-empty"):
        exposure_bias(model, TOK, [], ["ba"])
