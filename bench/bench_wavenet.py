"""Samples per second of naive and fast WaveNet generation.

Naive generation re-runs the whole network over the last `receptive_field` samples for every
new sample; fast generation keeps a queue (ring buffer) of recent inputs per layer and does
one step of each layer per sample (Paine et al., 2016). The model has the paper's receptive
field of 1,024 samples in 10 layers (`WaveNetConfig.long_context()`); its weights are random,
which does not change the cost. Both generators start from one silent sample, draw from the
same seed, and must produce identical audio.

    python bench/bench_wavenet.py                      # 1 s and 4 s at 8 kHz; naive 4 s takes minutes
    python bench/bench_wavenet.py --seconds 1 --threads 1
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from arcourse import make_generator
from arcourse.data import SAMPLE_RATE
from arcourse.decoding import generate
from arcourse.models import WaveNet, WaveNetConfig


def timed(use_cache: bool, model, n_samples: int) -> tuple[float, float, torch.Tensor]:
    """(wall seconds, CPU seconds of this process, samples) of `generate` with its fast
    (cached queues) or naive (recompute) path: on a shared machine the CPU time is the
    steadier figure."""
    silence = torch.full((1, 1), 128)  # the µ-law level of 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    out = generate(model, silence, n_samples, generator=make_generator(0), use_cache=use_cache)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 4.0], help="audio durations to generate")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = WaveNetConfig.long_context()
    model = WaveNet(config).eval()
    print(f"WaveNet: {len(config.dilations)} layers, dilations {config.dilations[0]}..{config.dilations[-1]}, "
          f"receptive field {model.receptive_field}, {config.residual_channels} residual / "
          f"{config.skip_channels} skip channels; CPU, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    timed(True, model, 100)  # warm-up
    timed(False, model, 10)
    print("samples/s and speedup by wall clock (by CPU time of this process in brackets)")
    print(f"{'audio':>6} {'samples':>7} {'naive samples/s':>17} {'fast samples/s':>17} {'speedup':>15}  identical")
    for seconds in args.seconds:
        n = round(seconds * SAMPLE_RATE)
        fast_wall, fast_cpu, fast = timed(True, model, n)
        naive_wall, naive_cpu, naive = timed(False, model, n)
        print(f"{seconds:5.2f}s {n:7d} {n / naive_wall:7.0f} ({n / naive_cpu:6.0f}) {n / fast_wall:7.0f} ({n / fast_cpu:6.0f}) "
              f"{naive_wall / fast_wall:5.1f}x ({naive_cpu / fast_cpu:5.1f}x)  {bool(torch.equal(naive, fast))}", flush=True)


if __name__ == "__main__":
    main()
