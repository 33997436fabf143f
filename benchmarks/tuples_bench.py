"""Benchmark of Family 2a (line-image tuples): images generated per second and training steps per second.

    .venv/bin/python benchmarks/tuples_bench.py            # everything (about a minute on 2 cores)
    .venv/bin/python benchmarks/tuples_bench.py --quick    # generator only
    python benchmarks/tuples_bench.py --presets tuple4-e2e-paper --device cuda   # run presets in-process
    .venv/bin/python benchmarks/tuples_bench.py --schedule  # what evaluation and the SNR cost on their schedule

The floor (issue 4): the vectorised generator makes at least 100x the images per second of the
original's per-sample Python loop (read_rect_data.py), reimplemented faithfully below without its
file writes. Timings are the best of a few repeats, since the machine is shared.
"""

from __future__ import annotations

import argparse
import time
from itertools import product

import numpy as np
import torch

from engine.config import build_config
from engine.families.tuples import TupleConfig
from engine.families.tuples.lines import SIZE, sample_tuples
from engine.families.tuples.trainer import TupleTrainer
from engine.worker import keep_freed_memory

FLOOR_RATIO = 100


def original_loop(n: int, k: int, rng: np.random.RandomState) -> None:
    """The original script's generator: one tuple, one image, one pixel at a time (numpy, float64)."""
    x = np.zeros((k, SIZE, SIZE), dtype=np.float32)
    y_sup = np.zeros(k, dtype=np.int32)
    for _ in range(n):
        x *= 0
        y = 0
        y_sup *= 0
        for j in range(k):
            theta = rng.uniform(0, np.pi)
            unit_vec = np.array([np.cos(theta), np.sin(theta)])
            y_sup[j] = 1.0 if theta < np.pi / 2 else -1.0
            y += 1.0 if theta < np.pi / 2 else 0.0
            center = SIZE * rng.uniform(0, 1, size=2)
            length = rng.uniform(5, SIZE - 5)
            for step in range(int(length // 2)):
                for sgn in (-1, 1):
                    pt = (center + sgn * unit_vec * step).astype(np.int32)
                    for dx, dy in product([0], repeat=2):
                        ptpt = pt + np.array([dx, dy])
                        if all((ptpt >= 0) * (ptpt < SIZE)):
                            x[j, ptpt[0], ptpt[1]] = 1
        y = -1 + 2 * np.mod(y, 2)


def best_rate(fn, units: int, seconds: float = 1.0, repeats: int = 3) -> float:
    """The best of `repeats` rates (units per second), each measured over about `seconds`."""
    fn()
    best = 0.0
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            fn()
            count += units
        best = max(best, count / (time.perf_counter() - start))
    return best


def bench_generator(threads: int) -> float:
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    rates = {}
    for batch, k in ((200, 4), (2000, 4), (10_000, 1)):
        rates[batch * k] = best_rate(lambda: sample_tuples(batch, k, gen, "cpu"), batch * k)
        print(f"  vectorised, {threads} thread(s), {batch * k:>6} images a call: {rates[batch * k]:>12,.0f} images/s")
    return min(rates.values())


def bench_original() -> float:
    rng = np.random.RandomState(0)  # the legacy global generator the original called
    rate = best_rate(lambda: original_loop(100, 4, rng), 400, seconds=2.0)
    print(f"  original per-sample loop:                 {rate:>12,.0f} images/s")
    return rate


def bench_training(threads: int, batch: int) -> None:
    torch.set_num_threads(threads)
    for k in (1, 2, 3, 4):
        cells = []
        for approach in ("e2e", "dec"):
            config = build_config(TupleConfig, {"k": k, "approach": approach, "batch": batch, "snr_every": 0})
            trainer = TupleTrainer(config, torch.device("cpu"), seed=0)
            rate = best_rate(lambda: trainer.train_step(1), 1, seconds=2.0, repeats=2)
            cells.append(f"{approach} {rate:6.1f} steps/s ({rate * batch * k:,.0f} images/s)")
        print(f"  k = {k}, batch {batch}, {threads} thread(s): " + "   ".join(cells))


def bench_schedule(preset: str, device: str) -> None:
    """The time of a training step, an evaluation and a gradient-SNR measurement of `preset`,
    and the share of the run that evaluation and diagnostics take on the preset's own schedule."""
    from engine.catalog import load_preset

    config = load_preset(preset).config({})
    torch_device = torch.device(device)
    trainer = TupleTrainer(config, torch_device, seed=0)

    def synced(fn):
        """fn, then a wait for the GPU's kernels: it runs them after the call returns, and without the
        wait the rate would be their launches'."""

        def call():
            fn()
            if torch_device.type == "cuda":
                torch.cuda.synchronize(torch_device)

        return call

    seconds = {
        "train step": 1 / best_rate(synced(lambda: trainer.train_step(1)), 1, seconds=3.0, repeats=2),
        "evaluation": 1 / best_rate(synced(lambda: trainer.evaluate(1)), 1, seconds=2.0, repeats=2),
        "gradient SNR": 1 / best_rate(synced(trainer.snr), 1, seconds=2.0, repeats=2),
    }
    every = {"evaluation": config.eval_every, "gradient SNR": config.snr_every}
    train = seconds["train step"]
    threads = f" ({torch.get_num_threads()} threads)" if torch_device.type == "cpu" else ""
    print(f"{preset} on {device}{threads}: one step {train * 1000:.0f} ms")
    for name, every_n in every.items():
        share = seconds[name] / (every_n * train) if every_n else 0.0
        print(f"  {name}: {seconds[name] * 1000:.0f} ms every {every_n} steps = {share:.1%} of the training time")


def run_presets(names: list[str], device: str, seed: int, assignments: list[str]) -> None:
    """Run presets through the engine's own loop in this process (no engine process, no UI packages:
    for a bare GPU machine) and print one JSON line per preset: last and best metrics, time, steps/s."""
    import json

    from engine.catalog import load_preset
    from engine.config import parse_assignments
    from engine.events import Metrics, Snapshot
    from engine.loop import Control, run_loop
    from engine.registry import get_family, load_trainer_class

    for name in names:
        preset = load_preset(name)
        spec = get_family(preset.family)
        config = preset.config(parse_assignments(assignments))
        torch_device = torch.device(device)
        if torch_device.type == "cpu" and spec.cpu_threads:
            torch.set_num_threads(spec.cpu_threads)
        trainer = load_trainer_class(spec)(config, torch_device, seed)
        last, best, tables, curve = {}, {}, {}, []
        every = max(1, config.steps // 20)  # about 20 points of the accuracy curve

        def emit(event) -> None:
            if isinstance(event, Metrics):
                for key, value in event.values.items():
                    last[key] = value
                    best[key] = max(best.get(key, value), value)
                if "test_acc" in event.values and event.step % every == 0:
                    curve.append(
                        (event.step, round(event.values["test_acc"], 3), round(event.values.get("image_acc", 0), 3))
                    )
                    print(
                        json.dumps(
                            {
                                "preset": name,
                                "step": event.step,
                                "test_acc": curve[-1][1],
                                "image_acc": curve[-1][2],
                                "t": round(event.t, 1),
                            }
                        ),
                        flush=True,
                    )
            elif isinstance(event, Snapshot) and event.kind == "table":
                tables[event.name] = event.data["rows"]

        started = time.perf_counter()
        finished = run_loop(trainer, config, name, emit, Control(), started)
        wall = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "preset": name,
                    "overrides": assignments,
                    "status": finished.status,
                    "steps": finished.step,
                    "wall_s": round(wall, 1),
                    "steps_per_s": round(finished.step / wall, 2),
                    "device": device,
                    "last": last,
                    "best": {k: v for k, v in best.items() if k in ("test_acc", "image_acc")},
                    "curve": curve,
                    "tables": tables,
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the generator only")
    parser.add_argument("--presets", nargs="*", help="instead: run these presets in-process and report them")
    parser.add_argument(
        "--schedule",
        action="store_true",
        help="instead: the cost of evaluation and the SNR on tuple4-e2e-paper's schedule",
    )
    parser.add_argument("--device", default="cpu", help="device for --presets")
    parser.add_argument("--seed", type=int, default=0, help="seed for --presets")
    parser.add_argument("--set", action="append", default=[], help="key=value override for --presets")
    args = parser.parse_args()
    keep_freed_memory()  # as the engine process does
    if args.presets:
        run_presets(args.presets, args.device, args.seed, args.set)
        return
    if args.schedule:
        bench_schedule("tuple4-e2e-paper", args.device)
        return
    print("Line-image generator (28x28 images):")
    original = bench_original()
    vectorised = max(bench_generator(1), bench_generator(2))
    ratio = vectorised / original
    verdict = "meets" if ratio >= FLOOR_RATIO else "MISSES"
    print(f"  slowest vectorised case / original = {ratio:,.0f}x ({verdict} the {FLOOR_RATIO}x floor)")
    if args.quick:
        return
    print("Training (TF1 Adam, micro-batched forward/backward on the CPU):")
    for threads in (1, 2):
        for batch in (50, 200):
            bench_training(threads, batch)


if __name__ == "__main__":
    main()
