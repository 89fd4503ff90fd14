"""Graded checks of exercise 06: causal attention, several heads, one KV-cache step."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.models.gpt import CausalSelfAttention, GPTConfig

FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 7), st.integers(1, 8))  # B, N, T, D


def _qkv(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))


def _reference_weights(q, k):
    T, D = q.shape[-2:]
    scores = q @ k.transpose(-2, -1) / D ** 0.5
    return scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)


def _output_and_weights(result, what):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{what} should return (output, weights), got {type(result).__name__}")
    return result


@question("causal_attention", "softmax(QK^T/sqrt(D) + M) V against PyTorch's attention; causality; exact zeros",
          write=("torch.nn.functional.scaled_dot_product_attention",))
class TestCausalAttention:
    @points(3)
    @FEW
    @given(shape=SHAPES, seed=st.integers(0, 2**16))
    def test_matches_pytorch_on_random_shapes(self, student, shape, seed):
        """output and weights equal PyTorch's causal attention on random (B, N, T, D)."""
        q, k, v = _qkv(shape, seed)
        out, weights = _output_and_weights(student.causal_attention(q, k, v), "causal_attention(q, k, v)")
        check_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), "causal_attention(q, k, v)[0]",
                    q=q, k=k, v=v)
        check_close(weights, _reference_weights(q, k), "causal_attention(q, k, v)[1] (the weights)", q=q, k=k)

    @points(2)
    def test_causal_under_perturbed_future(self, student):
        """changing steps after t leaves the output at steps <= t unchanged."""
        q, k, v = _qkv((2, 2, 6, 4), 1)
        out, _ = _output_and_weights(student.causal_attention(q, k, v), "causal_attention(q, k, v)")
        for t in range(5):
            q2, k2, v2 = q.clone(), k.clone(), v.clone()
            for x in (q2, k2, v2):
                x[:, :, t + 1:] += 10.0  # change every step after t
            out2, _ = student.causal_attention(q2, k2, v2)
            check_close(out2[:, :, :t + 1], out[:, :, :t + 1],
                        f"causal_attention output at steps <= {t} after changing steps > {t}")

    @points(1)
    def test_masked_positions_get_exactly_zero_weight(self, student):
        """future positions get weight exactly 0, even with huge scores."""
        q, k, v = _qkv((1, 2, 5, 3), 2)
        k = k * 1e3  # huge scores: an additive -1e9 "mask" or a softmax-then-zero shortcut shows here
        _, weights = _output_and_weights(student.causal_attention(q, k, v), "causal_attention(q, k, v)")
        weights = torch.as_tensor(weights)
        above = weights.triu(1)
        if not torch.equal(above, torch.zeros_like(above)):
            raise AssertionError(f"weights above the diagonal must be exactly 0, largest is {above.abs().max():.3g}")
        check_close(weights.sum(-1), torch.ones(1, 2, 5, dtype=weights.dtype), "each row of the weights sums to 1")

    @points(1)
    def test_bad_shapes_raise_value_error(self, student):
        """mismatched shapes raise ValueError."""
        q = torch.zeros(1, 2, 4, 3)
        for args, what in [((q, q, q[..., :2]), "v narrower than q"), ((q, q[:, :, :3], q), "k shorter than q"),
                           ((q[0], q[0], q[0]), "3-D inputs")]:
            with pytest.raises(ValueError):
                student.causal_attention(*args)
                raise AssertionError(f"causal_attention should raise ValueError for {what}")


def _reference_module(w_qkv, w_out, n_heads):
    C = w_out.shape[0]
    module = CausalSelfAttention(GPTConfig(d_model=C, n_heads=n_heads, bias=False)).double().eval()
    with torch.no_grad():
        module.qkv.weight.copy_(w_qkv.T)
        module.proj.weight.copy_(w_out.T)
    return module


@question("multi_head_attention", "heads split, attended and merged, against torch.nn.MultiheadAttention",
          write=("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention",
                 "torch.nn.functional.multi_head_attention_forward", "arcourse.models.gpt.CausalSelfAttention"))
class TestMultiHeadAttention:
    @points(2)
    @FEW
    @given(n_heads=st.integers(1, 4), d_head=st.integers(1, 4), T=st.integers(1, 6), seed=st.integers(0, 2**16))
    def test_matches_library_module(self, student, n_heads, d_head, T, seed):
        """equals the course library's CausalSelfAttention with the same weights."""
        C = n_heads * d_head
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(2, T, C, generator=gen, dtype=torch.float64)
        w_qkv = torch.randn(C, 3 * C, generator=gen, dtype=torch.float64) / C ** 0.5
        w_out = torch.randn(C, C, generator=gen, dtype=torch.float64) / C ** 0.5
        with torch.no_grad():
            want, _ = _reference_module(w_qkv, w_out, n_heads)(x)
        check_close(student.multi_head_attention(x, w_qkv, w_out, n_heads), want,
                    "multi_head_attention(x, w_qkv, w_out, n_heads)", n_heads=n_heads, x=x)

    @points(1)
    def test_matches_torch_multihead_attention(self, student):
        """equals torch.nn.MultiheadAttention with a causal mask."""
        torch.manual_seed(3)
        C, n_heads, T = 8, 2, 5
        mha = torch.nn.MultiheadAttention(C, n_heads, bias=False, batch_first=True).double().eval()
        x = torch.randn(3, T, C, dtype=torch.float64)
        with torch.no_grad():
            want, _ = mha(x, x, x, attn_mask=torch.ones(T, T, dtype=torch.bool).triu(1), need_weights=False)
        got = student.multi_head_attention(x, mha.in_proj_weight.detach().T.contiguous(),
                                           mha.out_proj.weight.detach().T.contiguous(), n_heads)
        check_close(got, want, "multi_head_attention vs torch.nn.MultiheadAttention (causal mask)", x=x)

    @points(1)
    def test_bad_shapes_raise_value_error(self, student):
        """mismatched shapes raise ValueError."""
        x = torch.zeros(1, 3, 6)
        for args, what in [((x, torch.zeros(6, 18), torch.zeros(6, 6), 4), "n_heads=4 with C=6"),
                           ((x, torch.zeros(6, 12), torch.zeros(6, 6), 2), "w_qkv of shape (6, 12)"),
                           ((x, torch.zeros(6, 18), torch.zeros(5, 6), 2), "w_out of shape (5, 6)")]:
            with pytest.raises(ValueError):
                student.multi_head_attention(*args)
                raise AssertionError(f"multi_head_attention should raise ValueError for {what}")


@question("attention_step", "one cached decoding step equals recomputing full causal attention",
          write=("torch.nn.functional.scaled_dot_product_attention", "arcourse.models.gpt.KVCache"))
class TestAttentionStep:
    @points(2)
    @FEW
    @given(shape=SHAPES, seed=st.integers(0, 2**16))
    def test_cached_step_equals_full_recompute(self, student, shape, seed):
        """one cached step equals the last row of full causal attention; caches grow by one."""
        q, k, v = _qkv(shape, seed)
        T = shape[2]
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)[:, :, -1:]
        k_cache, v_cache = k[:, :, :-1].clone(), v[:, :, :-1].clone()
        result = student.attention_step(q[:, :, -1:], k[:, :, -1:], v[:, :, -1:], k_cache, v_cache)
        if not (isinstance(result, (tuple, list)) and len(result) == 3):
            raise AssertionError("attention_step should return (output, k_cache, v_cache)")
        out, new_k, new_v = result
        check_close(out, want, f"attention_step output for the last of T={T} positions", q=q, k=k, v=v)
        check_close(new_k, k, "the grown k_cache")
        check_close(new_v, v, "the grown v_cache")
        check_close(k_cache, k[:, :, :-1], "k_cache passed in (it must be left unchanged)")

    @points(1)
    def test_steps_from_an_empty_cache(self, student):
        """stepping from empty caches reproduces full causal attention at every step."""
        q, k, v = _qkv((2, 3, 6, 4), 5)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        k_cache = v_cache = torch.zeros(2, 3, 0, 4, dtype=torch.float64)
        for t in range(6):
            out, k_cache, v_cache = student.attention_step(q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1],
                                                           k_cache, v_cache)
            check_close(out, want[:, :, t:t + 1], f"attention_step at step {t}, starting from empty caches")

    @points(1)
    def test_bad_shapes_raise_value_error(self, student):
        """mismatched shapes raise ValueError."""
        new = torch.zeros(1, 2, 1, 3)
        cache = torch.zeros(1, 2, 4, 3)
        for args, what in [((torch.zeros(1, 2, 2, 3), new, new, cache, cache), "a query of 2 positions"),
                           ((new, new, new, torch.zeros(1, 2, 4, 5), torch.zeros(1, 2, 4, 5)), "caches of width 5"),
                           ((new, new, new, torch.zeros(2, 2, 4, 3), torch.zeros(2, 2, 4, 3)), "caches of batch 2"),
                           ((new, new, new, cache, torch.zeros(1, 2, 3, 3)), "caches of different lengths")]:
            with pytest.raises(ValueError):
                student.attention_step(*args)
                raise AssertionError(f"attention_step should raise ValueError for {what}")
