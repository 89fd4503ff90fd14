"""Train the PixelCNN and the Gated PixelCNN that lecture 04 samples from, and save them.

    .venv/bin/python scripts/make_checkpoints_pixelcnn.py

Writes arcourse/checkpoints/pixelcnn_digits.pt and gated_pixelcnn_digits.pt with
`save_checkpoint`: the model's kind, `asdict(config)`, its `state_dict`, and as extras the
split seed, the steps and the test bits/dim measured here (no pickled objects;
`load_checkpoint` reads them). Both use the recipe of the lecture's short runs
(same widths, batch 64, AdamW with a cosine schedule), only longer. The notebook
re-measures the test bits/dim and compares, so a stale or broken checkpoint fails loudly.
Deterministic on the CPU: the same run gives the same files.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from arcourse import evaluate, save_checkpoint, seed_everything, train
from arcourse.checkpoint import SHIPPED
from arcourse.data import ImageBatches, load_digits, split_images
from arcourse.models import GatedPixelCNN, GatedPixelCNNConfig, PixelCNN, PixelCNNConfig

OUT = SHIPPED
SPLIT_SEED = 0
LEVELS = 17


MODELS = {  # the lecture's two architectures, by checkpoint file name
    "pixelcnn_digits": lambda: PixelCNN(PixelCNNConfig(vocab_size=LEVELS, hidden_channels=32, n_layers=5,
                                                       first_kernel_size=5)),
    "gated_pixelcnn_digits": lambda: GatedPixelCNN(GatedPixelCNNConfig(vocab_size=LEVELS, hidden_channels=32,
                                                                       n_layers=5)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", choices=sorted(MODELS), help="make just this checkpoint")
    args = parser.parse_args()

    torch.set_num_threads(1)  # small convolutions: one thread is fair on a shared machine
    train_set, val_set, test_set = split_images(load_digits(LEVELS), (0.8, 0.1, 0.1), seed=SPLIT_SEED)
    val = ImageBatches(val_set, 512, shuffle=False)
    test = ImageBatches(test_set, 512, shuffle=False)
    for name, make in MODELS.items():
        if args.only and name != args.only:
            continue
        seed_everything(0)
        model = make()
        history = train(model, ImageBatches(train_set, 64, seed=0), args.steps, lr=3e-3, schedule="cosine",
                        warmup_steps=20, eval_batches=lambda: val, eval_every=250, description=name)
        test_bpd = evaluate(model, test) / math.log(2)
        print(f"{name}: {args.steps} steps in {history.seconds:.0f} s; test {test_bpd:.4f} bits/dim; validation "
              f"{[round(x / math.log(2), 3) for x in history.eval_loss]} bits/dim by {history.eval_steps}")
        path = save_checkpoint(args.out / f"{name}.pt", model, split_seed=SPLIT_SEED, steps=args.steps,
                               test_bpd=test_bpd)
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
