"""Train the models of lecture 10 (where the architecture decides) and save them.

Two parts, each written to its own small checkpoint:

    python scripts/make_lecture10_checkpoints.py delay    # LSTM, causal CNN, GPT per distance
    python scripts/make_lecture10_checkpoints.py shapes   # plain, gated, class-conditional gated PixelCNN

`delay`: on `arcourse.data.generated.delay_task` (the target at step t is the token of step
t - distance, V = 4 symbols, T = 48 steps) an LSTM, a WaveNet-style causal CNN with a
receptive field of 16 steps and a GPT, all of about 20-25k parameters, are trained with one
recipe for each distance. `shapes`: on 12x12 `synthetic_shapes` a plain PixelCNN, a Gated
PixelCNN and a class-conditional Gated PixelCNN (batches of (images, images, labels): the
default loss passes the labels as `condition=`), with one recipe. Each file is written by
`save_checkpoint` (`asdict(config)` + `state_dict` per model, its validation figure and
seconds as model extras, the recipe as the file's extras; no pickled objects); the lecture
re-measures every loss on fresh data, so a stale checkpoint fails its asserts.
Deterministic on the CPU: every model is built after seeding. (The shipped files come from
an earlier run that built the models before seeding, so their initial weights were not
repeatable; they were rewritten in this schema with their weights unchanged. A rerun trains
models of the same recipe, not the same bytes.)
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from arcourse import evaluate, save_checkpoint, seed_everything, train
from arcourse.checkpoint import SHIPPED, model_for
from arcourse.data import ImageBatches
from arcourse.data.generated import SHAPE_CLASSES, delay_task, synthetic_shapes
from arcourse.models import CharRNNConfig, GatedPixelCNNConfig, GPTConfig, PixelCNNConfig, WaveNetConfig

DELAY = dict(vocab_size=4, length=48, distances=(4, 40), n_train=20000, batch_size=32, lr=3e-3, seed=0)
SHAPES = dict(size=12, n_train=3000, train_seed=1, batch_size=16, lr=3e-3, seed=0)


def delay_configs(vocab_size: int, length: int) -> dict[str, object]:
    """Three families of about 20-25k parameters; the CNN sees 16 steps (dilations 1..8)."""
    return {
        "lstm": CharRNNConfig(vocab_size, cell="lstm", d_embed=16, d_hidden=64),
        "cnn": WaveNetConfig(vocab_size=vocab_size, residual_channels=32, skip_channels=32, layers_per_stack=4,
                             n_stacks=1),
        "gpt": GPTConfig(vocab_size=vocab_size, context_len=length, n_layers=2, n_heads=2, d_model=32,
                         positional="sinusoidal"),
    }


def shape_configs() -> dict[str, object]:
    """Plain and gated PixelCNNs of similar depth, and the gated one conditioned on the kind."""
    return {
        "plain": PixelCNNConfig(vocab_size=2, hidden_channels=16, n_layers=5, first_kernel_size=7),
        "gated": GatedPixelCNNConfig(vocab_size=2, hidden_channels=16, n_layers=5),
        "gated_conditional": GatedPixelCNNConfig(vocab_size=2, hidden_channels=16, n_layers=5,
                                                 n_conditions=len(SHAPE_CLASSES)),
    }


def make_delay(steps: int) -> tuple[dict[str, torch.nn.Module], dict[str, dict]]:
    r = DELAY
    models, extras = {}, {}
    for distance in r["distances"]:
        inputs, targets = delay_task(r["n_train"], r["length"], distance, r["vocab_size"], seed=1)
        val = [delay_task(500, r["length"], distance, r["vocab_size"], seed=2)]
        for name, config in delay_configs(r["vocab_size"], r["length"]).items():
            seed_everything(r["seed"])
            model = model_for(config)  # seeded: the same initial weights on every run
            gen = torch.Generator().manual_seed(r["seed"])

            def batch():
                pick = torch.randint(len(inputs), (r["batch_size"],), generator=gen)
                return inputs[pick], targets[pick]

            history = train(model, batch, steps, lr=r["lr"], schedule="cosine", warmup_steps=50,
                            description=f"{name} d={distance}")
            loss = evaluate(model, val)
            print(f"distance {distance:3d} {name:5s} {sum(p.numel() for p in model.parameters()):6d} parameters: "
                  f"validation {loss:.4f} nats (chance {math.log(r['vocab_size']):.4f}), {history.seconds:.0f} s",
                  flush=True)
            models[f"{name} d={distance}"] = model
            extras[f"{name} d={distance}"] = {"validation_nll": loss, "seconds": history.seconds}
    return models, extras


def make_shapes(steps: int) -> tuple[dict[str, torch.nn.Module], dict[str, dict]]:
    r = SHAPES
    data = synthetic_shapes(r["n_train"], r["size"], seed=r["train_seed"])
    test = synthetic_shapes(500, r["size"], seed=r["train_seed"] + 1)
    models, extras = {}, {}
    for name, config in shape_configs().items():
        seed_everything(r["seed"])
        model = model_for(config)
        conditional = name == "gated_conditional"  # its batches carry the labels as the condition
        history = train(model, ImageBatches(data, r["batch_size"], seed=r["seed"], with_labels=conditional), steps,
                        lr=r["lr"], schedule="cosine", warmup_steps=20, description=name)
        batches = [(test.images, test.images, test.labels)] if conditional else [(test.images, test.images)]
        bpd = evaluate(model, batches) / math.log(2)
        print(f"{name}: {steps} steps in {history.seconds:.0f} s; test {bpd:.4f} bits/dim", flush=True)
        models[name] = model
        extras[name] = {"test_bpd": bpd, "seconds": history.seconds}
    return models, extras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("delay", "shapes"))
    parser.add_argument("--steps", type=int, default=None, help="default: 1200 (delay), 500 (shapes)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small models: one thread is fair on a shared machine
    steps = args.steps or (1200 if args.part == "delay" else 500)
    models, extras = make_delay(steps) if args.part == "delay" else make_shapes(steps)
    recipe = {**(DELAY if args.part == "delay" else SHAPES), "steps": steps}
    out = save_checkpoint(args.out or SHIPPED / f"lecture10_{args.part}.pt", models, model_extras=extras, recipe=recipe)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
