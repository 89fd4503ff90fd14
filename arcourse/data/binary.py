"""Binary strings small enough to enumerate: exact likelihoods, exact data distributions.

With n bits there are only 2**n strings, so for n <= 20 or so a model's probability of every
string can be listed and summed (an AR model's must sum to exactly 1), and a data set made
of *all* strings under a rule is its exact data distribution. The rules append one bit that
is a function of the others, which makes "some orders are easier to learn" measurable:
majority is a threshold on the sum in one order and needs "exactly half" in the other;
parity is equally hard in every order.
"""
from __future__ import annotations

import torch

from arcourse._checks import check_int

MAX_ENUMERATED_BITS = 24  # 2**24 strings of 24 bits: 400 MB as int64, the most we allow


def all_binary_strings(n_bits: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Every string of `n_bits` bits, in counting order (row k is k written in binary).

    Args:
        n_bits: string length, 1 <= n_bits <= 24.
        device: where to put the result.
    Returns:
        (2**n_bits, n_bits) int64 tensor of 0/1, most significant bit first.
    """
    check_int("n_bits", n_bits, 1, MAX_ENUMERATED_BITS)
    k = torch.arange(2**n_bits, device=device)[:, None]                        # (2**n, 1)
    shifts = torch.arange(n_bits - 1, -1, -1, device=device)                    # (n,)
    return (k >> shifts) & 1                                                    # (2**n, n)


def _check_bits(bits: torch.Tensor) -> None:
    if not isinstance(bits, torch.Tensor) or bits.ndim != 2 or bits.shape[1] < 1:
        shape = tuple(bits.shape) if isinstance(bits, torch.Tensor) else type(bits).__name__
        raise ValueError(f"bits must be a (B, n) tensor with n >= 1, got {shape}")
    if bits.is_floating_point() or not bool(((bits == 0) | (bits == 1)).all()):
        raise ValueError("bits must be an integer tensor holding only 0 and 1")


def majority_bit(bits: torch.Tensor) -> torch.Tensor:
    """1 where more than half of a row's bits are 1.

    Args:
        bits: (B, n) 0/1 integer tensor; n must be odd so that there are no ties.
    Returns:
        (B,) int64 tensor.
    """
    _check_bits(bits)
    if bits.shape[1] % 2 == 0:
        raise ValueError(f"majority needs an odd number of bits (no ties), got n={bits.shape[1]}")
    return (2 * bits.sum(dim=1) > bits.shape[1]).long()


def parity_bit(bits: torch.Tensor) -> torch.Tensor:
    """1 where a row holds an odd number of 1s (the XOR of its bits).

    Args:
        bits: (B, n) 0/1 integer tensor.
    Returns:
        (B,) int64 tensor.
    """
    _check_bits(bits)
    return (bits.sum(dim=1) % 2).long()


RULES = {"majority": majority_bit, "parity": parity_bit}


def append_rule_bit(bits: torch.Tensor, rule: str) -> torch.Tensor:
    """Append a bit that is a function of the others: x_{n+1} = rule(x_1..x_n).

    Args:
        bits: (B, n) 0/1 integer tensor.
        rule: "majority" or "parity".
    Returns:
        (B, n + 1) int64 tensor whose last column is the rule's bit.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}, got rule={rule!r}")
    return torch.cat([bits.long(), RULES[rule](bits)[:, None]], dim=1)
