"""Benchmark the PixelCNNs on 8x8 digits: seconds per training epoch, test bits/dim, and
seconds to sample 64 digits.

    .venv/bin/python bench/bench_pixelcnn.py [--epochs 3] [--threads 2] [--device cpu]

For each architecture of lecture 04 (the PixelCNN and the Gated PixelCNN at the lecture's
width, and the Gated PixelCNN's `digits` preset) it trains for a few epochs of the training
split (batch 64) and prints the wall seconds per epoch, the test bits/dim reached (next to
the independent-pixel baseline), and the wall seconds to sample 64 digits pixel by pixel.
The shipped checkpoints, when present, are scored and timed the same way. Figures are
printed, never asserted.
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from arcourse import evaluate, get_device, load_checkpoint, make_generator, seed_everything, train
from arcourse.data import ImageBatches, load_digits, split_images
from arcourse.decoding import sample_images
from arcourse.models import GatedPixelCNN, GatedPixelCNNConfig, IndependentPixels, PixelCNN, PixelCNNConfig

ARCHITECTURES = {
    "PixelCNN (lecture, 32 wide)": lambda K: PixelCNN(PixelCNNConfig(vocab_size=K, hidden_channels=32, n_layers=5,
                                                                     first_kernel_size=5)),
    "Gated PixelCNN (lecture, 32 wide)": lambda K: GatedPixelCNN(GatedPixelCNNConfig(vocab_size=K, hidden_channels=32,
                                                                                     n_layers=5)),
    "Gated PixelCNN (digits preset)": lambda K: GatedPixelCNN(GatedPixelCNNConfig.small(vocab_size=K)),
}
CHECKPOINTS = {"PixelCNN checkpoint": "pixelcnn_digits", "Gated PixelCNN checkpoint": "gated_pixelcnn_digits"}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sampling_seconds(model: torch.nn.Module, device: torch.device) -> float:
    """Wall seconds to draw 64 digits of 8x8 in one batch."""
    _synchronize(device)
    start = time.perf_counter()
    sample_images(model, 64, (8, 8), generator=make_generator(0, device))
    _synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu (the figure the brief asks for), cuda, or auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(None if args.device == "auto" else args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")

    data = load_digits()
    K = data.levels
    train_set, _, test_set = split_images(data, (0.8, 0.1, 0.1), seed=0)
    test = ImageBatches(test_set, 512, shuffle=False)
    baseline = IndependentPixels.from_images(train_set.images, K)
    print(f"independent pixels: test {evaluate(baseline, test) / math.log(2):.3f} bits/dim")
    steps_per_epoch = len(ImageBatches(train_set, 64))

    print(f"\n{'model':36s} {'params':>8s} {'s/epoch':>8s} {'test bpd':>9s} {'sample 64 (s)':>14s}")
    for name, make in ARCHITECTURES.items():
        seed_everything(0)
        model = make(K).to(device)
        n_params = sum(p.numel() for p in model.parameters())
        history = train(model, ImageBatches(train_set, 64, seed=0), args.epochs * steps_per_epoch, lr=3e-3,
                        schedule="cosine", warmup_steps=20, progress=False)
        bpd = evaluate(model, test) / math.log(2)
        print(f"{name:36s} {n_params:8d} {history.seconds / args.epochs:8.2f} {bpd:9.3f} "
              f"{sampling_seconds(model, device):14.2f}")
    for name, file in CHECKPOINTS.items():
        try:
            checkpoint = load_checkpoint(file)
            model, saved = checkpoint.model, checkpoint.extras
        except FileNotFoundError as err:
            print(f"{name:36s} skipped: {err}")
            continue
        model = model.to(device)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name:36s} {n_params:8d} {'-':>8s} {evaluate(model, test) / math.log(2):9.3f} "
              f"{sampling_seconds(model, device):14.2f}   ({saved['steps']} steps)")
    print(f"\n(one epoch = {steps_per_epoch} steps of 64 digits; {args.epochs} epochs per model)")


if __name__ == "__main__":
    main()
