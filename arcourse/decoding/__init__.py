"""Turning a model's next-token distribution into samples: processors, generate, search, speculative.

    processors   logits processors (B, V) -> (B, V) and `sample_tokens`
    generate     `generate` (every sequence model, `condition=` included), scoring
    search       beam search and the exhaustive search that checks it
    speculative  a draft model proposes, the target verifies (the target's distribution)
    images       `sample_images` / `complete_images`: the same processors, sub-pixel by sub-pixel

Every sequence model of the course plugs in through one protocol:
    model(idx, condition=None)        -> logits (B, T, V)        teacher forced
    model.start(prompt, condition=None) -> (logits (B, V), state) optional fast path: read the prompt,
    model.step(tokens, state)         -> (logits (B, V), new state) then one token at a time (RNN
                                                                state, conv queues, KV cache)
    model.context_len                 optional: the longest input the model accepts
`condition` is passed only when the caller gives one, so unconditioned models need not
accept it. `step` returns the new state and keeps nothing on the module. Models without
`start`/`step`, or calls with use_cache=False, recompute the whole prefix at every step;
both paths give the same tokens. Beam search and scoring always recompute.
"""
from arcourse.decoding.generate import generate, next_token_logits, sequence_log_probs
from arcourse.decoding.images import complete_images, sample_images
from arcourse.decoding.processors import (
    MinP,
    Processor,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    processors_for,
    sample_tokens,
)
from arcourse.decoding.search import MAX_EXHAUSTIVE, BeamSearchOutput, beam_search, exhaustive_search, length_normalised
from arcourse.decoding.speculative import (
    SpeculativeStats,
    acceptance_probability,
    residual_distribution,
    speculative_generate,
    verify_draft,
)

__all__ = [
    "MAX_EXHAUSTIVE",
    "BeamSearchOutput",
    "MinP",
    "Processor",
    "RepetitionPenalty",
    "SpeculativeStats",
    "Temperature",
    "TopK",
    "TopP",
    "acceptance_probability",
    "apply_processors",
    "beam_search",
    "complete_images",
    "exhaustive_search",
    "generate",
    "length_normalised",
    "next_token_logits",
    "processors_for",
    "residual_distribution",
    "sample_images",
    "sample_tokens",
    "sequence_log_probs",
    "speculative_generate",
    "verify_draft",
]
