# ---
# jupyter:
#   arcourse:
#     exercise: ex07
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
# # Exercise 07 — decoding: temperature, top-k, top-p and beam search
#
# *Grading runs your imports, functions, classes and simple constants (such as `LN2 = math.log(2)`), not the other cells; its report lists what it skipped.*
#
# Lecture 07 turned a model's next-token logits into text with small processors, each a
# function from logits `(B, V)` to logits `(B, V)` that returns a new tensor and leaves its
# input alone. Here you write three of them and a beam search:
#
# 1. `apply_temperature(logits, temperature)`: $p_\tau \propto p^{1/\tau}$, i.e. logits $/\,\tau$.
# 2. `top_k_filter(logits, k)`: keep **exactly** $k$ tokens per row, the $k$ largest logits;
#    when several tokens tie with the $k$-th, keep the ones with the lowest ids.
# 3. `top_p_filter(logits, p)`: keep the smallest set of most probable tokens whose mass is
#    $\ge p$ (token $i$, in order of decreasing probability, is kept exactly when the mass of the
#    tokens before it is $< p$).
# 4. `beam_search(model, prompt, max_new_tokens, beam_width)`: the continuation of exactly
#    `max_new_tokens` tokens with the highest log-probability that a beam of `beam_width`
#    partial sequences finds.
#
# A dropped token gets the logit $-\infty$ (probability 0 after the softmax). Check your work
# with `arcourse grade exercises/ex07_decoding.py`: the grader tries random logits, ties,
# $-\infty$ and huge values, and compares your beam search with a brute-force search.

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

from arcourse import make_generator
from arcourse.decoding import exhaustive_search, generate
from arcourse.models import CharRNN, CharRNNConfig


# %% [markdown]
# ## 1. Temperature
# Raise `ValueError` when `temperature <= 0`: dividing by zero or a negative number does not
# give a distribution that "flattens" or "sharpens" the model's.

# %%
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits (B, V) divided by `temperature` > 0, as a new tensor."""
    ### BEGIN SOLUTION
    # HINT: check temperature > 0 (raise ValueError naming it), then divide the logits by it
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got temperature={temperature}")
    return logits / temperature
    ### END SOLUTION


# %%
logits = torch.tensor([[2.0, 1.0, 0.0]])
torch.testing.assert_close(apply_temperature(logits, 0.5), torch.tensor([[4.0, 2.0, 0.0]]))
print(apply_temperature(logits, 2.0).softmax(-1))  # flatter than logits.softmax(-1)


# %% [markdown]
# ## 2. Top-k, exactly k
# `torch.argsort(x, dim=-1, descending=True, stable=True)` orders each row from the largest
# value down and keeps tied values in the order of their ids.

# %%
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row of (B, V) (ties: lowest ids), set the rest to -inf.
    k >= V keeps everything."""
    ### BEGIN SOLUTION
    # HINT: order = logits.argsort(dim=-1, descending=True, stable=True); keep the first k columns of each row
    k = min(k, logits.shape[-1])
    order = logits.argsort(dim=-1, descending=True, stable=True)  # (B, V)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order[:, :k], True)
    return logits.masked_fill(~keep, float("-inf"))
    ### END SOLUTION


# %%
logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
assert torch.equal(top_k_filter(logits, 2), torch.tensor([[-torch.inf, 3.0, 3.0, -torch.inf, -torch.inf]]))
assert torch.equal(top_k_filter(logits, 9), logits)


# %% [markdown]
# ## 3. Top-p (nucleus)
# Sort each row, turn the sorted logits into probabilities, and find for each token the mass of
# the tokens before it (`cumsum` minus the token's own probability). Map the decision back to
# the original order with `scatter`.

# %%
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens of each row of (B, V) whose probability
    mass is >= p (0 < p <= 1); set the rest to -inf."""
    ### BEGIN SOLUTION
    # HINT: sort descending, softmax, cumsum; drop a sorted token when the mass before it is >= p, then scatter back
    sorted_logits, order = logits.sort(dim=-1, descending=True, stable=True)  # (B, V)
    probs = sorted_logits.double().softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop_sorted = (mass_before >= p) & (p < 1)  # p = 1 keeps everything, even a rounded-off tail
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
    ### END SOLUTION


# %%
probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
assert top_p_filter(probs.log(), 0.5).isfinite().tolist() == [[True, False, False, False]]
assert top_p_filter(probs.log(), 0.51).isfinite().tolist() == [[True, True, False, False]]
assert top_p_filter(probs.log(), 0.9).isfinite().tolist() == [[True, True, True, False]]


# %% [markdown]
# ## 4. Beam search
# Keep a list of `beam_width` partial sequences with their summed log-probabilities. At each
# step run the model on all of them, add each next token's log-probability
# (`log_softmax` of the last position's logits) to its beam's sum, and keep the `beam_width`
# best of all beams × tokens. Return the best sequence (the prompt followed by
# `max_new_tokens` tokens) and its log-probability as a float. Call the model under
# `torch.no_grad()`.

# %%
def beam_search(model: torch.nn.Module, prompt: torch.Tensor, max_new_tokens: int,
                beam_width: int) -> tuple[torch.Tensor, float]:
    """The best continuation a beam of `beam_width` finds.

    Args:
        model: model(idx (B, T)) -> logits (B, T, V).
        prompt: (T,) int64 token ids.
    Returns:
        (tokens (T + max_new_tokens,) int64, the sum of log p(token | tokens before) over the
        new tokens).
    """
    ### BEGIN SOLUTION
    # HINT: beams = [(prompt.tolist(), 0.0)]; each step score every beam x token, keep the beam_width best with topk
    beams = [(prompt.tolist(), 0.0)]
    with torch.no_grad():
        for _ in range(max_new_tokens):
            seqs = torch.tensor([tokens for tokens, _ in beams])  # (W, T + s)
            log_probs = model(seqs)[:, -1].log_softmax(dim=-1)  # (W, V)
            total = torch.tensor([lp for _, lp in beams])[:, None] + log_probs  # (W, V)
            V = total.shape[1]
            best = total.flatten().topk(min(beam_width, total.numel()))
            beams = [(beams[i // V][0] + [i % V], value)
                     for value, i in zip(best.values.tolist(), best.indices.tolist())]
    tokens, log_prob = beams[0]
    return torch.tensor(tokens), log_prob
    ### END SOLUTION


# %% [markdown]
# A check on a small random model with 4 tokens: a beam as wide as every possible prefix
# ($4^{n-1}$) is an exhaustive search, and a beam of width 1 is greedy decoding.

# %%
torch.manual_seed(0)
tiny = CharRNN(CharRNNConfig.tiny(vocab_size=4, cell="gru")).eval()
with torch.no_grad():
    tiny.head.weight.mul_(8)  # peaked distributions: greedy and the optimum can differ
prompt = torch.tensor([1])
exact = exhaustive_search(tiny, prompt, 4, length_penalty=0.0)
tokens, log_prob = beam_search(tiny, prompt, 4, beam_width=4 ** 3)
assert torch.equal(tokens, exact.tokens) and abs(log_prob - exact.log_prob.item()) < 1e-4
assert torch.equal(beam_search(tiny, prompt, 4, beam_width=1)[0], generate(tiny, prompt, 4, greedy=True))
for width in (1, 2, 3):
    print(f"beam width {width}: log p = {beam_search(tiny, prompt, 4, width)[1]:.3f}"
          f"  (exact {exact.log_prob.item():.3f})")

# %% [markdown]
# Sample with your processors (a fresh generator makes the cell repeatable):

# %%
gen = make_generator(0)
logits = tiny(torch.tensor([[1, 2]]))[:, -1].detach()
print(torch.multinomial(top_p_filter(apply_temperature(logits, 0.7), 0.9).softmax(-1), 5, replacement=True,
                        generator=gen))
