# ---
# jupyter:
#   arcourse:
#     exercise: ex03
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercise 03 — a recurrent language model by hand
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 03 built a character RNN and trained it on names. Here you write its moving parts
# yourself:
#
# 1. **one LSTM step** with PyTorch's weight layout, and the LSTM run over a whole sequence;
# 2. the **teacher-forced loss** of a padded batch: shift by one, mask the padding;
# 3. a **sampling loop** with a temperature that stops at the end token.
#
# Grade yourself with `arcourse grade exercises/ex03_rnn.ipynb`. The grader compares your
# functions with `torch.nn.LSTM`, with the library's loss and with the library's sampler on
# random inputs, so make them work for any batch size and width.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[grader] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import torch

from arcourse import IGNORE_INDEX, nll
from arcourse.models import CharRNN, CharRNNConfig

# %% [markdown]
# ## 1. The LSTM cell
#
# With $z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$ cut into four equal parts
# (PyTorch stacks the gates in the order input, forget, candidate, output):
#
# $$i_t = \sigma(z^i_t),\quad f_t = \sigma(z^f_t),\quad \tilde c_t = \tanh(z^g_t),\quad
# o_t = \sigma(z^o_t),$$
# $$c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t, \qquad h_t = o_t \odot \tanh(c_t).$$

# %%
def lstm_cell_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step with torch's layout (gates stacked i, f, g, o along the first axis).

    Args:
        x: (B, D) input at this step; h, c: (B, H) hidden and cell state before it.
        W_ih: (4H, D); W_hh: (4H, H); b_ih, b_hh: (4H,).
    Returns:
        (h_new, c_new), each (B, H).
    """
    ### BEGIN SOLUTION
    # HINT: z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, then z.chunk(4, dim=-1) gives i, f, g, o
    z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh               # (B, 4H)
    i, f, g, o = z.chunk(4, dim=-1)                          # each (B, H)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new
    ### END SOLUTION


# %% [markdown]
# Check against `torch.nn.LSTMCell`, whose weights we pass in:

# %%
torch.manual_seed(0)
cell = torch.nn.LSTMCell(3, 2)
x, h, c = torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 2)
with torch.no_grad():
    want_h, want_c = cell(x, (h, c))
    got_h, got_c = lstm_cell_step(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
torch.testing.assert_close(got_h, want_h)
torch.testing.assert_close(got_c, want_c)
print("h_new =", got_h[0].tolist())


# %% [markdown]
# Now run the cell along a sequence, starting from the all-zero state, and return the
# hidden state at every step: that is what one layer of `torch.nn.LSTM(batch_first=True)`
# computes.

# %%
def lstm_layer(xs, W_ih, W_hh, b_ih, b_hh):
    """Run an LSTM over a sequence from the zero state.

    Args:
        xs: (B, T, D) inputs; weights as in `lstm_cell_step`.
    Returns:
        (B, T, H) hidden states h_1..h_T.
    """
    ### BEGIN SOLUTION
    # HINT: start from zeros of shape (B, H) with H = W_hh.shape[1]; loop over t, collect h, torch.stack(..., dim=1)
    B, H = xs.shape[0], W_hh.shape[1]
    h = xs.new_zeros(B, H)
    c = xs.new_zeros(B, H)
    outputs = []
    for t in range(xs.shape[1]):
        h, c = lstm_cell_step(xs[:, t], h, c, W_ih, W_hh, b_ih, b_hh)
        outputs.append(h)
    return torch.stack(outputs, dim=1)                       # (B, T, H)
    ### END SOLUTION


# %%
torch.manual_seed(1)
lstm = torch.nn.LSTM(3, 2, batch_first=True)
xs = torch.randn(2, 5, 3)
with torch.no_grad():
    want, _ = lstm(xs)
    got = lstm_layer(xs, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
torch.testing.assert_close(got, want)
print("output shape:", tuple(got.shape))


# %% [markdown]
# ## 2. Teacher forcing with padding
#
# A batch holds boundary-wrapped names of different lengths, padded on the right with
# whatever token; `lengths[b]` counts the real tokens of row b (both boundaries included).
# The model reads `tokens[:, :-1]` and must predict `tokens[:, 1:]`; a prediction counts
# only if its target is a real token. Return the mean NLL per counted target (nats):
#
# $$\mathcal L = \frac{1}{\#\text{targets}} \sum_{b} \sum_{t=1}^{\text{len}_b - 1}
# -\log p_\theta(w_{b,t+1} \mid w_{b,\le t}).$$

# %%
def teacher_forced_loss(model, tokens, lengths):
    """Mean next-token NLL of a padded batch under teacher forcing.

    Args:
        model: maps (B, T) ids to (B, T, V) logits.
        tokens: (B, L) int64, row b's real tokens are tokens[b, :lengths[b]], the rest padding.
        lengths: (B,) int64, each >= 2.
    Returns:
        scalar tensor: mean NLL in nats over the real targets (differentiable).
    """
    ### BEGIN SOLUTION
    # HINT: inputs = tokens[:, :-1], targets = tokens[:, 1:]; target t is real when t < lengths - 1
    inputs, targets = tokens[:, :-1], tokens[:, 1:]                      # (B, L - 1)
    positions = torch.arange(targets.shape[1], device=tokens.device)
    real = positions[None, :] < (lengths[:, None] - 1)                  # (B, L - 1)
    losses = nll(model(inputs), targets, reduction="none")             # (B, L - 1)
    return (losses * real).sum() / real.sum()
    ### END SOLUTION


# %% [markdown]
# Check: "ab" and "b" with a tiny random model; the padding (token 2 after "b.") must not
# count, so the loss equals the average of the three plus two real per-token losses.

# %%
torch.manual_seed(2)
tiny = CharRNN(CharRNNConfig.tiny(vocab_size=3, cell="gru")).eval()
tokens = torch.tensor([[0, 1, 2, 0], [0, 2, 0, 2]])   # ".ab." and ".b." + padding
lengths = torch.tensor([4, 3])
per_token = [nll(tiny(tokens[:1, :3]), tokens[:1, 1:], reduction="none")[0],
             nll(tiny(tokens[1:, :2]), tokens[1:, 1:3], reduction="none")[0]]
want = torch.cat(per_token).mean()
got = teacher_forced_loss(tiny, tokens, lengths)
torch.testing.assert_close(got, want)
print(f"loss = {got.item():.4f} nats per character")


# %% [markdown]
# ## 3. Sampling with a temperature
#
# Start from the boundary token; at each step divide the last logits by the temperature
# $\tau$, draw the next token from the softmax with a generator seeded by `seed`, append it,
# and stop right after the end (boundary) token, or after `max_len` tokens. Return the drawn
# tokens (not the opening boundary); the end token, if drawn, is the last one.

# %%
@torch.no_grad()
def sample_tokens_rnn(model, max_len, temperature=1.0, seed=0, boundary_id=0):
    """Draw one sequence from `model` by ancestral sampling.

    Args:
        model: maps (1, T) ids to (1, T, V) logits.
        max_len: the most tokens to draw (the end token included).
        temperature: tau > 0; logits are divided by it before the softmax.
        seed: seed of the torch.Generator that makes the draws.
        boundary_id: the token that opens and ends a sequence.
    Returns:
        list of int token ids, at most max_len long, ending with boundary_id if it was drawn.
    """
    ### BEGIN SOLUTION
    # HINT: gen = torch.Generator().manual_seed(seed); torch.multinomial(probs, 1, generator=gen) draws one token
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    idx = [boundary_id]
    for _ in range(max_len):
        logits = model(torch.tensor([idx]))[0, -1]                      # (V,)
        probs = torch.softmax(logits / temperature, dim=-1)
        token = int(torch.multinomial(probs, 1, generator=gen))
        idx.append(token)
        if token == boundary_id:
            break
    return idx[1:]
    ### END SOLUTION


# %% [markdown]
# Checks on a small random model: the same seed gives the same sequence, the end token
# closes it, and a very low temperature follows the most probable token at every step.

# %%
torch.manual_seed(3)
tiny = CharRNN(CharRNNConfig.tiny(vocab_size=5, cell="lstm")).eval()
with torch.no_grad():  # sharper logits, and an end token that is not too likely
    tiny.head.weight.mul_(5.0)
    tiny.head.bias.copy_(torch.tensor([-1.0, 0.0, 0.0, 0.0, 0.0]))
first = sample_tokens_rnn(tiny, 12, temperature=1.0, seed=7)
assert first == sample_tokens_rnn(tiny, 12, temperature=1.0, seed=7)
assert len(first) <= 12 and 0 not in first[:-1]
cold = sample_tokens_rnn(tiny, 6, temperature=1e-3, seed=0)
prefix = [0]
for token in cold:
    assert token == int(tiny(torch.tensor([prefix]))[0, -1].argmax())
    prefix.append(token)
print("sample:", first, "| near-greedy:", cold)

# %% [markdown]
# That is the whole of a character language model: a recurrent cell, a shifted and masked
# loss, and a sampling loop. The lecture's `arcourse.models.CharRNN` and
# `arcourse.decoding.generate` do the same, with `torch.nn.LSTM` and an O(1)-per-token step.
