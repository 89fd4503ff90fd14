"""Train the models of lecture 10 (where the architecture decides) and save them.

Two parts, each written to its own small checkpoint:

    python scripts/make_lecture10_checkpoints.py delay    # LSTM, causal CNN, GPT per distance
    python scripts/make_lecture10_checkpoints.py shapes   # plain, gated, class-conditional gated PixelCNN

`delay`: on `arcourse.data.generated.delay_task` (the target at step t is the token of step
t - distance, V = 4 symbols, T = 48 steps) an LSTM, a WaveNet-style causal CNN with a
receptive field of 16 steps and a GPT, all of about 20-25k parameters, are trained with one
recipe for each distance. `shapes`: on 12x12 `synthetic_shapes` a plain PixelCNN, a Gated
PixelCNN and a class-conditional Gated PixelCNN, with one recipe. Each entry stores
`asdict(config)` + `state_dict` (no pickled objects) and the recipe; the lecture re-measures
every loss on fresh data, so a stale checkpoint fails its asserts. Deterministic on the CPU.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from pathlib import Path

import torch

from arcourse import evaluate, nll, seed_everything, train
from arcourse.data import ImageBatches
from arcourse.data.generated import SHAPE_CLASSES, delay_task, synthetic_shapes
from arcourse.models import (GPT, CharRNN, CharRNNConfig, GatedPixelCNN, GatedPixelCNNConfig, GPTConfig, PixelCNN,
                             PixelCNNConfig, WaveNet, WaveNetConfig)
from arcourse.training import default_loss

OUT = Path(__file__).resolve().parents[1] / "arcourse" / "checkpoints"
DELAY = dict(vocab_size=4, length=48, distances=(4, 40), n_train=20000, batch_size=32, lr=3e-3, seed=0)
SHAPES = dict(size=12, n_train=3000, train_seed=1, batch_size=16, lr=3e-3, seed=0)


def delay_models(vocab_size: int, length: int) -> dict[str, torch.nn.Module]:
    """Three families of about 20-25k parameters; the CNN sees 16 steps (dilations 1..8)."""
    return {
        "lstm": CharRNN(CharRNNConfig(vocab_size, cell="lstm", d_embed=16, d_hidden=64)),
        "cnn": WaveNet(WaveNetConfig(n_classes=vocab_size, residual_channels=32, skip_channels=32,
                                     layers_per_stack=4, n_stacks=1)),
        "gpt": GPT(GPTConfig(vocab_size=vocab_size, context_len=length, n_layers=2, n_heads=2, d_model=32,
                             positional="sinusoidal")),
    }


def shape_models() -> dict[str, torch.nn.Module]:
    """Plain and gated PixelCNNs of similar depth, and the gated one conditioned on the kind."""
    return {
        "plain": PixelCNN(PixelCNNConfig(levels=2, hidden_channels=16, n_layers=5, first_kernel_size=7)),
        "gated": GatedPixelCNN(GatedPixelCNNConfig(levels=2, hidden_channels=16, n_layers=5)),
        "gated_conditional": GatedPixelCNN(GatedPixelCNNConfig(levels=2, hidden_channels=16, n_layers=5,
                                                               n_classes=len(SHAPE_CLASSES))),
    }


def labelled_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """`default_loss` for a class-conditional PixelCNN: batches of (images, images, labels)."""
    images, targets, labels = batch
    return nll(model(images, labels), targets, reduction="sum"), torch.tensor(targets.numel())


def entry(model: torch.nn.Module, **extra) -> dict:
    return {"kind": type(model).__name__, "config": asdict(model.config), "state_dict": model.state_dict(), **extra}


def make_delay(steps: int) -> dict:
    r = DELAY
    models = {}
    for distance in r["distances"]:
        inputs, targets = delay_task(r["n_train"], r["length"], distance, r["vocab_size"], seed=1)
        val = [delay_task(500, r["length"], distance, r["vocab_size"], seed=2)]
        for name, model in delay_models(r["vocab_size"], r["length"]).items():
            seed_everything(r["seed"])
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
            models[f"{name} d={distance}"] = entry(model, validation_nll=loss, seconds=history.seconds)
    return {"recipe": {**r, "steps": steps}, "models": models}


def make_shapes(steps: int) -> dict:
    r = SHAPES
    data = synthetic_shapes(r["n_train"], r["size"], seed=r["train_seed"])
    test = synthetic_shapes(500, r["size"], seed=r["train_seed"] + 1)
    models = {}
    for name, model in shape_models().items():
        seed_everything(r["seed"])
        conditional = name == "gated_conditional"
        history = train(model, ImageBatches(data, r["batch_size"], seed=r["seed"], with_labels=conditional), steps,
                        lr=r["lr"], schedule="cosine", warmup_steps=20,
                        loss_fn=labelled_loss if conditional else default_loss,
                        description=name)
        batches = [(test.images, test.images, test.labels)] if conditional else [(test.images, test.images)]
        bpd = evaluate(model, batches, labelled_loss if conditional else default_loss) / math.log(2)
        print(f"{name}: {steps} steps in {history.seconds:.0f} s; test {bpd:.4f} bits/dim", flush=True)
        models[name] = entry(model, test_bpd=bpd, seconds=history.seconds)
    return {"recipe": {**r, "steps": steps}, "models": models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("delay", "shapes"))
    parser.add_argument("--steps", type=int, default=None, help="default: 1200 (delay), 500 (shapes)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small models: one thread is fair on a shared machine
    steps = args.steps or (1200 if args.part == "delay" else 500)
    saved = make_delay(steps) if args.part == "delay" else make_shapes(steps)
    out = args.out or OUT / f"lecture10_{args.part}.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, out)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
