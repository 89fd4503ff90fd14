"""Benchmark the library GPT on a CPU: Shakespeare (nanoGPT's char-level set-up) and makemore's names.

Not a test: it prints figures. Data come from ../shared/data relative to the repository root
(tinyshakespeare.txt, names.txt); a part whose file is absent is skipped with a message.

    python bench/bench_gpt.py                      # every part
    python bench/bench_gpt.py --part recipe        # nanoGPT's CPU recipe, on our GPT
    python bench/bench_gpt.py --part fast          # our recipe for nanoGPT's time budget
    python bench/bench_gpt.py --part long          # our recipe for a 10-minute budget
    python bench/bench_gpt.py --part generate      # tokens/s with and without the KV cache
    python bench/bench_gpt.py --part names         # test NLL on makemore's names.txt (~35 CPU-minutes)
    python bench/bench_gpt.py --part names --names-protocol distinct   # no test name seen in training

Clocks: "wall" is elapsed time, "cpu" the process's CPU time. On a machine shared with other
jobs the wall clock measures the neighbours too, so both are printed, with the load average;
evaluation time is left out of the training clock. `--threads 1` avoids the slowdown that
OpenMP threads suffer on a busy machine (then cpu time ~ what one quiet core would take).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import torch

from arcourse import evaluate, make_generator, seed_everything, train
from arcourse.data import CharTokenizer, NameBatches, load_text, names_split, text_batches
from arcourse.decoding import generate
from arcourse.models import GPT, GPTConfig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


class Clocks:
    """Wall and CPU time of training, with evaluation time taken out; prints each evaluation
    as it finishes (so a run cut short still reports its curve)."""

    def __init__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.paused_wall = self.paused_cpu = 0.0
        self.curve: list[tuple[float, float, float]] = []  # (wall s, cpu s, eval loss)
        self._started: tuple[float, float, float, float] | None = None  # clocks when an evaluation began

    def now(self) -> tuple[float, float]:
        return (time.perf_counter() - self.wall0 - self.paused_wall,
                time.process_time() - self.cpu0 - self.paused_cpu)

    def timed_eval(self, batches):
        """An eval_batches function for `train` that stops the clocks when evaluation starts;
        `on_eval` restarts them."""
        def run():
            self._started = (*self.now(), time.perf_counter(), time.process_time())
            return batches
        return run

    def on_eval(self, after=None):
        """`train`'s on_eval hook: records the loss just measured; `after` (given the loss)
        runs inside the stopped time too."""
        def hook(step, loss, model):
            wall, cpu, w, c = self._started
            self.curve.append((wall, cpu, loss))
            extra = after(loss) if after is not None else ""
            self.paused_wall += time.perf_counter() - w
            self.paused_cpu += time.process_time() - c
            print(f"  eval {len(self.curve):2d}: wall {wall:7.1f} s  cpu {cpu:7.1f} s  loss {loss:.4f}{extra}",
                  flush=True)
        return hook


def load_shakespeare():
    path = DATA / "tinyshakespeare.txt"
    if not path.is_file():
        return None
    text = load_text(path)
    tok = CharTokenizer.from_texts(text, boundary=None)
    ids = torch.tensor(tok.encode(text))
    n = int(0.9 * len(ids))  # nanoGPT: first 90 % train, last 10 % validation
    return tok, ids[:n], ids[n:]


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """nanoGPT's optimiser: decay on matrices only, beta2 = 0.99."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def shakespeare_run(name: str, config: GPTConfig, *, batch_size: int, steps: int, lr: float,
                    warmup: int, weight_decay: float = 0.1, eval_every: int = 250, seed: int = 1337) -> dict:
    data = load_shakespeare()
    if data is None:
        print(f"[{name}] skipped: {DATA / 'tinyshakespeare.txt'} is absent")
        return {}
    tok, train_ids, val_ids = data
    config = dataclasses.replace(config, vocab_size=tok.vocab_size)
    seed_everything(seed)
    model = GPT(config)
    # a fixed validation sample: 2,048 random windows of the held-out 10 %
    draw = text_batches(val_ids, config.context_len, 64, seed=1)
    val = [draw() for _ in range(32)]
    clocks = Clocks()
    history = train(model, text_batches(train_ids, config.context_len, batch_size, seed=seed), steps,
                    optimizer=adamw(model, lr, weight_decay), schedule="cosine", warmup_steps=warmup,
                    eval_batches=clocks.timed_eval(val), eval_every=eval_every, on_eval=clocks.on_eval(),
                    description=name)
    wall, cpu, _ = clocks.curve[-1]
    print(f"\n[{name}] {config.n_layers} layers, {config.n_heads} heads, width {config.d_model}, "
          f"block {config.context_len}, batch {batch_size}, {steps} steps, lr {lr:g} (cosine, warm-up {warmup}); "
          f"{model.num_parameters() / 1e6:.2f} M parameters; load {os.getloadavg()[0]:.1f}")
    print("   step   wall s    cpu s   val loss")
    for step, (w, c, _), loss in zip(history.eval_steps, clocks.curve, history.eval_loss):
        print(f"  {step + 1:5d}  {w:7.1f}  {c:7.1f}   {loss:.4f}")
    print(f"  training: {1000 * wall / steps:.1f} ms/step wall, {1000 * cpu / steps:.1f} ms/step cpu; "
          f"{history.tokens / wall:,.0f} tokens/s wall, {history.tokens / cpu:,.0f} tokens/s per cpu-second")
    return {"val_loss": history.eval_loss[-1], "wall": wall, "cpu": cpu}


def generation_speed(new_tokens: int = 500, seed: int = 0) -> None:
    """Tokens/s of `generate` with and without the KV cache, nanoGPT-CPU-recipe size."""
    seed_everything(seed)
    # context long enough to hold the whole continuation, so the cache never has to slide
    model = GPT(GPTConfig.small(vocab_size=65, context_len=new_tokens + 12)).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long)
    times, outs = {}, {}
    for use_cache in (True, False):
        start = time.perf_counter()
        outs[use_cache] = generate(model, prompt, new_tokens, generator=make_generator(seed), use_cache=use_cache)
        times[use_cache] = time.perf_counter() - start
    assert torch.equal(outs[True], outs[False]), "cached and uncached generation differ"
    print(f"\n[generate] {new_tokens} new tokens, {model.num_parameters() / 1e6:.2f} M parameters, "
          f"load {os.getloadavg()[0]:.1f}")
    for use_cache in (True, False):
        print(f"  use_cache={use_cache!s:5}: {times[use_cache]:6.2f} s  {new_tokens / times[use_cache]:8.0f} tokens/s")
    print(f"  KV cache speed-up: {times[False] / times[True]:.1f}x (same tokens: asserted)")


def names_run(steps: int, batch_size: int, lr: float, dropout: float, n_layers: int, d_model: int,
              protocol: str = "makemore", ema_decay: float = 0.999, seed: int = 0) -> None:
    """makemore's names.txt: test NLL of the weights with the best validation loss.

    Every evaluation also scores an exponential moving average of the weights (when
    `ema_decay` > 0); the best of all of them on validation is the model tested.
    """
    path = DATA / "names.txt"
    if not path.is_file():
        print(f"[names] skipped: {path} is absent")
        return
    names, train_names, val_names, test_names = names_split(path, protocol, seed)
    tok = CharTokenizer.from_texts(names)
    context_len = max(len(n) for n in names) + 1
    config = GPTConfig(vocab_size=tok.vocab_size, context_len=context_len, n_layers=n_layers, n_heads=4,
                       d_model=d_model, dropout=dropout)
    seed_everything(seed)
    model = GPT(config)
    optimizer = adamw(model, lr, 0.1)
    ema = None
    if ema_decay:
        ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay))
        optimizer.register_step_post_hook(lambda *_: ema.update_parameters(model))
    val = list(NameBatches(val_names, tok, 512, shuffle=False))
    best = {"loss": float("inf")}
    ema_curve: list[float] = []

    def keep_best(loss: float) -> str:
        """Snapshot the weights (live or averaged) that do best on validation so far."""
        candidates = [("live", loss, model)]
        if ema is not None:
            ema_curve.append(evaluate(ema.module, val))
            candidates.append(("ema", ema_curve[-1], ema.module))
        for kind, value, source in candidates:
            if value < best["loss"]:
                best.update(loss=value, kind=kind, eval=len(clocks.curve),
                            state={k: v.detach().clone() for k, v in source.state_dict().items()})
        return f"  ema {ema_curve[-1]:.4f}" if ema is not None else ""

    clocks = Clocks()
    history = train(model, NameBatches(train_names, tok, batch_size, seed=seed), steps,
                    optimizer=optimizer, schedule="cosine", warmup_steps=200,
                    eval_batches=clocks.timed_eval(val), on_eval=clocks.on_eval(after=keep_best),
                    eval_every=max(1, steps // 10), description="names")
    test_batches = list(NameBatches(test_names, tok, 512, shuffle=False))
    last_test = evaluate(model, test_batches)
    model.load_state_dict(best["state"])
    test = evaluate(model, test_batches)
    print(f"\n[names, {protocol}] {len(names)} names ({len(train_names)}/{len(val_names)}/{len(test_names)}), "
          f"{model.num_parameters() / 1e6:.2f} M parameters, {steps} steps of {batch_size} names, lr {lr:g}, "
          f"dropout {dropout:g}, EMA {ema_decay:g}; load {os.getloadavg()[0]:.1f}")
    for i, (step, (w, c, _), loss) in enumerate(zip(history.eval_steps, clocks.curve, history.eval_loss)):
        averaged = f"  ema {ema_curve[i]:.4f}" if ema is not None else ""
        print(f"  step {step + 1:5d}  wall {w:6.1f} s  cpu {c:6.1f} s  val {loss:.4f}{averaged}")
    chosen = f"{best['kind']} weights at step {history.eval_steps[best['eval'] - 1] + 1}"
    print(f"  test NLL {test:.4f} nats/char with the best validation weights ({chosen}, val {best['loss']:.4f}); "
          f"last live weights {last_test:.4f} (goal <= 1.90; makemore's transformer ~1.92)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="all", choices=["all", "recipe", "fast", "long", "generate", "names"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    names = parser.add_argument_group("names part")
    names.add_argument("--names-steps", type=int, default=16000)
    names.add_argument("--names-batch", type=int, default=64)
    names.add_argument("--names-lr", type=float, default=1e-3)
    names.add_argument("--names-dropout", type=float, default=0.3)
    names.add_argument("--names-layers", type=int, default=4)
    names.add_argument("--names-width", type=int, default=192)
    names.add_argument("--names-protocol", choices=["distinct", "makemore"], default="makemore",
                       help="distinct names split 80/10/10, or makemore's own split (its 1,000 test lines)")
    names.add_argument("--names-ema", type=float, default=0.999,
                       help="decay of an exponential moving average of the weights, also scored (0: none)")
    names.add_argument("--names-seed", type=int, default=0,
                       help="seed of the weights and the batch order (and of the distinct split)")
    args = parser.parse_args()
    if not 0 <= args.names_ema < 1:
        parser.error(f"--names-ema must be in [0, 1), got {args.names_ema}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load {os.getloadavg()}")
    if args.part in ("all", "recipe"):  # nanoGPT's documented CPU recipe, on this library's GPT
        shakespeare_run("recipe", GPTConfig.small(), batch_size=12, steps=2000, lr=1e-3, warmup=100)
    if args.part in ("all", "fast"):  # same model and step budget, a sharper schedule
        shakespeare_run("fast", GPTConfig.small(), batch_size=12, steps=2000, lr=3e-3, warmup=100)
    if args.part in ("all", "long"):  # about 10 minutes of one CPU core
        shakespeare_run("long", GPTConfig.small(context_len=128), batch_size=32, steps=1600, lr=3e-3,
                        warmup=100, eval_every=200)
    if args.part in ("all", "generate"):
        generation_speed()
    if args.part in ("all", "names"):
        names_run(args.names_steps, args.names_batch, args.names_lr, args.names_dropout, args.names_layers,
                  args.names_width, args.names_protocol, args.names_ema, args.names_seed)


if __name__ == "__main__":
    main()
