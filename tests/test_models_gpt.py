"""The GPT of lecture 06: shapes, causality, the KV cache, positions, config validation."""
import dataclasses
import math

import pytest
import torch

from arcourse import log_likelihood, make_generator, nll, train
from arcourse.decoding import TopK, generate
from arcourse.models import GPT, GPTConfig, KVCache, sinusoidal_positions
from arcourse.models.gpt import CausalSelfAttention


def _model(seed=0, **changes):
    torch.manual_seed(seed)
    return GPT(GPTConfig.tiny(vocab_size=11, context_len=12, d_model=32, **changes)).eval()


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "none"])
def test_forward_shape_and_finite(positional):
    model = _model(positional=positional)
    logits = model(torch.randint(0, 11, (3, 7)))
    assert logits.shape == (3, 7, 11)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "none"])
def test_causal_under_perturbed_future(positional):
    model = _model(positional=positional)
    idx = torch.randint(0, 11, (2, 12))
    for t in range(11):
        changed = idx.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1 + torch.randint(0, 10, changed[:, t + 1:].shape)) % 11
        assert (changed[:, t + 1:] != idx[:, t + 1:]).all()
        torch.testing.assert_close(model(changed)[:, :t + 1], model(idx)[:, :t + 1], atol=0, rtol=0)
        assert not torch.equal(model(changed)[:, t + 1:], model(idx)[:, t + 1:])


def test_kv_cache_equals_recompute_over_many_steps():
    model = _model(seed=1, n_layers=3)
    idx = torch.randint(0, 11, (4, 12))
    full = model(idx)
    logits, cache = model.start(idx[:, :2])
    assert isinstance(cache, KVCache) and len(cache.keys) == 3
    torch.testing.assert_close(logits, full[:, 1], atol=1e-5, rtol=0)
    for t in range(2, 12):
        logits, cache = model.step(idx[:, t], cache)
        assert cache.length == t + 1 and cache.keys[0].shape == (4, 2, t + 1, 16)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=0)


def test_attention_with_past_reads_a_chunk_like_the_full_sequence():
    """Several new positions on top of cached keys (as a chunked prompt or a verification
    pass would use): each new position sees the past and the new positions up to itself."""
    torch.manual_seed(0)
    attn = CausalSelfAttention(GPTConfig.tiny(d_model=32, n_heads=4)).eval()
    x = torch.randn(2, 9, 32)
    full, (k_all, v_all) = attn(x)
    store = torch.full((2, 2, 4, 12, 8), float("nan"))  # (k/v, B, N, P, D): room for 12 positions
    first, _ = attn(x[:, :5], store, 0)
    chunk, (k, v) = attn(x[:, 5:], store, 5)
    torch.testing.assert_close(first, full[:, :5], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunk, full[:, 5:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(k, k_all)
    torch.testing.assert_close(v, v_all)
    assert store[:, :, :, 9:].isnan().all()  # nothing written beyond the positions read


def test_cache_is_not_modified_by_step():
    model = _model()
    logits, cache = model.start(torch.randint(0, 11, (2, 3)))
    keys = [k.clone() for k in cache.keys]
    model.step(torch.tensor([1, 2]), cache)
    assert cache.length == 3 and all(torch.equal(a, b) for a, b in zip(keys, cache.keys))


def _snapshot(cache):
    return cache.length, cache.keys.clone(), cache.values.clone(), cache.tokens.clone()


def _unchanged(cache, snapshot):
    length, keys, values, tokens = snapshot
    return (cache.length == length and torch.equal(cache.keys, keys) and torch.equal(cache.values, values)
            and torch.equal(cache.tokens, tokens))


def _recomputed(model, tokens):
    return model(tokens)[:, -1]  # (B, V): the next-token logits from a full pass


def test_two_branches_from_one_cache_stay_apart():
    """Beam search and tests branch: two steps from one cache give two independent caches,
    and the cache they branched from still continues as before."""
    model = _model(seed=4)
    prompt = torch.randint(0, 11, (2, 4))
    _, root = model.start(prompt)
    before = _snapshot(root)
    a, b = torch.tensor([1, 2]), torch.tensor([3, 4])
    logits_a, branch_a = model.step(a, root)  # the first step from root may write in place
    logits_b, branch_b = model.step(b, root)  # the second must not overwrite branch_a's position
    assert _unchanged(root, before)
    seq_a, seq_b = torch.cat([prompt, a[:, None]], 1), torch.cat([prompt, b[:, None]], 1)
    torch.testing.assert_close(logits_a, _recomputed(model, seq_a), atol=1e-5, rtol=0)
    torch.testing.assert_close(logits_b, _recomputed(model, seq_b), atol=1e-5, rtol=0)
    assert torch.equal(branch_a.tokens, seq_a) and torch.equal(branch_b.tokens, seq_b)
    # each branch continues on its own; stepping one leaves the other as it was
    snap_a = _snapshot(branch_a)
    for branch, seq in [(branch_b, seq_b), (branch_a, seq_a), (branch_b, seq_b)]:
        logits, grown = model.step(torch.tensor([5, 6]), branch)
        torch.testing.assert_close(logits, _recomputed(model, torch.cat([seq, torch.tensor([[5], [6]])], 1)),
                                   atol=1e-5, rtol=0)
    assert _unchanged(branch_a, snap_a) and _unchanged(root, before)


def test_step_from_an_older_cache_after_newer_steps():
    """Keeping every cache of a run and going back to any of them gives the same logits as
    the first time (the newer caches live on too)."""
    model = _model(seed=5)
    idx = torch.randint(0, 11, (1, 10))
    logits, cache = model.start(idx[:, :2])
    caches, snapshots, logits_seen = [cache], [_snapshot(cache)], []
    for t in range(2, 10):
        logits, cache = model.step(idx[:, t], cache)
        caches.append(cache)
        snapshots.append(_snapshot(cache))
        logits_seen.append(logits)
    for i in (3, 0, 5, 3):  # older caches, in any order, repeatedly
        logits, _ = model.step(idx[:, i + 2], caches[i])
        torch.testing.assert_close(logits, logits_seen[i], atol=1e-6, rtol=0)
        other = torch.tensor([(int(idx[0, i + 2]) + 1) % 11])  # a different token from the same point
        logits, _ = model.step(other, caches[i])
        torch.testing.assert_close(logits, _recomputed(model, torch.cat([idx[:, :i + 2], other[:, None]], 1)),
                                   atol=1e-5, rtol=0)
    assert all(_unchanged(c, snap) for c, snap in zip(caches, snapshots))
    logits, _ = model.step(idx[:, 0], caches[-1])  # the newest one continues as well
    torch.testing.assert_close(logits, _recomputed(model, torch.cat([idx, idx[:, :1]], 1)), atol=1e-5, rtol=0)


def test_crop_then_step_leaves_the_longer_cache_alone():
    """Speculative decoding's rollback: a cropped cache continues with other tokens, and the
    cache it was cropped from still holds (and continues from) what it read."""
    model = _model(seed=6)
    idx = torch.randint(0, 11, (2, 9))
    _, long = model.extend(idx[:, :8], None)
    before = _snapshot(long)
    short = long.crop(5)
    other = torch.tensor([7, 8])
    logits, grown = model.step(other, short)
    torch.testing.assert_close(logits, _recomputed(model, torch.cat([idx[:, :5], other[:, None]], 1)),
                               atol=1e-5, rtol=0)
    logits, _ = model.extend(idx[:, 5:7], short)  # a second continuation of the cropped cache
    torch.testing.assert_close(logits, model(idx[:, :7])[:, 5:], atol=1e-5, rtol=0)
    assert _unchanged(long, before) and short.length == 5 and grown.length == 6
    logits, _ = model.step(idx[:, 8], long)
    torch.testing.assert_close(logits, _recomputed(model, idx), atol=1e-5, rtol=0)


def test_cache_made_in_inference_mode_steps_outside_it():
    """A cache's storage from torch.inference_mode cannot be written outside it: the step copies."""
    model = _model()
    idx = torch.randint(0, 11, (1, 4))
    with torch.inference_mode():
        _, cache = model.start(idx[:, :3])
    logits, _ = model.step(idx[:, 3], cache)
    torch.testing.assert_close(logits, _recomputed(model, idx), atol=1e-5, rtol=0)


def test_cache_past_context_len_slides_like_a_recompute():
    model = _model(seed=2)
    idx = torch.randint(0, 11, (2, 30))
    logits, cache = model.start(idx[:, :5])
    for t in range(5, 30):
        logits, cache = model.step(idx[:, t], cache)
        window = idx[:, max(0, t + 1 - 12):t + 1]
        torch.testing.assert_close(logits, model(window)[:, -1], atol=1e-5, rtol=0)
        assert cache.length == min(t + 1, 12)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "none"])
def test_generate_cached_equals_uncached(positional):
    model = _model(seed=3, positional=positional)
    prompt = torch.zeros(3, 1, dtype=torch.long)
    kwargs = dict(max_new_tokens=40, processors=[TopK(5)])  # 40 > context_len: the window slides
    fast = generate(model, prompt, generator=make_generator(7), use_cache=True, **kwargs)
    slow = generate(model, prompt, generator=make_generator(7), use_cache=False, **kwargs)
    assert fast.shape == (3, 41)
    assert torch.equal(fast, slow)


def test_prompt_longer_than_context_is_cropped():
    model = _model()
    idx = torch.randint(0, 11, (2, 20))
    logits, cache = model.start(idx)
    torch.testing.assert_close(logits, model(idx[:, -12:])[:, -1], atol=1e-5, rtol=0)
    assert cache.length == 12


def test_forward_rejects_too_long_and_bad_inputs():
    model = _model()
    with pytest.raises(ValueError, match="context_len=12"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    _, cache = model.start(torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B,\) = \(2,\)"):
        model.step(torch.zeros(3, dtype=torch.long), cache)
    with pytest.raises(TypeError, match="KVCache"):
        model.step(torch.zeros(2, dtype=torch.long), None)


def test_weight_tying():
    model = _model()
    assert model.head.weight is model.tok_emb.weight
    n_distinct = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    assert model.num_parameters() == n_distinct
    c = model.config
    per_block = (4 * c.d_model + 3 * c.d_model ** 2 + 3 * c.d_model + c.d_model ** 2 + c.d_model
                 + 2 * 4 * c.d_model ** 2 + 4 * c.d_model + c.d_model)  # 2 LayerNorms, attention, MLP
    expected = c.vocab_size * c.d_model + c.context_len * c.d_model + c.n_layers * per_block + 2 * c.d_model
    assert model.num_parameters() == expected
    assert model.num_parameters(embeddings=False) == expected - (c.vocab_size + c.context_len) * c.d_model
    # a gradient through the output layer reaches the embedding matrix
    model.zero_grad()
    model(torch.tensor([[1, 2]]))[0, -1, 5].backward()
    assert model.tok_emb.weight.grad[5].abs().sum() > 0


def test_log_likelihood_is_the_chain_rule():
    model = _model()
    idx = torch.randint(0, 11, (3, 8))
    logp = model(idx[:, :-1]).log_softmax(-1)
    by_hand = sum(logp[:, t, idx[:, t + 1]].diagonal() for t in range(7))
    torch.testing.assert_close(log_likelihood(model, idx[:, :-1], idx[:, 1:]), by_hand, atol=1e-5, rtol=1e-5)
    # probabilities of every continuation of length 2 after token 0 sum to one
    pairs = torch.cartesian_prod(torch.arange(11), torch.arange(11))
    seqs = torch.cat([torch.zeros(121, 1, dtype=torch.long), pairs], dim=1)
    assert math.isclose(log_likelihood(model, seqs[:, :-1], seqs[:, 1:]).exp().sum().item(), 1.0, rel_tol=1e-5)


def test_attention_maps_are_causal_distributions_and_match_the_output():
    model = _model()
    idx = torch.randint(0, 11, (2, 9))
    maps = model.attention_maps(idx)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 9, 9)
    for w in maps:
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 9))
        assert (w.triu(1) == 0).all()
    # the written-out weights reproduce the fused attention of layer 0
    block = model.blocks[0]
    x = block.ln1(model._embed(idx, 0))
    _, _, v = block.attn._heads(x)
    y = (maps[0] @ v).transpose(1, 2).reshape(2, 9, -1)
    torch.testing.assert_close(block.attn.proj(y), block.attn(x)[0], atol=1e-5, rtol=1e-5)


def test_sinusoidal_formula():
    table = sinusoidal_positions(50, 16)
    assert table.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert math.isclose(table[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)
    model = _model(positional="sinusoidal")
    assert not any("pos" in name for name, _ in model.named_parameters())
    # the model adds the table scaled to the token embeddings' initial size (RMS 0.02)
    torch.testing.assert_close(model.pos_table, sinusoidal_positions(12, 32) * 0.02 * math.sqrt(2))
    torch.testing.assert_close(model.pos_table.pow(2).mean().sqrt(), torch.tensor(0.02), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="even d_model"):
        sinusoidal_positions(4, 5)


def test_without_positions_one_layer_ignores_prefix_order():
    model = _model(positional="none", n_layers=1)
    idx = torch.tensor([[0, 3, 4, 5, 6, 2]])
    shuffled = torch.tensor([[5, 0, 6, 3, 4, 2]])  # same prefix tokens, same last token
    torch.testing.assert_close(model(idx)[:, -1], model(shuffled)[:, -1], atol=1e-5, rtol=1e-5)
    learned = _model(n_layers=1)
    assert not torch.allclose(learned(idx)[:, -1], learned(shuffled)[:, -1], atol=1e-4)


def test_tiny_overfit():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=6, context_len=8))
    data = torch.tensor([[0, 1, 2, 3, 4, 5, 1, 2, 3], [0, 5, 4, 3, 2, 1, 5, 4, 3]])
    history = train(model, lambda: (data[:, :-1], data[:, 1:]), 150, lr=3e-3, progress=False)
    assert history.train_loss[0] > 1.5
    final = nll(model(data[:, :-1]), data[:, 1:]).item()
    # the first target after the shared 0 is a coin flip (log 2 / 8 per char at best)
    assert final < 0.15


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=11, context_len=12, dropout=0.5))
    idx = torch.randint(0, 11, (2, 6))
    model.train()
    assert not torch.equal(model(idx), model(idx))
    model.eval()
    assert torch.equal(model(idx), model(idx))


@pytest.mark.parametrize("bias", [True, False])
def test_one_token_step_matches_the_full_pass_and_leaves_onednn_as_found(bias):
    """`step`'s lean one-token path (bare tensor ops, oneDNN off meanwhile) gives the logits
    of a full pass, and restores the oneDNN switch whether it was on or off."""
    model = _model(seed=4, bias=bias, n_layers=2)
    idx = torch.randint(0, 11, (3, 9))
    full = model(idx)
    before = torch.backends.mkldnn.enabled
    try:
        for switch in (True, False):
            torch.backends.mkldnn.enabled = switch
            _, cache = model.start(idx[:, :1])
            for t in range(1, 9):
                logits, cache = model.step(idx[:, t], cache)
                torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=0)
            assert torch.backends.mkldnn.enabled is switch
    finally:
        torch.backends.mkldnn.enabled = before


def test_step_in_training_mode_applies_dropout():
    """With dropout on (train mode), a step drops units as `forward` does; in eval mode it is
    repeatable."""
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=11, context_len=12, dropout=0.5)).train()
    _, cache = model.start(torch.randint(0, 11, (2, 4)))
    token = torch.tensor([1, 2])
    assert not torch.equal(model.step(token, cache)[0], model.step(token, cache)[0])
    model.eval()
    assert torch.equal(model.step(token, cache)[0], model.step(token, cache)[0])


def test_config_validation_and_presets():
    for bad, match in [(dict(d_model=30, n_heads=4), "divisible"), (dict(dropout=1.0), "dropout"),
                       (dict(positional="rope"), "positional"), (dict(n_layers=0), "n_layers"),
                       (dict(positional="sinusoidal", d_model=63, n_heads=1), "even")]:
        with pytest.raises(ValueError, match=match):
            GPTConfig(**bad)
    for bad, match in [(dict(vocab_size=2.5), "vocab_size"), (dict(context_len=True), "context_len"),
                       (dict(bias=1), "bias"), (dict(dropout="0.1"), "dropout")]:
        with pytest.raises(TypeError, match=match):
            GPTConfig(**bad)
    config = GPTConfig.small(vocab_size=65)
    assert (config.n_layers, config.n_heads, config.d_model, config.context_len) == (4, 4, 128, 64)
    assert config.d_head == 32
    assert GPTConfig.tiny(n_layers=3).n_layers == 3
    assert GPTConfig.medium().d_model == 384
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_layers = 2
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_layers": 2})
    # presets scale: parameter count grows with width and depth
    sizes = [GPT(GPTConfig.tiny(d_model=w, n_layers=d)).num_parameters(embeddings=False)
             for w, d in [(32, 1), (64, 2), (128, 4)]]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_extend_reads_several_tokens_like_a_recompute(positional):
    model = _model(seed=2, positional=positional)
    idx = torch.randint(0, 11, (2, 12))
    full = model(idx)
    logits, cache = model.extend(idx[:, :5], None)  # from scratch
    torch.testing.assert_close(logits, full[:, :5])
    for a, b in [(5, 9), (9, 10), (10, 12)]:
        logits, cache = model.extend(idx[:, a:b], cache)
        torch.testing.assert_close(logits, full[:, a:b], atol=1e-5, rtol=1e-5)
    assert cache.length == 12 and torch.equal(cache.tokens, idx)


def test_crop_rolls_the_cache_back():
    model = _model(seed=3)
    idx = torch.randint(0, 11, (1, 10))
    _, cache = model.extend(idx[:, :8], None)
    kept = cache.crop(5)
    assert kept.length == 5 and kept.keys[0].shape[2] == 5 and cache.length == 8  # the original is untouched
    other = torch.randint(0, 11, (1, 4))
    logits, _ = model.extend(other, kept)  # continue after position 5 with different tokens
    torch.testing.assert_close(logits, model(torch.cat([idx[:, :5], other], dim=1))[:, 5:], atol=1e-5, rtol=1e-5)


def test_extend_and_crop_reject_bad_input():
    model = _model()
    _, cache = model.extend(torch.zeros(2, 10, dtype=torch.long), None)
    with pytest.raises(ValueError, match="context_len=12"):
        model.extend(torch.zeros(2, 3, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="batch size 2"):
        model.extend(torch.zeros(1, 1, dtype=torch.long), cache)
    with pytest.raises(TypeError, match="KVCache"):
        model.extend(torch.zeros(2, 1, dtype=torch.long), (cache.keys, cache.values))
    with pytest.raises(TypeError, match="int64 tensor"):
        model.extend(torch.zeros(2, 1), cache)
    for length in (0, 11):
        with pytest.raises(ValueError, match=r"crop needs an int length in \[1, 10\]"):
            cache.crop(length)
    with pytest.raises(TypeError, match="length"):
        cache.crop(2.0)
