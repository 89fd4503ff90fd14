"""Benchmark the library GPT on a CPU: Shakespeare (nanoGPT's char-level set-up) and makemore's names.

Not a test: it prints figures. Data come from ../shared/data relative to the repository root
(tinyshakespeare.txt, names.txt); a part whose file is absent is skipped with a message.

    python bench/bench_gpt.py                      # every part
    python bench/bench_gpt.py --part recipe        # nanoGPT's CPU recipe, on our GPT
    python bench/bench_gpt.py --part fast          # our recipe for nanoGPT's time budget
    python bench/bench_gpt.py --part long          # our recipe for a 10-minute budget
    python bench/bench_gpt.py --part generate      # tokens/s with and without the KV cache
    python bench/bench_gpt.py --part profile       # where a training step's time goes (torch.profiler)
    python bench/bench_gpt.py --part names         # test NLL on makemore's names.txt (~35 CPU-minutes)
    python bench/bench_gpt.py --part names --names-protocol distinct   # no test name seen in training

Clocks: "wall" is elapsed time, "cpu" the process's CPU time. On a machine shared with other
jobs the wall clock measures the neighbours too, so both are printed, with the load average;
evaluation time is left out of the training clock. `--threads 1` avoids the slowdown that
OpenMP threads suffer on a busy machine (then cpu time ~ what one quiet core would take).
Every part adds rows to one table printed at the end: ms per step (or per generated token),
tokens/s, the part's end-to-end wall time (data, model, training and every evaluation),
threads and load average, to set beside a nanoGPT run on the same machine.
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
from arcourse.training import _adamw
from arcourse.decoding import generate
from arcourse.models import GPT, GPTConfig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EVAL_WINDOWS = 512  # the fixed validation sample: evenly spaced windows of the held-out text
ROWS: list[dict] = []  # one per measurement, printed together by `print_table`


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_table() -> None:
    """The one table of every part run: speed, end-to-end wall, threads and machine load."""
    if not ROWS:
        return
    print(f"\n{'run':<48} {'ms/step':>8} {'cpu ms':>7} {'tokens/s':>9} {'wall s':>7} {'val loss':>8} "
          f"{'threads':>7}  load (1, 5, 15 min)")
    for r in ROWS:
        loss = f"{r['val_loss']:.4f}" if "val_loss" in r else ""
        cpu = f"{r['cpu_ms']:.1f}" if "cpu_ms" in r else ""
        print(f"{r['run']:<48} {r['ms']:8.1f} {cpu:>7} {r['tokens_per_s']:9,.0f} {r['wall']:7.1f} {loss:>8} "
              f"{torch.get_num_threads():7d}  {r['load']}")


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
    return _adamw(groups, lr=lr, betas=(0.9, 0.99))


def fixed_windows(ids: torch.Tensor, context_len: int, count: int | None = None, batch_size: int = 512
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) batches of windows of `ids`: `count` evenly spaced ones (a fixed,
    stratified sample: every evaluation scores the same text, so successive estimates differ
    by what the model learned, not by which windows were drawn), or, with count=None, every
    non-overlapping window (the whole stream scored once: the exact loss)."""
    last = len(ids) - context_len - 1
    starts = (torch.arange(0, last + 1, context_len) if count is None
              else torch.linspace(0, last, count).round().long())
    windows = ids[starts[:, None] + torch.arange(context_len + 1)]  # (n, T + 1)
    return [(w[:, :-1], w[:, 1:]) for w in windows.split(batch_size)]


def shakespeare_run(name: str, config: GPTConfig, *, batch_size: int, steps: int, lr: float,
                    warmup: int, weight_decay: float = 0.1, eval_every: int = 250, seed: int = 1337) -> dict:
    data = load_shakespeare()
    if data is None:
        print(f"[{name}] skipped: {DATA / 'tinyshakespeare.txt'} is absent")
        return {}
    part_start = time.perf_counter()
    tok, train_ids, val_ids = data
    config = dataclasses.replace(config, vocab_size=tok.vocab_size)
    seed_everything(seed)
    model = GPT(config)
    val = fixed_windows(val_ids, config.context_len, EVAL_WINDOWS)
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
    end_to_end = time.perf_counter() - part_start
    ROWS.append(dict(run=f"{name}: train {steps} steps", ms=1000 * wall / steps, cpu_ms=1000 * cpu / steps,
                     tokens_per_s=history.tokens / wall, wall=end_to_end, val_loss=history.eval_loss[-1],
                     load=_load()))
    # outside the end-to-end wall: the fixed sample against the whole held-out text
    exact = evaluate(model, fixed_windows(val_ids, config.context_len))
    draw = text_batches(val_ids, config.context_len, 12, seed=seed)
    nano = [evaluate(model, [draw()]) for _ in range(20)]  # nanoGPT's estimate: 20 random batches of 12
    mean = sum(nano) / len(nano)
    spread = (sum((x - mean) ** 2 for x in nano) / (len(nano) - 1) / len(nano)) ** 0.5
    print(f"  val loss estimate: fixed {EVAL_WINDOWS} windows {history.eval_loss[-1]:.4f}; whole held-out "
          f"text {exact:.4f} (difference {history.eval_loss[-1] - exact:+.4f}); nanoGPT-style 20 random "
          f"batches of 12: {mean:.4f} +- {spread:.4f} (standard error)")
    return {"val_loss": history.eval_loss[-1], "wall": wall, "cpu": cpu, "end_to_end": end_to_end}


def generation_speed(new_tokens: int = 500, seed: int = 0) -> None:
    """Tokens/s of `generate` with and without the KV cache at the nanoGPT CPU recipe's size.

    use_cache=False is nanoGPT's sample.py: a full pass over the last context_len tokens per
    new token. With block 64 (the recipe's model) the cache fills after 64 tokens and each
    later step reads the sliding window afresh (positions are absolute; only the top layer
    is spared all but the last position), so the cache pays most with a context that holds
    the whole continuation (the second model), where each step reads one position.
    """
    prompt = torch.zeros(1, 1, dtype=torch.long)
    print(f"\n[generate] {new_tokens} new tokens from a 1-token prompt, load {_load()}")
    for context_len in (64, new_tokens + 12):
        seed_everything(seed)
        model = GPT(GPTConfig.small(vocab_size=65, context_len=context_len, bias=False)).eval()
        times, outs = {}, {}
        for use_cache in (False, True):
            generate(model, prompt, 8, use_cache=use_cache)  # warm-up: first-call allocations
            start = time.perf_counter()
            outs[use_cache] = generate(model, prompt, new_tokens, generator=make_generator(seed),
                                       use_cache=use_cache)
            times[use_cache] = time.perf_counter() - start
            how = "KV cache" if use_cache else "recompute (nanoGPT sample.py)"
            ROWS.append(dict(run=f"generate, block {context_len}, {how}", ms=1000 * times[use_cache] / new_tokens,
                             tokens_per_s=new_tokens / times[use_cache], wall=times[use_cache], load=_load()))
        assert torch.equal(outs[True], outs[False]), "cached and uncached generation differ"
        print(f"  block {context_len}: recompute {new_tokens / times[False]:6.0f} tokens/s, KV cache "
              f"{new_tokens / times[True]:6.0f} tokens/s ({times[False] / times[True]:.1f}x, same tokens: asserted)")


def profile_steps(steps: int = 20, warmup: int = 5, rows: int = 15) -> None:
    """Where a training step of the recipe goes: torch.profiler's top operators by own CPU time."""
    from torch.profiler import ProfilerActivity, profile

    data = load_shakespeare()
    if data is None:
        print(f"[profile] skipped: {DATA / 'tinyshakespeare.txt'} is absent")
        return
    tok, train_ids, _ = data
    seed_everything(0)
    model = GPT(GPTConfig.small(vocab_size=tok.vocab_size, bias=False))
    optimizer = adamw(model, 1e-3, 0.1)
    batches = text_batches(train_ids, model.context_len, 12, seed=0)
    train(model, batches, warmup, optimizer=optimizer, progress=False)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        train(model, batches, steps, optimizer=optimizer, progress=False)
        wall = time.perf_counter() - start
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\n[profile] {steps} recipe steps, {1000 * wall / steps:.1f} ms/step under the profiler, "
          f"load {_load()}; operators by own CPU time:")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
        print(f"  {e.key:<44} {100 * e.self_cpu_time_total / total:5.1f} %  {e.count / steps:6.1f} calls/step")


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
    parser.add_argument("--part", default="all",
                        choices=["all", "recipe", "fast", "long", "generate", "profile", "names"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of the recipe and fast parts")
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
    if args.part in ("all", "recipe"):  # nanoGPT's documented CPU recipe (no biases), on this library's GPT
        shakespeare_run("recipe", GPTConfig.small(bias=False), batch_size=12, steps=args.steps, lr=1e-3, warmup=100)
    if args.part in ("all", "fast"):  # same model and step budget, a sharper schedule
        shakespeare_run("fast", GPTConfig.small(bias=False), batch_size=12, steps=args.steps, lr=3e-3, warmup=100)
    if args.part in ("all", "long"):  # about 10 minutes of one CPU core
        shakespeare_run("long", GPTConfig.small(context_len=128), batch_size=32, steps=1600, lr=3e-3,
                        warmup=100, eval_every=200)
    if args.part in ("all", "generate"):
        generation_speed()
    if args.part in ("all", "profile"):
        profile_steps()
    if args.part in ("all", "names"):
        names_run(args.names_steps, args.names_batch, args.names_lr, args.names_dropout, args.names_layers,
                  args.names_width, args.names_protocol, args.names_ema, args.names_seed)
    print_table()


if __name__ == "__main__":
    main()
