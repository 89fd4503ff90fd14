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
# Lecture 03 built the RNN, LSTM and GRU cells, trained them on names with the library's
# `train` and sampled with `generate`. Here you write the moving parts yourself, in three tiers:
#
# * **warm-up** — one LSTM step with PyTorch's weight layout;
# * **core** — an LSTM *with a projection* (LSTMP, which the lecture did not show) over a
#   whole sequence; the teacher-forced loss of a padded batch; a batched sampler with a
#   temperature that stops at the end token;
# * **stretch** — the gradient of an RNN language model by backpropagation through time,
#   written by hand and checked against autograd; and a training loop of your own that must
#   beat the count bigram on held-out names (an experiment).
#
# Two written questions (about the sampler's temperature and about the gradient) are marked
# by a person.
#
# Grade yourself with `arcourse grade exercises/ex03_rnn.ipynb`. The grader compares your
# functions with `torch.nn.LSTM`, with the library's loss, with autograd, and your samples
# with the model's exact distribution, on random inputs, so make them work for any batch
# size and width.

# %% tags=["arcourse-setup", "remove-cell"]
# Colab / JupyterHub: installs the course when this kernel does not have it (nothing happens where it does).
try:
    import arcourse
except ImportError:
    print("arcourse is not installed here: installing v0.1.0 with pip, about a minute ...")
    get_ipython().run_line_magic("pip", "install -q 'arcourse[grader] @ git+https://github.com/arcourse/arcourse@v0.1.0'")  # %pip install ...
    import arcourse

# %%
import time

import torch

from arcourse import IGNORE_INDEX, nll
from arcourse.data import CharTokenizer, load_names, pad_sequences, split_dataset
from arcourse.models import CharRNN, CharRNNConfig

torch.set_num_threads(1)  # tiny models: one thread is faster than several

# %% [markdown]
# ## 1. Warm-up: the LSTM cell
#
# With $z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$ cut into four equal parts
# (PyTorch stacks the gates in the order input, forget, candidate, output):
#
# $$i_t = \sigma(z^i_t),\quad f_t = \sigma(z^f_t),\quad \tilde c_t = \tanh(z^g_t),\quad
# o_t = \sigma(z^o_t),$$
# $$c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t, \qquad h_t = o_t \odot \tanh(c_t).$$
#
# The lecture regrouped the weights per gate; here you work with PyTorch's stacked layout
# as it is.

# %%
def lstm_cell_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step with torch's layout (gates stacked i, f, g, o along the first axis).

    Args:
        x: (B, D) input at this step; h: (B, P) hidden state and c: (B, H) cell state before it
            (P = H for a plain LSTM).
        W_ih: (4H, D); W_hh: (4H, P); b_ih, b_hh: (4H,).
    Returns:
        (h_new (B, H), c_new (B, H)).
    """
    ### BEGIN SOLUTION
    # HINT: one affine map of x and one of h give a (B, 4H) pre-activation; split it into four (B, H) parts in torch's gate order
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
# ## 2. Core: an LSTM with a projection (LSTMP)
#
# Large speech and language LSTMs (Sak et al., 2014) keep a wide cell state but feed back a
# *narrower* hidden state: after each step the output $o_t \odot \tanh(c_t)$ (width $H$) is
# multiplied by a projection $W_{hr}$ of shape $(P, H)$, and this $h_t$ (width $P < H$) is both
# the layer's output and what the next step reads:
#
# $$h_t = W_{hr}\,\bigl(o_t \odot \tanh(c_t)\bigr), \qquad W_{hh} \in \mathbb R^{4H \times P}.$$
#
# PyTorch builds it with `torch.nn.LSTM(D, H, proj_size=P)`. Run it over a sequence from the
# all-zero state ($h_0 \in \mathbb R^P$, $c_0 \in \mathbb R^H$) and return every $h_t$ and the
# last cell state.

# %%
def lstmp_layer(xs, W_ih, W_hh, b_ih, b_hh, W_hr):
    """An LSTM with a projection, over a sequence, from the zero state.

    Args:
        xs: (B, T, D) inputs. W_ih: (4H, D); W_hh: (4H, P); b_ih, b_hh: (4H,); W_hr: (P, H).
    Returns:
        (outputs (B, T, P): the projected hidden states h_1..h_T, c_T (B, H): the last cell state).
    """
    ### BEGIN SOLUTION
    # HINT: the state widths differ (h has P entries, c has H); your lstm_cell_step works with any width of h, and its h_new is what the projection maps to P
    B, (P, H) = xs.shape[0], W_hr.shape
    h, c = xs.new_zeros(B, P), xs.new_zeros(B, H)
    outputs = []
    for t in range(xs.shape[1]):
        unprojected, c = lstm_cell_step(xs[:, t], h, c, W_ih, W_hh, b_ih, b_hh)   # (B, H), (B, H)
        h = unprojected @ W_hr.T                                                    # (B, P)
        outputs.append(h)
    return torch.stack(outputs, dim=1), c                                           # (B, T, P), (B, H)
    ### END SOLUTION


# %% [markdown]
# Check against `torch.nn.LSTM` with `proj_size`: its outputs and its last cell state.

# %%
torch.manual_seed(1)
lstmp = torch.nn.LSTM(3, 4, proj_size=2, batch_first=True)
xs = torch.randn(2, 5, 3)
with torch.no_grad():
    want, (_, want_c) = lstmp(xs)
    got, got_c = lstmp_layer(xs, lstmp.weight_ih_l0, lstmp.weight_hh_l0, lstmp.bias_ih_l0, lstmp.bias_hh_l0,
                             lstmp.weight_hr_l0)
torch.testing.assert_close(got, want)
torch.testing.assert_close(got_c, want_c[0])
print("outputs", tuple(got.shape), "| last cell state", tuple(got_c.shape))


# %% [markdown]
# ## 3. Core: teacher forcing with padding
#
# A batch holds boundary-wrapped names of different lengths, padded on the right with
# whatever token; `lengths[b]` counts the real tokens of row b (both boundaries included).
# The model reads `tokens[:, :-1]` and must predict `tokens[:, 1:]`; a prediction counts
# only if its target is a real token. Return the mean NLL per counted target (nats):
#
# $$\mathcal L = \frac{1}{\#\text{targets}} \sum_{b} \sum_{t=1}^{\text{len}_b - 1}
# -\log p_\theta(w_{b,t+1} \mid w_{b,\le t}).$$
#
# The lecture let `pad_sequences` mark padding targets with $-100$; here the padding tokens
# are arbitrary ids, so the mask must come from `lengths`.

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
    # HINT: shift by one; compare a row of target positions with lengths to build a (B, L - 1) mask; nll(..., reduction="none") gives per-token losses to average under it
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
# ## 4. Core: sampling a batch with a temperature
#
# Draw `n_samples` sequences at once. Each starts from the boundary token; at each step
# divide the last logits by the temperature $\tau$, draw the next token from the softmax with
# one `torch.Generator` seeded by `seed`, append it, and stop a row right after it draws the
# end (boundary) token, or after `max_len` tokens. Return, per row, the drawn tokens (not the
# opening boundary); the end token, if drawn, is the last one.
#
# Drawing all rows together keeps it fast: rows that already ended may go on drawing, as
# long as what you return stops at their end token. The grader compares the frequencies of
# your samples with the model's exact probabilities of every possible sequence (a χ² test),
# with a different model in each case.

# %%
@torch.no_grad()
def sample_tokens_rnn(model, n_samples, max_len, temperature=1.0, seed=0, boundary_id=0):
    """Draw `n_samples` sequences from `model` by ancestral sampling.

    Args:
        model: maps (B, T) ids to (B, T, V) logits.
        n_samples: how many sequences to draw.
        max_len: the most tokens to draw per sequence (the end token included).
        temperature: tau > 0; logits are divided by it before the softmax.
        seed: seed of the torch.Generator that makes the draws.
        boundary_id: the token that opens and ends a sequence.
    Returns:
        list of n_samples lists of int token ids, each at most max_len long and ending with
        boundary_id if it was drawn.
    """
    ### BEGIN SOLUTION
    # HINT: keep a (n_samples, t) tensor of prefixes; the model's last logits give a (n_samples, V) row of probabilities per step, torch.multinomial draws one token per row with your generator; remember where each row ended
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    idx = torch.full((n_samples, 1), boundary_id, dtype=torch.long)   # (N, 1)
    length = torch.full((n_samples,), max_len)                        # where each row stops
    ended = torch.zeros(n_samples, dtype=torch.bool)
    for t in range(max_len):
        logits = model(idx)[:, -1]                                     # (N, V)
        probs = torch.softmax(logits / temperature, dim=-1)
        token = torch.multinomial(probs, 1, generator=gen)             # (N, 1)
        idx = torch.cat([idx, token], dim=1)                           # (N, t + 2)
        now = (token[:, 0] == boundary_id) & ~ended
        length[now] = t + 1
        ended |= now
        if ended.all():
            break
    return [row[1:1 + n].tolist() for row, n in zip(idx, length.tolist())]
    ### END SOLUTION


# %% [markdown]
# Checks on a small random model: the same seed gives the same samples, the end token
# closes each one, and a very low temperature follows the most probable token at every step.

# %%
torch.manual_seed(3)
tiny = CharRNN(CharRNNConfig.tiny(vocab_size=5, cell="lstm")).eval()
with torch.no_grad():  # sharper logits, and an end token that is not too likely
    tiny.head.weight.mul_(5.0)
    tiny.head.bias.copy_(torch.tensor([-1.0, 0.0, 0.0, 0.0, 0.0]))
first = sample_tokens_rnn(tiny, 4, 12, temperature=1.0, seed=7)
assert first == sample_tokens_rnn(tiny, 4, 12, temperature=1.0, seed=7)
assert all(len(s) <= 12 and 0 not in s[:-1] for s in first)
cold = sample_tokens_rnn(tiny, 2, 6, temperature=1e-3, seed=0)
assert cold[0] == cold[1]
prefix = [0]
for token in cold[0]:
    assert token == int(tiny(torch.tensor([prefix]))[0, -1].argmax())
    prefix.append(token)
print("samples:", first, "| near-greedy:", cold[0])

# %% [markdown]
# ### A written question: what does the temperature sample?
#
# Your sampler divides the logits of *each conditional* by $\tau$ and renormalises it. Is the
# distribution of whole sequences it samples the same as $p(w)^{1/\tau} / Z$, the sequence
# distribution raised to the power $1/\tau$ and renormalised? Prove it, or give a counterexample
# with sequences of two tokens (a small table of numbers is enough), and say what happens in
# the limits $\tau \to 0$ and $\tau \to \infty$.

# %% [markdown]
# **Answer (written: temperature_sequences, 2 points):**
# ### BEGIN SOLUTION
# Not in general. Per step the sampler draws from $p(w_t \mid w_{<t})^{1/\tau} / Z(w_{<t})$,
# so a sequence gets $p(w)^{1/\tau} / \prod_t Z(w_{<t})$: the normalisers depend on the prefix
# and do not cancel. Example, $\tau = 1/2$: the first token is a or b with probability 1/2
# each; after a the second is x or y with 1/2 each, after b it is x for sure. Then
# $p(ax, ay, bx) = (1/4, 1/4, 1/2)$ and $p^2/Z = (1/6, 1/6, 2/3)$, but the per-step sampler
# squares $(1/2, 1/2)$ at the first step and $(1/2, 1/2)$ or $(1)$ at the second, which changes
# nothing: it still gives $(1/4, 1/4, 1/2)$.
# They agree only when the normalisers $\sum_v p(v \mid w_{<t})^{1/\tau}$ are the same for
# every prefix (e.g. $\tau = 1$). As $\tau \to 0$ each step becomes the argmax: greedy
# decoding, which need not find the most probable sequence. As $\tau \to \infty$ each step
# becomes uniform over the vocabulary, whatever the model says.
# ### END SOLUTION

# %% [markdown]
# ## 5. Stretch: the gradient of an RNN language model, by hand
#
# An Elman RNN language model with one-hot inputs reads token $w_t$ and predicts $w_{t+1}$:
#
# $$h_t = \tanh(W_{xh}[:, w_t] + W_{hh} h_{t-1} + b_h),\quad h_0 = 0,\qquad
# \ell_t = W_{hy} h_t + b_y,$$
# $$\mathcal L = \frac{1}{BT}\sum_{b}\sum_{t=1}^{T} -\log \operatorname{softmax}(\ell_{b,t})[w_{b,t+1}].$$
#
# ### A written question: derive the gradient
#
# Write $g_t = \partial \mathcal L / \partial \ell_t$, $\delta_t = \partial \mathcal L / \partial h_t$
# (the *total* derivative, through every later step) and $a_t$ for the pre-activation inside
# the tanh. Derive (a) $g_t$ in terms of the softmax $p_t$ and the target; (b) the backward
# recursion that gives $\delta_t$ from $g_t$ and $\delta_{t+1}$, and its end value $\delta_T$;
# (c) $\partial\mathcal L/\partial W_{hh}$, $\partial\mathcal L/\partial W_{xh}$ and
# $\partial\mathcal L/\partial b_h$ as sums over time. Then (d) say what in the recursion makes
# the gradient from far-away steps vanish, the effect the lecture measured.

# %% [markdown]
# **Answer (written: bptt_gradient, 3 points):**
# ### BEGIN SOLUTION
# (a) For the log-softmax, $g_t = (p_t - e_{w_{t+1}}) / (BT)$, with $p_t = \operatorname{softmax}(\ell_t)$
# and $e_v$ the one-hot vector of the target.
# (b) $h_t$ feeds $\ell_t$ and $a_{t+1}$, so $\delta_t = W_{hy}^\top g_t + W_{hh}^\top \bigl((1 - h_{t+1}^2)
# \odot \delta_{t+1}\bigr)$, run backwards from $\delta_T = W_{hy}^\top g_T$ (nothing after $T$);
# $\partial \mathcal L/\partial a_t = (1 - h_t^2) \odot \delta_t$.
# (c) With $\bar a_t = (1 - h_t^2) \odot \delta_t$: $\partial\mathcal L/\partial W_{hh} = \sum_t \bar a_t h_{t-1}^\top$,
# $\partial\mathcal L/\partial W_{xh} = \sum_t \bar a_t e_{w_t}^\top$ (column $w_t$ collects $\bar a_t$),
# $\partial\mathcal L/\partial b_h = \sum_t \bar a_t$; also $\partial\mathcal L/\partial W_{hy} = \sum_t g_t h_t^\top$,
# $\partial\mathcal L/\partial b_y = \sum_t g_t$ (sums over the batch too).
# (d) Unrolled, the part of $\delta_t$ that comes from step $t+k$ is multiplied by
# $\prod_{s=t+1}^{t+k} W_{hh}^\top \operatorname{diag}(1 - h_s^2)$; when these factors have norm
# below 1 (saturated tanh units, small $W_{hh}$) it shrinks geometrically in $k$.
# ### END SOLUTION

# %% [markdown]
# Now compute the loss and all five gradients with that recursion, one forward loop that
# keeps the hidden states and one backward loop. Autograd is switched off for this question
# in the grader (no `.backward()`, no `torch.autograd.grad`); the check below compares your
# numbers with it.

# %%
def rnn_lm_gradients(tokens, W_xh, W_hh, b_h, W_hy, b_y):
    """The teacher-forced loss of an Elman RNN LM and its gradients, by backpropagation through time.

    Args:
        tokens: (B, T + 1) int64; the model reads tokens[:, :T] and predicts tokens[:, 1:].
        W_xh: (H, V); W_hh: (H, H); b_h: (H,); W_hy: (V, H); b_y: (V,).
    Returns:
        dict with "loss" (scalar tensor, mean NLL in nats) and "W_xh", "W_hh", "b_h", "W_hy",
        "b_y": the gradients of the loss, each shaped like its parameter.
    """
    ### BEGIN SOLUTION
    # HINT: store h_0..h_T in the forward loop; walk t from T down to 1 carrying the gradient that reaches h_t from step t + 1; index_add_ puts a batch of columns into the W_xh gradient
    B, T = tokens.shape[0], tokens.shape[1] - 1
    H, V = W_hh.shape[0], W_hy.shape[0]
    hs = [W_hh.new_zeros(B, H)]
    probs, loss = [], 0.0
    for t in range(T):
        h = torch.tanh(W_xh[:, tokens[:, t]].T + hs[-1] @ W_hh.T + b_h)       # (B, H)
        logp = torch.log_softmax(h @ W_hy.T + b_y, dim=-1)                   # (B, V)
        loss = loss - logp.gather(1, tokens[:, t + 1:t + 2]).sum()
        hs.append(h)
        probs.append(logp.exp())
    grads = {name: torch.zeros_like(w) for name, w in
             [("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h), ("W_hy", W_hy), ("b_y", b_y)]}
    from_later = W_hh.new_zeros(B, H)                  # W_hh^T ((1 - h_{t+1}^2) delta_{t+1})
    for t in range(T, 0, -1):
        g = probs[t - 1].clone()
        g[torch.arange(B), tokens[:, t]] -= 1
        g = g / (B * T)                                                       # (B, V)
        grads["W_hy"] += g.T @ hs[t]
        grads["b_y"] += g.sum(0)
        delta = g @ W_hy + from_later                                         # (B, H)
        a_bar = delta * (1 - hs[t] ** 2)                                      # (B, H)
        grads["W_hh"] += a_bar.T @ hs[t - 1]
        grads["W_xh"].index_add_(1, tokens[:, t - 1], a_bar.T)
        grads["b_h"] += a_bar.sum(0)
        from_later = a_bar @ W_hh
    return {"loss": loss / (B * T), **grads}
    ### END SOLUTION


# %% [markdown]
# Check against autograd on a small random case (float64, so the agreement is to many digits):

# %%
gen = torch.Generator().manual_seed(4)
H, V = 5, 4
params = {"W_xh": torch.randn(H, V, generator=gen, dtype=torch.float64),
          "W_hh": torch.randn(H, H, generator=gen, dtype=torch.float64) * 0.5,
          "b_h": torch.randn(H, generator=gen, dtype=torch.float64),
          "W_hy": torch.randn(V, H, generator=gen, dtype=torch.float64),
          "b_y": torch.randn(V, generator=gen, dtype=torch.float64)}
tokens = torch.randint(V, (3, 7), generator=gen)
mine = rnn_lm_gradients(tokens, *params.values())
leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
h, loss = torch.zeros(3, H, dtype=torch.float64), 0
for t in range(6):
    h = torch.tanh(leaves["W_xh"][:, tokens[:, t]].T + h @ leaves["W_hh"].T + leaves["b_h"])
    loss = loss + nll(h @ leaves["W_hy"].T + leaves["b_y"], tokens[:, t + 1]) / 6
loss.backward()
torch.testing.assert_close(mine["loss"], loss.detach())
for name, leaf in leaves.items():
    torch.testing.assert_close(mine[name], leaf.grad)
print(f"loss {mine['loss'].item():.4f}; all five gradients equal autograd's")

# %% [markdown]
# ## 6. Stretch experiment: a training loop of your own
#
# Write the loop the library's `train` hides: draw a minibatch of rows with a generator
# seeded by `seed`, run the model on the inputs, take the mean NLL over the real targets
# (`targets` already holds `IGNORE_INDEX` at the padding), backpropagate, clip the gradient
# norm, take an optimiser step; `steps` times. Return the trained weights
# (`model.state_dict()`).
#
# The grader gives you a fresh `CharRNN` (`CharRNNConfig.small`, an LSTM) and the lecture's
# training split of the census names, calls your function with `steps=150` and a seed, loads
# the weights you return into its own copy of the model and scores it on the held-out names:
# it must beat the add-one count bigram (the lecture's baseline; the cell below prints its
# held-out NLL) by at least **0.15 nats per character**. The question has 120 s of your CPU time;
# a good loop needs a few seconds. Choices that matter: the optimiser and its learning rate
# (the lecture's run is a good start), the batch size, and not paying for padding columns
# that no row in the batch needs.

# %%
def train_char_model(model, inputs, targets, steps, seed):
    """Train `model` by teacher forcing on padded names; return its trained weights.

    Args:
        model: a CharRNN, mapping (B, T) ids to (B, T, V) logits.
        inputs, targets: (N, L) int64 teacher-forcing pairs (targets hold IGNORE_INDEX at padding).
        steps: the number of optimiser steps to take.
        seed: seeds the choice of minibatches (and anything else random).
    Returns:
        model.state_dict() after training.
    """
    ### BEGIN SOLUTION
    # HINT: torch.optim.AdamW with a learning rate around 1e-2 and torch.nn.utils.clip_grad_norm_ make the lecture's loop; draw each batch's rows with torch.randint and your generator
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        rows = torch.randint(len(inputs), (64,), generator=gen)
        x, y = inputs[rows], targets[rows]                                    # (64, L)
        width = int((y != IGNORE_INDEX).sum(dim=1).max())                    # the longest row in the batch
        loss = nll(model(x[:, :width]), y[:, :width])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
    return model.state_dict()
    ### END SOLUTION


# %% [markdown]
# Run it as the grader does (the cell prints both losses and the time it took; it asserts the
# margin):

# %%
def bigram_test_nll(train_inputs, train_targets, test_inputs, test_targets, V):
    """Held-out NLL per character of the add-one count bigram fitted on the training pairs."""
    real, test_real = train_targets != IGNORE_INDEX, test_targets != IGNORE_INDEX
    counts = torch.ones(V, V)                                          # add-one smoothing
    counts.index_put_((train_inputs[real], train_targets[real]), torch.ones(int(real.sum())), accumulate=True)
    bigram = counts / counts.sum(dim=1, keepdim=True)                  # (V, V): row a is p(. | a)
    return -bigram[test_inputs[test_real], test_targets[test_real]].log().mean().item()


names = load_names()
train_names, _, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=0)
tok = CharTokenizer.from_texts(names)
train_inputs, train_targets = pad_sequences([tok.encode(n, add_boundary=True) for n in train_names], tok.boundary_id)
test_inputs, test_targets = pad_sequences([tok.encode(n, add_boundary=True) for n in test_names], tok.boundary_id)
bigram_nll = bigram_test_nll(train_inputs, train_targets, test_inputs, test_targets, tok.vocab_size)

torch.manual_seed(0)
mine = CharRNN(CharRNNConfig.small(vocab_size=tok.vocab_size, cell="lstm"))
start = time.process_time()
weights = train_char_model(mine, train_inputs, train_targets, steps=150, seed=0)
seconds = time.process_time() - start
mine.load_state_dict(weights)
with torch.no_grad():
    model_nll = nll(mine.eval()(test_inputs), test_targets).item()
print(f"held-out NLL: bigram {bigram_nll:.3f}, your LSTM {model_nll:.3f} nats per character "
      f"({seconds:.1f} s of CPU)")
assert model_nll < bigram_nll - 0.15

# %% [markdown]
# That is the whole of a character language model: a recurrent cell, a shifted and masked
# loss, a sampling loop, its gradient, and the loop that follows it downhill. The lecture's
# `arcourse.models.CharRNN`, `arcourse.train` and `arcourse.decoding.generate` do the same,
# with `torch.nn.LSTM` and an O(1)-per-token step.
