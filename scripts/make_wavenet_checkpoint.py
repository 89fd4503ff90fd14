"""Train the WaveNet whose samples lecture 05 plays, and save it as a small checkpoint.

The lecture trains the same architecture for a few hundred steps live (enough to beat the
baselines); sampling good-sounding audio takes longer. This script trains it on synthetic
music drawn with a different seed from the lecture's clips (so the lecture's test clips stay
unseen) and writes it with `save_checkpoint` (`asdict(config)` + `state_dict`, no pickles):

    python scripts/make_wavenet_checkpoint.py                # about 15 CPU-minutes
    python scripts/make_wavenet_checkpoint.py --steps 200 --out /tmp/wavenet.pt
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from arcourse import get_device, mu_law_encode, save_checkpoint, seed_everything, train
from arcourse.checkpoint import SHIPPED
from arcourse.data import audio_batches, synthetic_music
from arcourse.models import WaveNet, WaveNetConfig

OUT = SHIPPED / "wavenet_music.pt"
INSTRUMENTS = ("sine", "clarinet")  # condition 0 and 1, as in the lecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--clips", type=int, default=512, help="one-second training clips")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    seed_everything(1)
    device = get_device()
    config = WaveNetConfig.small(n_conditions=len(INSTRUMENTS))  # the lecture's architecture
    clips, labels = synthetic_music(args.clips, 1.0, instruments=INSTRUMENTS, seed=1)  # the lecture uses seed 0
    train_q, valid_q = torch.as_tensor(mu_law_encode(clips[:-16])), torch.as_tensor(mu_law_encode(clips[-16:]))
    train_labels, valid_labels = torch.as_tensor(labels[:-16]), torch.as_tensor(labels[-16:])
    model = WaveNet(config).to(device)
    history = train(model, audio_batches(train_q, 512, 16, conditions=train_labels, seed=1), args.steps,
                    lr=1e-2, schedule="cosine", warmup_steps=100,
                    eval_batches=lambda: [(valid_q[:, :-1], valid_q[:, 1:], valid_labels)],
                    eval_every=max(1, args.steps // 10))
    bits = [round(loss / math.log(2), 3) for loss in history.eval_loss]
    print(f"validation bits/sample every {max(1, args.steps // 10)} steps: {bits} ({history.seconds:.0f} s)")
    save_checkpoint(args.out, model, instruments=list(INSTRUMENTS), steps=args.steps, validation_bits=bits[-1])
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
