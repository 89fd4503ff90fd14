"""Graded checks of exercise 06: causal attention (warm-up); sliding-window attention,
multi-head attention over a left-padded batch and one KV-cache step (core); counting the work
of decoding with and without the cache (stretch, an experiment)."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse.grading.api import check_close, points, question
from arcourse.models.gpt import CausalSelfAttention, GPTConfig

FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 7), st.integers(1, 8))  # B, N, T, D
ATTENTION = "torch.nn.functional.scaled_dot_product_attention"


def _qkv(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))


def _band(T, window):
    """(T, T) bool, True where query t may read key s: t - window < s <= t."""
    t = torch.arange(T)
    return (t[None, :] <= t[:, None]) & (t[:, None] - t[None, :] < window)


def _reference(q, k, v, allowed):
    """Output and weights of attention restricted to `allowed` (query x key)."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), weights


def _output_and_weights(result, what):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"{what} should return (output, weights), got {type(result).__name__}")
    return torch.as_tensor(result[0]), torch.as_tensor(result[1])


@question("causal_attention", "softmax(QK^T/sqrt(D) + M) V against PyTorch's attention; exact zeros",
          tier="warm-up", write=(ATTENTION,))
class TestCausalAttention:
    @points(2)
    @FEW
    @given(shape=SHAPES, seed=st.integers(0, 2**16))
    def test_matches_pytorch_on_random_shapes(self, student, shape, seed):
        """output and weights equal PyTorch's causal attention on random (B, N, T, D)."""
        q, k, v = _qkv(shape, seed)
        out, weights = _output_and_weights(student.causal_attention(q, k, v), "causal_attention(q, k, v)")
        want, want_weights = _reference(q, k, v, _band(shape[2], shape[2]))
        check_close(out, want, "causal_attention(q, k, v)[0]", q=q, k=k, v=v)
        check_close(weights, want_weights, "causal_attention(q, k, v)[1] (the weights)", q=q, k=k)

    @points(1)
    def test_masked_positions_get_exactly_zero_weight(self, student):
        """future positions get weight exactly 0, even with huge scores."""
        q, k, v = _qkv((1, 2, 5, 3), 2)
        k = k * 1e3  # huge scores: an additive -1e9 "mask" or a softmax-then-zero shortcut shows here
        _, weights = _output_and_weights(student.causal_attention(q, k, v), "causal_attention(q, k, v)")
        above = weights.triu(1)
        if not torch.equal(above, torch.zeros_like(above)):
            raise AssertionError(f"weights above the diagonal must be exactly 0, largest is {above.abs().max():.3g}")
        check_close(weights.sum(-1), torch.ones(1, 2, 5, dtype=weights.dtype), "each row of the weights sums to 1")


@question("sliding_window_attention", "step t reads steps t-w+1..t: against a reference, by perturbation, "
          "and at the extremes w = 1 and w >= T", tier="core", write=(ATTENTION,))
class TestSlidingWindowAttention:
    @points(2)
    @FEW
    @given(shape=SHAPES, window=st.integers(1, 8), seed=st.integers(0, 2**16))
    def test_matches_a_reference_on_random_shapes(self, student, shape, window, seed):
        """output and weights equal banded attention on random (B, N, T, D) and windows."""
        q, k, v = _qkv(shape, seed)
        out, weights = _output_and_weights(student.sliding_window_attention(q, k, v, window),
                                           f"sliding_window_attention(q, k, v, window={window})")
        want, want_weights = _reference(q, k, v, _band(shape[2], window))
        check_close(out, want, f"sliding_window_attention(q, k, v, window={window})[0]", q=q, k=k, v=v)
        check_close(weights, want_weights, f"sliding_window_attention(q, k, v, window={window})[1] (weights)")

    @points(2)
    def test_reads_exactly_its_window(self, student):
        """changing keys and values outside step t's window keeps output t; changing the oldest inside moves it."""
        q, k, v = _qkv((2, 2, 9, 4), 3)
        window = 3
        out, _ = _output_and_weights(student.sliding_window_attention(q, k, v, window), "sliding_window_attention")
        for t in range(9):
            outside = torch.ones(9, dtype=torch.bool)
            outside[max(0, t - window + 1):t + 1] = False
            k2, v2 = k.clone(), v.clone()
            k2[:, :, outside] += 5.0
            v2[:, :, outside] += 5.0
            moved, _ = _output_and_weights(student.sliding_window_attention(q, k2, v2, window),
                                           "sliding_window_attention")
            check_close(moved[:, :, t], out[:, :, t],
                        f"output at step {t} after changing the steps outside its window of {window}")
            oldest = max(0, t - window + 1)
            if oldest < t:
                v3 = v.clone()
                v3[:, :, oldest] += 5.0
                moved, _ = _output_and_weights(student.sliding_window_attention(q, k, v3, window),
                                               "sliding_window_attention")
                if torch.allclose(moved[:, :, t], out[:, :, t]):
                    raise AssertionError(f"the output at step {t} ignores step {oldest}, which is inside its "
                                         f"window of {window}")

    @points(1)
    def test_the_extremes(self, student):
        """window 1 returns the values; a window of T or more is causal attention."""
        q, k, v = _qkv((1, 2, 6, 3), 4)
        out, _ = _output_and_weights(student.sliding_window_attention(q, k, v, 1), "sliding_window_attention")
        check_close(out, v, "sliding_window_attention(q, k, v, window=1) (each step reads only itself)")
        for window in (6, 50):
            out, _ = _output_and_weights(student.sliding_window_attention(q, k, v, window),
                                         "sliding_window_attention")
            check_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True),
                        f"sliding_window_attention(q, k, v, window={window}) with T=6 (causal attention)")


def _reference_module(w_qkv, w_out, n_heads):
    C = w_out.shape[0]
    module = CausalSelfAttention(GPTConfig(d_model=C, n_heads=n_heads, bias=False)).double().eval()
    with torch.no_grad():
        module.qkv.weight.copy_(w_qkv.T)
        module.proj.weight.copy_(w_out.T)
    return module


def _weights(C, gen):
    return (torch.randn(C, 3 * C, generator=gen, dtype=torch.float64) / C ** 0.5,
            torch.randn(C, C, generator=gen, dtype=torch.float64) / C ** 0.5)


@question("multi_head_attention", "heads split, attended and merged, against torch.nn.MultiheadAttention; "
          "a left-padded batch equals each sequence alone", tier="core",
          write=(ATTENTION, "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
                 "arcourse.models.gpt.CausalSelfAttention"))
class TestMultiHeadAttention:
    @points(2)
    @FEW
    @given(n_heads=st.integers(1, 4), d_head=st.integers(1, 4), T=st.integers(1, 6), seed=st.integers(0, 2**16))
    def test_matches_library_module(self, student, n_heads, d_head, T, seed):
        """without padding: equals the course library's CausalSelfAttention with the same weights."""
        C = n_heads * d_head
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(2, T, C, generator=gen, dtype=torch.float64)
        w_qkv, w_out = _weights(C, gen)
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

    @points(2)
    def test_left_padded_batch_equals_each_sequence_alone(self, student):
        """each sequence's real positions get the outputs the sequence gets alone, whatever the padding holds."""
        gen = torch.Generator().manual_seed(5)
        C, n_heads, T = 6, 2, 7
        w_qkv, w_out = _weights(C, gen)
        n_pad = torch.tensor([0, 3, 6, 1])
        x = torch.randn(4, T, C, generator=gen, dtype=torch.float64) * 10       # the padding holds garbage
        out = torch.as_tensor(student.multi_head_attention(x, w_qkv, w_out, n_heads, n_pad))
        with torch.no_grad():
            module = _reference_module(w_qkv, w_out, n_heads)
            for b, pad in enumerate(n_pad.tolist()):
                alone, _ = module(x[b:b + 1, pad:])
                check_close(out[b:b + 1, pad:], alone, f"sequence {b} with n_pad={pad}, against it alone",
                            n_pad=n_pad)

    @points(1)
    def test_padding_positions_are_zero(self, student):
        """the outputs at padding positions are exactly 0 (no NaN from a row with no visible key)."""
        gen = torch.Generator().manual_seed(6)
        C, T = 4, 5
        w_qkv, w_out = _weights(C, gen)
        n_pad = torch.tensor([2, 5])
        out = torch.as_tensor(student.multi_head_attention(torch.randn(2, T, C, generator=gen, dtype=torch.float64),
                                                           w_qkv, w_out, 2, n_pad))
        for b, pad in enumerate(n_pad.tolist()):
            if not torch.equal(out[b, :pad], torch.zeros_like(out[b, :pad])):
                raise AssertionError(f"outputs at the {pad} padding positions of sequence {b} should be 0, got "
                                     f"{out[b, :pad].tolist()}")

    @points(1, validation=True)
    def test_bad_shapes_raise_value_error(self, student):
        """a width the heads do not divide, or weights of the wrong shape, raise ValueError."""
        x = torch.zeros(1, 3, 6)
        for args, what in [((x, torch.zeros(6, 18), torch.zeros(6, 6), 4), "n_heads=4 with C=6"),
                           ((x, torch.zeros(6, 12), torch.zeros(6, 6), 2), "w_qkv of shape (6, 12)"),
                           ((x, torch.zeros(6, 18), torch.zeros(5, 6), 2), "w_out of shape (5, 6)")]:
            with pytest.raises(ValueError):
                student.multi_head_attention(*args)
                raise AssertionError(f"multi_head_attention should raise ValueError for {what}")


@question("attention_step", "one cached decoding step equals recomputing full causal attention", tier="core",
          write=(ATTENTION, "arcourse.models.gpt.KVCache"))
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

    @points(1, validation=True)
    def test_bad_shapes_raise_value_error(self, student):
        """caches that do not fit the new key raise ValueError."""
        new = torch.zeros(1, 2, 1, 3)
        cache = torch.zeros(1, 2, 4, 3)
        for args, what in [((new, new, new, torch.zeros(1, 2, 4, 5), torch.zeros(1, 2, 4, 5)), "caches of width 5"),
                           ((new, new, new, torch.zeros(2, 2, 4, 3), torch.zeros(2, 2, 4, 3)), "caches of batch 2"),
                           ((new, new, new, cache, torch.zeros(1, 2, 3, 3)), "caches of different lengths")]:
            with pytest.raises(ValueError):
                student.attention_step(*args)
                raise AssertionError(f"attention_step should raise ValueError for {what}")


def _decoded(student, q, k, v, use_cache):
    result = student.decode_attention(q, k, v, use_cache)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError("decode_attention should return (outputs, multiply_adds)")
    out, count = result
    try:
        count = int(count)
    except (TypeError, ValueError):
        raise AssertionError(f"decode_attention's count should be an int, got {count!r}") from None
    return torch.as_tensor(out), count


@question("decode_attention", "step-by-step decoding with and without the cache gives causal attention; the "
          "counted work grows as T^2 and T^3", tier="stretch", experiment=True, seconds=40,
          write=(ATTENTION, "arcourse.models.gpt.KVCache"))
class TestDecodeAttention:
    @points(2)
    def test_both_ways_give_causal_attention(self, student):
        """with and without the cache, every step's output equals full causal attention's."""
        q, k, v = _qkv((2, 2, 7, 3), 7)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        for use_cache in (True, False):
            out, _ = _decoded(student, q, k, v, use_cache)
            check_close(out, want, f"decode_attention(q, k, v, use_cache={use_cache})", q_shape=tuple(q.shape))

    @points(2)
    def test_counted_work_grows_as_the_analysis_says(self, student):
        """from T = 8 to T = 64 the cached count grows about 64x (T^2), the uncached about 512x (T^3)."""
        counts = {}
        for T in (8, 64):
            q, k, v = _qkv((1, 2, T, 4), T)
            counts[T] = {flag: _decoded(student, q, k, v, flag)[1] for flag in (True, False)}
        if min(c for by_flag in counts.values() for c in by_flag.values()) <= 0:
            raise AssertionError(f"multiply-add counts must be positive, got {counts}")
        cached, uncached = (counts[64][flag] / counts[8][flag] for flag in (True, False))
        assert 20 < cached < 150, (f"the cached count grew {cached:.0f}x from T=8 to T=64; quadratic work grows "
                                   f"about 64x (counts {counts})")
        assert uncached > 250, (f"the uncached count grew only {uncached:.0f}x from T=8 to T=64; recomputing the "
                                f"prefix at every step is cubic, about 512x (counts {counts})")
