"""How fast `gradfail sweep` goes, measured as a person runs it: whole `gradfail sweep` processes.

    python benchmarks/sweep_bench.py            # every figure, about 5 minutes on a 2-core machine
    python benchmarks/sweep_bench.py --quick    # smaller sweeps
    python benchmarks/sweep_bench.py --no-ray   # leave out the Ray comparison
    python benchmarks/sweep_bench.py --presets  # only: runs per minute of every shipped sweep preset
    python benchmarks/sweep_bench.py --pool 3   # only: 2 engines against 1, three times

Prints:
- every shipped sweep preset at its default scale (phase-parity, phase-stocks, ...): wall time and runs
  per minute, on the default pool (as many engines as the cores allow);
- the local pool with 2 engines against 1, on a sweep of independent runs (seeds as separate runs of
  about 2 s each: with runs much shorter, the engines' start, mostly torch's import, is most of the
  sweep), and how long a run trained with one engine and with two side by side (from the run records:
  what the machine itself gives up when both cores train);
- seeds as lanes of one model against seeds as separate runs (2 engines each);
- Ray (a local Ray with 2 CPUs) against the local pool on the same sweep: the sweep's own wall time
  (sweep.json) and the whole command's, which includes starting Ray;
- the driver's memory (RSS) and CPU while a sweep of a few hundred short runs goes, sampled from
  /proc: bounded, not growing with the number of runs.
The sweep's wall time is sweep.json's (from the first batch to the last run's end). Timings on a
shared machine are noisy: the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def sweep(cwd: Path, name: str, *args: str, sample: bool = False) -> dict:
    """Run `gradfail sweep ... --out name`; returns sweep.json's figures, the command's wall time and,
    with `sample`, the driver's RSS (MB) and CPU seconds every half second."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradfail_tui", "sweep", *args, "--out", name],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples = []
    while proc.poll() is None:
        if sample:
            samples.append((time.perf_counter() - start, *driver_usage(proc.pid), runs_ended(cwd / name)))
        time.sleep(0.5)
    command_s = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"gradfail sweep {' '.join(args)} exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    manifest = json.loads((cwd / name / "sweep.json").read_text())
    runs = len(manifest["runs"])
    training = [run_seconds(cwd / name / r["dir"]) for r in manifest["runs"] if r["dir"]]
    return {
        "wall_s": manifest["wall_s"],
        "command_s": command_s,
        "runs": runs,
        "samples": samples,
        "run_s": sum(training) / len(training),
    }


def run_seconds(run_dir: Path) -> float:
    """How long the run trained: its last event's time (events count from the run's start)."""
    with (run_dir / "events.jsonl").open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
        return json.loads(f.read().splitlines()[-1])["t"]


def driver_usage(pid: int) -> tuple[float, float]:
    """The process's resident memory in MB and its CPU seconds so far (user + system)."""
    try:
        rss = next(
            int(line.split()[1]) / 1024
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, StopIteration, IndexError):
        return (0.0, 0.0)
    return (rss, cpu)


def runs_ended(path: Path) -> int:
    try:
        manifest = json.loads((path / "sweep.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(1 for r in manifest["runs"] if r["status"] in ("completed", "failed", "diverged"))


def shipped_sweeps() -> list[str]:
    """The shipped sweep presets' names (`gradfail presets` marks them 'sweep')."""
    sys.path.insert(0, str(ROOT))
    from engine.catalog import scan

    return sorted(entry.name for entry in scan().sweeps)


def per_min(result: dict) -> float:
    return result["runs"] / result["wall_s"] * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sweeps")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray comparison")
    parser.add_argument("--presets", action="store_true", help="only the shipped sweep presets' runs per minute")
    parser.add_argument("--pool", type=int, metavar="N", help="only 2 engines against 1, N times")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (a shared machine: other work slows these figures)")
    steps = "1000" if args.quick else "3000"
    long_steps = "3000" if args.quick else "20000"  # runs of about 2 s each on this machine
    independent = ["--family", "parity", "--grid", "d=4:16:4", "--seeds", "4", "--steps", long_steps, "--no-lanes"]

    with tempfile.TemporaryDirectory(prefix="gradfail-sweep-bench-") as tmp:
        cwd = Path(tmp)
        if not args.quick and not args.pool:
            for name in shipped_sweeps():
                r = sweep(cwd, name, "--preset", name)
                print(f"{name} (default scale): {r['runs']} runs in {r['wall_s']:.1f} s, {per_min(r):.0f} runs/min")
        if args.presets:
            return
        for attempt in range(args.pool or 1):
            one = sweep(cwd, f"one-{attempt}", *independent, "--workers", "1")
            two = sweep(cwd, f"two-{attempt}", *independent, "--workers", "2")
            print(
                f"local pool, {two['runs']} independent runs: 1 engine {one['wall_s']:.1f} s, 2 engines "
                f"{two['wall_s']:.1f} s -> {one['wall_s'] / two['wall_s']:.2f}x; a run trained {one['run_s']:.2f} s "
                f"alone, {two['run_s']:.2f} s beside another ({two['run_s'] / one['run_s'] - 1:+.0%})"
            )
        if args.pool:
            return

        lanes_grid = ["--family", "parity", "--grid", "d=4:16:4", "--seeds", "8", "--steps", steps, "--workers", "2"]
        lanes = sweep(cwd, "lanes", *lanes_grid)
        apart = sweep(cwd, "apart", *lanes_grid, "--no-lanes")
        print(
            f"{lanes['runs']} runs, 8 seeds a cell: as lanes {lanes['wall_s']:.1f} s, as separate runs "
            f"{apart['wall_s']:.1f} s -> lanes {apart['wall_s'] / lanes['wall_s']:.2f}x faster"
        )

        if not args.no_ray:
            if importlib.util.find_spec("ray") is None:
                print("Ray: not installed (pip install -e '.[ray]'); left out")
            else:
                # Enough runs that the actors' start (a Ray worker process importing torch) is not all there is.
                ray_grid = (
                    independent
                    if args.quick
                    else [*independent[:2], "--grid", "d=4:16:2", "--seeds", "6", *independent[6:]]
                )
                pool = two if args.quick else sweep(cwd, "pool", *ray_grid, "--workers", "2")
                on_ray = sweep(cwd, "ray", *ray_grid, "--workers", "2", "--ray")
                overhead = on_ray["wall_s"] / pool["wall_s"] - 1
                print(
                    f"Ray (local, 2 CPUs) against the local pool (2 engines), {on_ray['runs']} runs: sweep "
                    f"{on_ray['wall_s']:.1f} s against {pool['wall_s']:.1f} s ({overhead:+.0%}); whole command "
                    f"{on_ray['command_s']:.1f} s against {pool['command_s']:.1f} s (Ray's start included)"
                )

        many = "150" if args.quick else "400"
        big = sweep(
            cwd, "many", "--family", "parity", "--grid", f"d=1:{many}", "--set", "width_mult=1",
            "--steps", "20", "--set", "eval_every=10", "--workers", "2", sample=True,
        )  # fmt: skip
        samples = [s for s in big["samples"] if s[1] > 0]
        print(f"driver over {big['runs']} short runs ({big['wall_s']:.1f} s, {per_min(big):.0f} runs/min):")
        for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
            t, rss, cpu, ended = samples[min(len(samples) - 1, int(fraction * (len(samples) - 1)))]
            print(
                f"  at {t:5.1f} s: {ended:4d} runs ended, RSS {rss:6.1f} MB, CPU {cpu:5.1f} s ({cpu / t:.0%} of one core)"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
