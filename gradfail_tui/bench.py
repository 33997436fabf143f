"""`gradfail bench`: how fast the engine trains, against the straightforward loop, as whole processes.

Every workload is timed as a person would time it: a fresh process each (Python start and torch
import included), the engine as `gradfail run ... --steps N`, the baseline as
`python -m engine.baselines parity --steps N` (nn.Sequential, torch.optim.SGD, backward every
step), interleaved so both see the same machine. The engine's own figures (training steps/s,
peak memory) come from its run record and /proc. Nothing here imports torch.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# FLOPs of one parity step with batch n, input d, hidden h: forward 2n(dh + h); backward the weight
# gradients of both layers (as much again) and the hidden layer's input gradient (2nh).
def parity_flops(d: int, batch: int = 128, width_mult: int = 10) -> float:
    h = width_mult * d
    return 4 * batch * (d * h + h) + 2 * batch * h


@dataclass
class Timed:
    wall_s: float
    steps: int
    lanes: int = 1
    train_steps_per_s: float | None = None  # inside the process, start-up excluded
    peak_rss_mb: dict[str, float] | None = None

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
        raise RuntimeError(f"{' '.join(cmd[1:4])} ... exited {proc.returncode}: {(err or out).strip()[-300:]}")
    return Timed(wall_s=wall, steps=steps, lanes=lanes, peak_rss_mb=peak), out


def engine_run(preset: str, steps: int, device: str, seeds: int = 1) -> Timed:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "gradfail_tui.cli", "run", "--preset", preset, "--steps", str(steps),
               "--device", device, "--out", str(out)] + (["--seeds", str(seeds)] if seeds > 1 else [])
        timed, _ = time_process(cmd, steps, seeds)
        record = out if seeds == 1 else out / "seed-0"
        last_t = 0.0
        for line in (record / "events.jsonl").read_text().splitlines():
            last_t = max(last_t, json.loads(line).get("t", 0.0))
        timed.train_steps_per_s = seeds * steps / last_t if last_t else None
    return timed


def baseline_run(what: list[str], steps: int) -> Timed:
    timed, out = time_process([sys.executable, "-m", "engine.baselines", *what, "--steps", str(steps)], steps)
    timed.train_steps_per_s = json.loads(out.strip().splitlines()[-1])["steps_per_s"]
    return timed


def matmul_gflops(device: str, threads: int) -> float:
    _, out = time_process([sys.executable, "-m", "engine.baselines", "matmul", "--threads", str(threads),
                           "--device", device], 0)
    return json.loads(out.strip().splitlines()[-1])["gflops"]


def run_bench(console: Console, steps: int, reps: int, seeds: int, device: str) -> None:
    console.print(f"Timing parity30 for {steps:,} steps, {reps} interleaved repetition(s), on {device} "
                  "(whole processes: Python start and torch import included)...")
    baseline_device = "cuda" if device.startswith("cuda") else "cpu"
    workloads = {  # name -> (label, how to time it once)
        "baseline": ("baseline loop (torch's default threads)",
                     lambda: baseline_run(["parity", "--device", baseline_device], steps)),
        "baseline1": ("baseline loop (1 thread)",
                      lambda: baseline_run(["parity", "--device", baseline_device, "--threads", "1"], steps)),
        "engine": ("gradfail run --preset parity30", lambda: engine_run("parity30", steps, device)),
        "seeds": (f"  ... --seeds {seeds} (seed-steps/s)", lambda: engine_run("parity30", steps, device, seeds)),
    }
    results: dict[str, list[Timed]] = {name: [] for name in workloads}
    for rep in range(reps):
        for name, (_, timed) in workloads.items():
            results[name].append(timed())
        console.print(f"  repetition {rep + 1}: " + ", ".join(
            f"{name} {results[name][-1].wall_s:.1f} s" for name in workloads))
    gflops = matmul_gflops(baseline_device, threads=1)
    flops = parity_flops(30)

    def median(name: str, attr: str) -> float:
        return statistics.median(getattr(t, attr) for t in results[name])

    base = median("baseline", "steps_per_s")
    table = Table(title=f"gradfail bench: parity30, {device}", title_justify="left")
    for column in ("workload", "steps/s", "ms/step", "vs baseline", "in-loop steps/s", "of matmul peak", "RSS MB"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    for name, (label, _) in workloads.items():
        rate = median(name, "steps_per_s")
        in_loop = median(name, "train_steps_per_s")
        rss = results[name][-1].peak_rss_mb or {}
        memory = f"{rss['engine']:.0f} + {rss['parent']:.0f}" if rss.get("engine") else f"{rss.get('parent', 0):.0f}"
        table.add_row(label, f"{rate:,.0f}", f"{1000 / rate:.3f}", f"{rate / base:.2f}x", f"{in_loop:,.0f}",
                      f"{in_loop * flops / (gflops * 1e9):.1%}", memory)
    console.print(table)
    console.print(f"steps/s, ms/step and 'vs baseline': {steps:,} steps over the whole process's wall time, the median "
                  f"of {reps}; in-loop: training alone. One parity30 step is {flops / 1e6:.2f} MFLOP; the matmul peak "
                  f"is {gflops:.1f} GFLOP/s on one thread. RSS: engine + parent (the parent never imports torch). "
                  f"Engine threads: 1 on the CPU (parity's setting); {_versions()}.")


def _versions() -> str:
    out = subprocess.run([sys.executable, "-c", "import torch, platform; print(torch.__version__, platform.python_version())"],
                         capture_output=True, text=True).stdout.split()
    return f"torch {out[0]}, Python {out[1]}" if len(out) == 2 else "torch version unknown"
