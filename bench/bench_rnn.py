"""Benchmark: count bigram vs. LSTM vs. GRU character models on names.

Prints test NLL per character (nats) and training throughput (tokens/s) for
  - the census first names of the `names` package (always available, ~5K names), and
  - makemore's names.txt (~32K names) at ../shared/data/names.txt relative to the repo root
    (skipped with a message when absent). Published figures on it: count bigram 2.48,
    MLP 2.17, WaveNet-style 1.99, transformer about 1.92 nats/char (different split).
Each recurrent model trains for a time budget (default 5 minutes): a short probe measures
its speed, then it trains for as many steps as fit the budget with a cosine schedule; the
checkpoint with the best validation NLL is the one tested.

    .venv/bin/python bench/bench_rnn.py                       # both data sets, 5 min per model
    .venv/bin/python bench/bench_rnn.py --minutes 1 --data census
    .venv/bin/python bench/bench_rnn.py --clock process --threads 1
        # budget in CPU seconds of this process, one thread (for a shared machine; these
        # small models gain nothing from more CPU threads)
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import time
from pathlib import Path

import torch

from arcourse import evaluate, get_device, seed_everything, train
from arcourse.data import CharTokenizer, NameBatches, load_names, split_dataset
from arcourse.models import BigramConfig, BigramLM, CharRNN, CharRNNConfig

ROOT = Path(__file__).resolve().parents[1]
MAKEMORE = ROOT / ".." / "shared" / "data" / "names.txt"


def clock(kind: str) -> float:
    return time.perf_counter() if kind == "wall" else time.process_time()


def bench_bigram(tok, train_names, test_batches) -> dict:
    start = time.perf_counter()
    batches = NameBatches(train_names, tok, 4096, shuffle=False)
    model = BigramLM(BigramConfig(tok.vocab_size, alpha=1.0)).fit(batches)
    seconds = time.perf_counter() - start
    tokens = sum(len(n) + 1 for n in train_names)
    return dict(model="bigram (add-1)", params=tok.vocab_size ** 2, test=evaluate(model, test_batches),
                seconds=seconds, tok_s=tokens / seconds, tok_cpu_s=float("nan"), steps=1)


def bench_rnn(config, tok, train_names, val_batches, test_batches, args, device) -> dict:
    seed_everything(0)
    model = CharRNN(config).to(device)
    batches = NameBatches(train_names, tok, args.batch_size, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    budget = args.minutes * 60
    start, cpu_start = clock(args.clock), time.process_time()
    probe = train(model, batches, args.probe_steps, optimizer=opt, progress=False, description="probe")
    per_step = (clock(args.clock) - start) / args.probe_steps
    rounds = max(1, int((budget - (clock(args.clock) - start)) / per_step) // args.eval_every)
    best, best_state, history = float("inf"), None, probe
    for r in range(rounds):  # cosine decay of the lr across rounds, to 5 %
        for group in opt.param_groups:
            group["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * r / rounds)))
        history = train(model, batches, args.eval_every, optimizer=opt, progress=False, history=history)
        val = evaluate(model, val_batches)
        if val < best:
            best, best_state = val, copy.deepcopy(model.state_dict())
        if clock(args.clock) - start > budget:
            break
    seconds, cpu = clock(args.clock) - start, time.process_time() - cpu_start
    model.load_state_dict(best_state)
    return dict(model=f"{config.cell} {config.n_layers}x{config.d_hidden}", params=sum(p.numel() for p in model.parameters()),
                test=evaluate(model, test_batches), val=best, seconds=seconds,
                tok_s=history.tokens_per_second, tok_cpu_s=history.tokens / cpu, steps=len(history.steps))


def run(label: str, names: list[str], args, device) -> None:
    tok = CharTokenizer.from_texts(names)
    train_names, val_names, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=0)
    val = NameBatches(val_names, tok, 1024, shuffle=False)
    test = NameBatches(test_names, tok, 1024, shuffle=False)
    print(f"\n== {label}: {len(names)} names ({len(train_names)} train / {len(val_names)} val / "
          f"{len(test_names)} test), V={tok.vocab_size}, {args.minutes:g} min per model "
          f"({args.clock} clock), device {device}, {torch.get_num_threads()} threads", flush=True)
    print(f"{'model':16s} {'params':>9s} {'test NLL':>9s} {'val NLL':>8s} {'steps':>6s} {'seconds':>8s} {'train tok/s':>12s} {'tok/CPU-s':>10s}")
    rows = [bench_bigram(tok, train_names, test)]
    print_row(rows[-1])
    for cell in args.cells:
        sizes = {k: getattr(args, k) for k in ("d_embed", "d_hidden", "n_layers", "dropout")}
        config = dataclasses.replace(CharRNNConfig.large(vocab_size=tok.vocab_size, cell=cell),
                                     **{k: v for k, v in sizes.items() if v is not None})
        rows.append(bench_rnn(config, tok, train_names, val, test, args, device))
        print_row(rows[-1])


def print_row(row: dict) -> None:
    val = f"{row['val']:8.4f}" if "val" in row else f"{'':8s}"
    print(f"{row['model']:16s} {row['params']:9d} {row['test']:9.4f} {val} {row['steps']:6d} "
          f"{row['seconds']:8.1f} {row['tok_s']:12.0f} {row['tok_cpu_s']:10.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["census", "makemore", "both"], default="both")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per recurrent model")
    parser.add_argument("--clock", choices=["wall", "process"], default="wall")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["rnn", "lstm", "gru"])
    # model sizes default to CharRNNConfig.large
    parser.add_argument("--d-embed", type=int)
    parser.add_argument("--d-hidden", type=int)
    parser.add_argument("--n-layers", type=int)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--probe-steps", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device()
    if args.data in ("census", "both"):
        run("census first names (names package)", load_names(), args, device)
    if args.data in ("makemore", "both"):
        if MAKEMORE.is_file():
            run(f"makemore names.txt ({MAKEMORE.resolve()})", load_names(path=MAKEMORE), args, device)
        else:
            print(f"\nskipped makemore names.txt: no file at {MAKEMORE.resolve()}")


if __name__ == "__main__":
    main()
