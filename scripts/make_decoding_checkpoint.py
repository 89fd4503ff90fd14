"""Train the character RNN that lecture 07 (decoding) samples from, and save it.

    .venv/bin/python scripts/make_decoding_checkpoint.py

Writes arcourse/checkpoints/decoding_char_rnn.pt: a plain dict with the model's
`asdict(config)`, its `state_dict`, the tokenizer's state, and the split seed and losses it
was trained with, by `save_checkpoint` (no pickled objects; `load_checkpoint` reads it).
The notebook checks that it beats a bigram model on the validation names, so a stale or
broken checkpoint fails loudly. Deterministic on the CPU: the same run gives the same file.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from arcourse import evaluate, save_checkpoint, seed_everything, train
from arcourse.checkpoint import SHIPPED
from arcourse.data import CharTokenizer, NameBatches, load_names, split_dataset
from arcourse.models import CharRNN, CharRNNConfig

OUT = SHIPPED / "decoding_char_rnn.pt"
SPLIT_SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    seed_everything(0)
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and fair on a shared machine
    names = load_names("first")
    train_names, val_names, _ = split_dataset(names, (0.8, 0.1, 0.1), seed=SPLIT_SEED)
    tok = CharTokenizer.from_texts(names)
    config = CharRNNConfig.small(vocab_size=tok.vocab_size)
    model = CharRNN(config)
    val = NameBatches(val_names, tok, batch_size=256, shuffle=False)
    history = train(model, NameBatches(train_names, tok, batch_size=64, seed=0), args.steps, lr=3e-3,
                    schedule="cosine", warmup_steps=100, eval_batches=lambda: val, eval_every=500)
    val_nll = evaluate(model, val)
    print(f"{args.steps} steps in {history.seconds:.0f} s; validation NLL {val_nll:.3f} nats/char "
          f"(history: {[round(x, 3) for x in history.eval_loss]})")
    save_checkpoint(args.out, model, tokenizer=tok.state_dict(), split_seed=SPLIT_SEED, steps=args.steps,
                    val_nll=val_nll)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
