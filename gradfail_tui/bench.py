"""`gradfail bench`: how fast the engine trains, against the straightforward loop, as whole processes.

Every workload is timed as a person would time it: a fresh process each (Python start and torch
import included), the engine as `gradfail run ... --steps N`, the baselines as
`python -m engine.baselines parity|tuples --steps N` (nn.Module, torch.optim, backward every step,
fresh data every step), interleaved so both see the same machine. The engine's own figures
(training steps/s, threads, torch version, peak memory) come from its run record and /proc; its
arithmetic is reported against the machine's measured matrix-multiply rate. Nothing here imports torch.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.events import RunStarted, from_dict


# FLOPs of one parity step with batch n, input d, hidden h: forward 2n(dh + h); backward the weight
# gradients of both layers (as much again) and the hidden layer's input gradient (2nh).
def parity_flops(d: int, batch: int = 128, width_mult: int = 10) -> float:
    h = width_mult * d
    return 4 * batch * (d * h + h) + 2 * batch * h


# FLOPs of one tuple step (engine.families.tuples.model): per image, N1's forward is conv1
# (28x28 outputs x 16 channels x 25 taps), conv2 (14x14 x 16 x 16 x 25), 784 -> 50 -> 100 -> 1;
# backward, every layer's weight gradient (as much again) and every input gradient but conv1's (its
# input is the image). N2 (k -> 100 -> 1 per tuple) is negligible and left out.
def tuple_flops(k: int = 4, batch: int = 200) -> float:
    conv1, conv2 = 2 * 28 * 28 * 16 * 25, 2 * 14 * 14 * 16 * 16 * 25
    dense = 2 * (784 * 50 + 50 * 100 + 100)
    forward = conv1 + conv2 + dense
    return batch * k * (forward + forward + (forward - conv1))


@dataclass
class Timed:
    wall_s: float
    steps: int
    lanes: int = 1
    train_steps_per_s: float | None = None  # inside the process, start-up excluded
    peak_rss_mb: dict[str, float] | None = None
    threads: str = "?"  # the torch threads it trained on ("-" on a GPU)
    device: str = "?"
    torch: str = "?"

    @property
    def steps_per_s(self) -> float:
        return self.lanes * self.steps / self.wall_s


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def time_process(cmd: list[str], steps: int, lanes: int = 1) -> tuple[Timed, str]:
    """Run `cmd` to its end, sampling the memory of it and its children; return the timing and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"parent": 0.0, "engine": 0.0}
    while proc.poll() is None:
        peak["parent"] = max(peak["parent"], _rss_mb(proc.pid))
        for child in _children(proc.pid):
            peak["engine"] = max(peak["engine"], _rss_mb(child))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        # Its last line says what went wrong: the message of a refusal, or the exception of a crash.
        last = ((err or out).strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{' '.join(cmd[1:4])} ... exited {proc.returncode}: {last}")
    return Timed(wall_s=wall, steps=steps, lanes=lanes, peak_rss_mb=peak), out


def engine_run(preset: str, steps: int, device: str, seeds: int = 1) -> Timed:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "gradfail_tui",
            "run",
            "--preset",
            preset,
            "--steps",
            str(steps),
            "--device",
            device,
            "--out",
            str(out),
        ] + (["--seeds", str(seeds)] if seeds > 1 else [])
        timed, _ = time_process(cmd, steps, seeds)
        record = out if seeds == 1 else out / "seed-0"
        first_t = last_t = 0.0
        for line in (record / "events.jsonl").read_text().splitlines():
            event = json.loads(line)
            last_t = max(last_t, event.get("t", 0.0))
            if event.get("type") == RunStarted.TYPE:
                started = from_dict(event)
                first_t = started.t  # the model is built and on its device: the baseline's timer starts here too
                timed.threads = str(started.cpu_threads or "-")
                timed.device, timed.torch = started.device_name, started.versions.get("torch", "?")
        timed.train_steps_per_s = seeds * steps / (last_t - first_t) if last_t > first_t else None
    return timed


def baseline_run(what: list[str], steps: int) -> Timed:
    timed, out = time_process([sys.executable, "-m", "engine.baselines", *what, "--steps", str(steps)], steps)
    result = json.loads(out.strip().splitlines()[-1])
    timed.train_steps_per_s = result["steps_per_s"]
    timed.threads, timed.torch = str(result["threads"]), result["torch"]
    timed.device = result.get("device", "?")
    return timed


def matmul_gflops(device: str, threads: int) -> float:
    _, out = time_process(
        [sys.executable, "-m", "engine.baselines", "matmul", "--threads", str(threads), "--device", device], 0
    )
    return json.loads(out.strip().splitlines()[-1])["gflops"]


@dataclass
class Workload:
    label: str
    time_once: Callable[[], Timed]
    flops: float  # per step of one lane
    baseline: str  # the name of the workload it is compared with
    results: list[Timed] = field(default_factory=list)

    def median(self, attr: str) -> float:
        values = [getattr(t, attr) for t in self.results if getattr(t, attr) is not None]
        return statistics.median(values) if values else float("nan")


def baseline_device(device: str) -> str:
    """Where the baselines run: the engine's device kind ("cuda" for any "cuda:N")."""
    return "cuda" if device.startswith("cuda") else "cpu"


def workloads(steps: int, tuple_steps: int, seeds: int, device: str) -> dict[str, Workload]:
    """What `gradfail bench` times, each engine workload after the baselines it is compared with."""
    base_device = baseline_device(device)

    def baselines(key: str, label: str, what: list[str], n: int, flops: float) -> dict[str, Workload]:
        """The baseline loop on torch's default threads, and on a CPU on one thread as well (on a GPU the
        size of torch's CPU thread pool does not change the training step)."""
        cmd = [*what, "--device", base_device]
        chosen = {
            key: Workload(f"{label}: baseline loop (torch's default threads)", lambda: baseline_run(cmd, n), flops, key)
        }
        if base_device == "cpu":
            chosen[key + "1"] = Workload(
                f"{label}: baseline loop (1 thread)", lambda: baseline_run([*cmd, "--threads", "1"], n), flops, key
            )
        return chosen

    parity = parity_flops(30)
    chosen = baselines("baseline", "parity30", ["parity"], steps, parity)
    chosen["engine"] = Workload(
        "gradfail run --preset parity30", lambda: engine_run("parity30", steps, device), parity, "baseline"
    )
    chosen["seeds"] = Workload(
        f"  ... --seeds {seeds} (seed-steps/s)",
        lambda: engine_run("parity30", steps, device, seeds),
        parity,
        "baseline",
    )
    if tuple_steps:
        tuples = tuple_flops(4, 200)
        chosen |= baselines("tuples_baseline", "tuples k=4", ["tuples", "--k", "4"], tuple_steps, tuples)
        chosen["tuples"] = Workload(
            "gradfail run --preset tuple4-e2e-paper",
            lambda: engine_run("tuple4-e2e-paper", tuple_steps, device),
            tuples,
            "tuples_baseline",
        )
    return chosen


def run_bench(console: Console, steps: int, reps: int, seeds: int, device: str, tuple_steps: int) -> None:
    console.print(
        f"Timing parity30 for {steps:,} steps"
        + (f" and tuples (k = 4, batch 200) for {tuple_steps:,}" if tuple_steps else "")
        + f", {reps} interleaved repetition(s), on {device} "
        "(whole processes: Python start and torch import included)..."
    )
    chosen = workloads(steps, tuple_steps, seeds, device)
    for rep in range(reps):
        for work in chosen.values():
            work.results.append(work.time_once())
        console.print(
            f"  repetition {rep + 1}: " + ", ".join(_rep_cell(name, work, chosen) for name, work in chosen.items()),
            soft_wrap=True,
        )  # one line a repetition, whatever the width: easy to read back from a log
    base_device = baseline_device(device)
    # The physical limit: the matrix-multiply rate on the threads each workload trained on.
    rate_key = lambda timed: timed.threads if base_device == "cpu" else "the GPU"  # noqa: E731
    rates: dict[str, float] = {}
    for work in chosen.values():
        key = rate_key(work.results[-1])
        if key not in rates:
            rates[key] = matmul_gflops(base_device, int(key) if key.isdigit() else 0)

    columns = (
        "steps/s",
        "ms/step",
        "baseline",
        "vs baseline",
        "in loop",
        "MFLOP/step",
        "of matmul",
        "threads",
        "RSS MB",
    )
    rows = []
    for work in chosen.values():
        rate, in_loop = work.median("steps_per_s"), work.median("train_steps_per_s")
        base = chosen[work.baseline].median("steps_per_s")
        last = work.results[-1]
        rss = last.peak_rss_mb or {}
        memory = f"{rss['engine']:.0f} + {rss['parent']:.0f}" if rss.get("engine") else f"{rss.get('parent', 0):.0f}"
        rows.append(
            (
                work.label,
                _rate(rate),
                f"{1000 / rate:.3f}",
                _rate(base),
                f"{rate / base:.2f}x",
                _rate(in_loop),
                f"{work.flops / 1e6:,.2f}",
                f"{in_loop * work.flops / (rates[rate_key(last)] * 1e9):.1%}",
                last.threads,
                memory,
            )
        )
    if console.width >= 130:
        table = Table(title=f"gradfail bench on {device}", title_justify="left")
        table.add_column("workload", no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    else:  # a narrow terminal or a log: the same figures, one workload per paragraph, never squeezed away
        console.print(f"[bold]gradfail bench on {device}[/]")
        for label, *values in rows:
            console.print(
                f"[bold]{label}[/]\n  " + "  ".join(f"{c}: {v}" for c, v in zip(columns, values)), highlight=False
            )
    engine = chosen["engine"].results[-1]
    console.print(
        f"steps/s, ms/step and 'vs baseline': steps over the whole process's wall time, the median of {reps} "
        f"({steps:,} parity steps" + (f", {tuple_steps:,} tuple steps" if tuple_steps else "") + "); baseline: the "
        "steps/s of the loop it is compared with; in loop: steps/s of training alone, from the model built on its "
        "device to the end (evaluation and diagnostics on their schedules included); of matmul: the in-loop FLOP "
        "rate against the matrix-multiply rate measured on the same threads. One parity30 step is "
        f"{parity_flops(30) / 1e6:.2f} MFLOP"
        + (f", one tuple step (k = 4, batch 200) {tuple_flops() / 1e3**3:.2f} GFLOP" if tuple_steps else "")
        + "; matmul rate measured here: "
        + ", ".join(
            f"{gflops:.1f} GFLOP/s on {'one thread' if t == '1' else t + ' threads' if t.isdigit() else t}"
            for t, gflops in rates.items()
        )
        + ". RSS: engine + parent (the parent never imports torch). "
        f"Engine device: {engine.device}; torch {engine.torch}, Python {platform.python_version()}."
    )


def _rep_cell(name: str, work: Workload, chosen: dict[str, Workload]) -> str:
    """One workload's wall time in the repetition just timed, with its ratio to its baseline in that
    repetition: the spread of these ratios shows how far the machine's noise moves the median."""
    timed, base = work.results[-1], chosen[work.baseline].results[-1]
    ratio = "" if work.baseline == name else f" ({timed.steps_per_s / base.steps_per_s:.2f}x)"
    return f"{name} {timed.wall_s:.1f} s{ratio}"


def _rate(steps_per_s: float) -> str:
    """Steps/s as the table shows them: one decimal below 100 (the tuple CNN's 5.4), none above."""
    return f"{steps_per_s:,.1f}" if steps_per_s < 100 else f"{steps_per_s:,.0f}"
