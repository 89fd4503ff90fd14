"""Binary strings for exact enumeration, and rule bits that are functions of the others."""
import itertools

import pytest
import torch

from arcourse.data import all_binary_strings, append_rule_bit, majority_bit, parity_bit


def test_all_binary_strings_lists_every_string_once_in_counting_order():
    strings = all_binary_strings(3)
    assert strings.dtype == torch.int64 and strings.shape == (8, 3)
    assert strings.tolist() == [list(bits) for bits in itertools.product([0, 1], repeat=3)]
    wide = all_binary_strings(12)
    weights = 2 ** torch.arange(11, -1, -1)
    assert torch.equal(wide @ weights, torch.arange(2**12))  # row k is k in binary


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (25, ValueError), (2.0, TypeError),
                                        (True, TypeError), ("3", TypeError)])
def test_all_binary_strings_rejects_bad_lengths(bad, error):
    with pytest.raises(error, match="n_bits"):
        all_binary_strings(bad)


def test_majority_and_parity_by_hand():
    bits = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1]])
    assert majority_bit(bits).tolist() == [0, 0, 1, 1, 1]
    assert parity_bit(bits).tolist() == [0, 1, 0, 1, 0]
    assert parity_bit(torch.tensor([[1, 1, 1, 1]])).tolist() == [0]


def test_append_rule_bit_keeps_the_bits_and_appends_the_rule():
    bits = all_binary_strings(5)
    for rule, fn in (("majority", majority_bit), ("parity", parity_bit)):
        data = append_rule_bit(bits, rule)
        assert data.shape == (32, 6) and torch.equal(data[:, :5], bits)
        assert torch.equal(data[:, 5], fn(bits))
    # majority of an odd number of fair bits is itself a fair bit; parity of all 6 bits is even
    assert append_rule_bit(bits, "majority")[:, 5].sum() == 16
    assert (append_rule_bit(bits, "parity").sum(1) % 2 == 0).all()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="odd"):
        majority_bit(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="only 0 and 1"):
        parity_bit(torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        parity_bit(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\(B, n\)"):
        parity_bit(torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="rule"):
        append_rule_bit(torch.zeros(2, 3, dtype=torch.long), "xor")
