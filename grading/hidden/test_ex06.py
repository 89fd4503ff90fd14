"""Hidden checks for exercise 06: a long sequence in float32, a long window, eight heads, a long
cache."""
import torch
import torch.nn.functional as F

from arcourse.grading.api import check_close, points, question


@question("causal_attention")
class TestCausalAttentionHidden:
    @points(1)
    def test_long_sequence_in_float32(self, student):
        gen = torch.Generator().manual_seed(61)
        q, k, v = (torch.randn(1, 2, 40, 16, generator=gen) for _ in range(3))
        out, _ = student.causal_attention(q, k, v)
        check_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), "causal_attention, T=40",
                    atol=1e-5)


@question("sliding_window_attention")
class TestSlidingWindowHidden:
    @points(1)
    def test_long_sequence(self, student):
        gen = torch.Generator().manual_seed(64)
        q, k, v = (torch.randn(1, 2, 40, 8, generator=gen, dtype=torch.float64) for _ in range(3))
        t = torch.arange(40)
        allowed = (t[None, :] <= t[:, None]) & (t[:, None] - t[None, :] < 7)
        out, _ = student.sliding_window_attention(q, k, v, 7)
        check_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), "sliding window 7, T=40")


@question("multi_head_attention")
class TestMultiHeadAttentionHidden:
    @points(1)
    def test_eight_heads_of_width_one(self, student):
        """equals torch.nn.MultiheadAttention with 8 heads of width 1."""
        torch.manual_seed(62)
        C, T = 8, 7
        mha = torch.nn.MultiheadAttention(C, 8, bias=False, batch_first=True).double().eval()
        x = torch.randn(2, T, C, dtype=torch.float64)
        with torch.no_grad():
            want, _ = mha(x, x, x, attn_mask=torch.ones(T, T, dtype=torch.bool).triu(1), need_weights=False)
        got = student.multi_head_attention(x, mha.in_proj_weight.detach().T.contiguous(),
                                           mha.out_proj.weight.detach().T.contiguous(), 8)
        check_close(got, want, "multi_head_attention with 8 heads", x=x)


@question("attention_step")
class TestAttentionStepHidden:
    @points(1)
    def test_long_cache(self, student):
        gen = torch.Generator().manual_seed(63)
        q, k, v = (torch.randn(1, 1, 30, 4, generator=gen, dtype=torch.float64) for _ in range(3))
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)[:, :, -1:]
        out, _, _ = student.attention_step(q[:, :, -1:], k[:, :, -1:], v[:, :, -1:], k[:, :, :-1].clone(),
                                           v[:, :, :-1].clone())
        check_close(out, want, "attention_step after 29 cached steps")
