"""Train the models lecture 08 compares, with one recipe, and save them as one small checkpoint.

Sections 1 and 2 of the lecture compare an LSTM, a WaveNet-style causal CNN and a GPT of
about 30k parameters each, and a family of GPT sizes, all trained on 64-character windows of
the census first names joined into one stream. A transformer of this size needs a thousand
or more steps to leave the bigram plateau, more than the lecture's CPU budget, so this
script trains every model with the same recipe (steps, batch, learning rate, schedule) and
keeps, per model, the weights with the best validation loss among evaluations every
`--eval-every` steps (early stopping: 29k training characters are soon memorised, by the
WaveNet first, kept by `train`'s `on_eval` hook). It writes them with `save_checkpoint`
(`asdict(config)` + `state_dict` per model, no pickled objects) and the recipe:

    python scripts/make_lecture08_checkpoints.py                 # about 4 CPU-minutes
    python scripts/make_lecture08_checkpoints.py --steps 100 --out /tmp/lecture08.pt
    python scripts/make_lecture08_checkpoints.py --larger --out /tmp/lecture08.pt   # + 2 larger GPTs

The lecture measures training speed itself (a short timed run of each family); with
`ARCOURSE_FULL_RUN=1` it runs this script with `--larger` and uses what it trains.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from arcourse import get_device, save_checkpoint, seed_everything, train
from arcourse.checkpoint import SHIPPED, model_for
from arcourse.data import CharTokenizer, load_names, split_dataset, text_batches
from arcourse.models import CharRNNConfig, GPTConfig, WaveNetConfig

OUT = SHIPPED / "lecture08_models.pt"
WINDOW = 64  # characters per training window: the GPT's context and the WaveNet's receptive field


def family_configs(vocab_size: int) -> dict[str, object]:
    """Section 1: three families of about 30k parameters."""
    return {
        "lstm": CharRNNConfig(vocab_size, cell="lstm", d_embed=24, d_hidden=72),
        "wavenet": WaveNetConfig(vocab_size=vocab_size, residual_channels=24, skip_channels=48, layers_per_stack=6,
                                 n_stacks=1),  # dilations 1..32: receptive field 64 = WINDOW
        "gpt": GPTConfig(vocab_size=vocab_size, context_len=WINDOW, n_layers=2, n_heads=4, d_model=32),
    }


def scaling_configs(vocab_size: int, larger: bool = False) -> dict[str, GPTConfig]:
    """Section 2: more GPT sizes, from ~1k to ~200k parameters (larger: up to ~1.2M);
    section 1's GPT (2 layers of width 32) completes the family."""
    shapes = [(1, 8, 2), (1, 16, 2), (2, 24, 4), (3, 48, 4), (4, 64, 4)]  # layers, width, heads
    if larger:
        shapes += [(4, 96, 4), (6, 128, 4)]
    return {f"gpt {n}x{d}": GPTConfig(vocab_size=vocab_size, context_len=WINDOW, n_layers=n, n_heads=h, d_model=d)
            for n, d, h in shapes}


class KeepBest:
    """An `on_eval` hook for `train`: a copy of the weights at the lowest evaluation loss."""

    def __init__(self):
        self.loss, self.step, self.state_dict = float("inf"), -1, None

    def __call__(self, step: int, loss: float, model: torch.nn.Module) -> None:
        if loss < self.loss:
            self.loss, self.step = loss, step
            self.state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--larger", action="store_true", help="add two larger GPTs (for a GPU)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    device = get_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # models this small: a second thread costs more than it gains
    names = load_names()
    tok = CharTokenizer.from_texts(names)
    train_names, val_names, _ = split_dataset(names, (0.8, 0.1, 0.1), seed=0)  # the lecture's split
    stream = lambda ns: torch.tensor([i for n in ns for i in tok.encode(n, add_boundary=True)[1:]])  # noqa: E731
    train_ids, val_ids = stream(train_names), stream(val_names)
    val_windows = text_batches(val_ids, WINDOW, 256, seed=1)
    val_batches = [val_windows() for _ in range(4)]
    recipe = dict(window=WINDOW, batch_size=16, steps=args.steps, lr=1e-2, schedule="cosine", warmup_steps=50,
                  eval_every=args.eval_every, seed=0)

    configs = {**family_configs(tok.vocab_size), **scaling_configs(tok.vocab_size, args.larger)}
    models, extras = {}, {}
    for name, config in configs.items():
        seed_everything(recipe["seed"])
        model = model_for(config).to(device)
        best = KeepBest()
        history = train(model, text_batches(train_ids, WINDOW, recipe["batch_size"], seed=recipe["seed"]),
                        recipe["steps"], lr=recipe["lr"], schedule=recipe["schedule"],
                        warmup_steps=recipe["warmup_steps"], eval_batches=val_batches,
                        eval_every=recipe["eval_every"], on_eval=best, description=name)
        print(f"{name:12s} {sum(p.numel() for p in model.parameters()):7d} parameters  validation "
              f"{best.loss:.3f} nats/char at step {best.step + 1} "
              f"(last {history.eval_loss[-1]:.3f})  {history.seconds:.0f} s")
        model.load_state_dict(best.state_dict)
        models[name] = model
        extras[name] = {"best_step": best.step + 1, "validation_nll": best.loss}
    save_checkpoint(args.out, models, model_extras=extras, recipe=recipe, tokenizer=tok.state_dict())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
