"""How fast the explorer is, measured the way a person meets it: in a terminal (a pseudo-terminal).

    python benchmarks/tui_bench.py            # all figures, a few minutes on a 2-core machine
    python benchmarks/tui_bench.py --quick    # one repetition of each, shorter runs

Prints:
- time to first frame: from starting `gradfail-tui` until its first screen has been written
  (the engine is still importing torch then), and until the engine is ready;
- the UI process's CPU while idle, and while a run trains and its plots are on screen;
- redraws a second while a run trains (frames the app wrote to the terminal);
- training steps/s of the same preset with the TUI attached and headless (`gradfail run`),
  from the run records' own event times (the same computation for both).
Timings on a shared machine are noisy: the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAME_END = b"\x1b[?2026l"  # the end of a synchronized update: Textual writes one per frame
SYNC_QUERY, SYNC_REPLY = b"\x1b[?2026$p", b"\x1b[?2026;2$y"  # "is synchronized output supported?" "yes"
TICKS = os.sysconf("SC_CLK_TCK")


class Terminal:
    """A program in a pseudo-terminal of a given size; its output is drained (and scanned) by a thread."""

    def __init__(self, argv: list[str], cwd: Path, size=(120, 36), env: dict | None = None):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.started = time.perf_counter()

        def controlling_terminal() -> None:
            # As a real terminal: the pty is the session's controlling terminal, so closing it sends
            # SIGHUP (and the app ends) even if this script dies first.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", **(env or {})},
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.output = bytearray()
        self.frames: list[float] = []  # when each frame ended
        self.seen: dict[bytes, float] = {}
        self.watch_for: list[bytes] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            if SYNC_QUERY in chunk:
                # Answer as a modern terminal does: synchronized output is supported. Textual then
                # brackets each frame, which is how frames are counted here.
                os.write(self.master, SYNC_REPLY)
            with self._lock:
                # A marker split between two reads is counted once: the carried-over prefix is
                # too short to hold a whole one.
                joined = bytes(self.output[-(len(FRAME_END) - 1) :]) + chunk
                self.output += chunk
                self.frames += [now] * joined.count(FRAME_END)
                for marker in self.watch_for:
                    if marker not in self.seen and marker in self.output:
                        self.seen[marker] = now - self.started
                if len(self.output) > 1 << 20:
                    del self.output[:-4096]

    def wait_for(self, marker: bytes, timeout: float) -> float | None:
        with self._lock:
            self.watch_for.append(marker)
            if marker in self.output:
                self.seen.setdefault(marker, time.perf_counter() - self.started)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if marker in self.seen:
                return self.seen[marker]
            time.sleep(0.01)
        return None

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def quit(self, timeout: float = 30) -> float:
        """ctrl+q, as a person would; the time until the app (and so its engine) has exited."""
        started = time.perf_counter()
        self.send(b"\x11")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  (the app did not quit within {timeout} s; killed)")
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                pass
    return found


def steps_per_s(run_dir: Path, skip_s: float = 2.0) -> float:
    """The training rate from the record's metric events, after the first `skip_s` seconds."""
    points = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "metrics":
            points.append((event["t"], event["step"]))
    points = [p for p in points if p[0] >= points[0][0] + skip_s] or points
    (t0, s0), (t1, s1) = points[0], points[-1]
    return (s1 - s0) / (t1 - t0) if t1 > t0 else float("nan")


def tui_command() -> list[str]:
    script = Path(sys.executable).with_name("gradfail-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradfail_tui.explorer.app"]


def first_frame(work: Path, repeats: int) -> None:
    frames, cpus, readies, quits = [], [], [], []
    for _ in range(repeats):
        term = Terminal(tui_command(), work)
        frames.append(term.wait_for(b"Families", 30))
        cpus.append(cpu_seconds(term.proc.pid))  # less at the mercy of other processes than wall time
        readies.append(term.wait_for(b"engine ready", 90))
        time.sleep(3.0)  # let the engine's warm-up finish, as it has when a person quits
        quits.append(term.quit())
    print(f"time to first frame:     {fmt(frames)} s   (the engine loads torch behind it)")
    print(f"UI CPU by first frame:   {fmt(cpus)} s")
    print(f"time to engine ready:    {fmt(readies)} s")
    print(f"quit (engine closed):    {fmt(quits)} s")


def idle_cpu(work: Path, seconds: float) -> None:
    term = Terminal(tui_command(), work)
    term.wait_for(b"engine ready", 90)
    time.sleep(1.0)
    before, start = cpu_seconds(term.proc.pid), time.perf_counter()
    frames_before = len(term.frames)
    time.sleep(seconds)
    used = (cpu_seconds(term.proc.pid) - before) / (time.perf_counter() - start)
    print(
        f"UI CPU, idle:            {100 * used:.1f}% of a core  "
        f"({(len(term.frames) - frames_before) / seconds:.1f} frames/s)"
    )
    term.quit()


def tui_run(work: Path, preset: Path) -> tuple[float, float, float, Path]:
    """Train `preset` with the TUI attached; returns (UI CPU share, engine CPU share, frames/s, run dir)."""
    runs = work / "runs-tui"
    term = Terminal(tui_command() + ["--preset", str(preset), "--start", "--runs-dir", str(runs)], work)
    deadline = time.time() + 120
    while time.time() < deadline and not list(runs.glob("*/events.jsonl")):
        time.sleep(0.1)
    (run_dir,) = runs.iterdir()
    while time.time() < deadline and '"type":"metrics"' not in (run_dir / "events.jsonl").read_text():
        time.sleep(0.1)
    time.sleep(2.0)  # past the first steps and the first redraws
    engine = next(iter(children(term.proc.pid)))
    manifest = run_dir / "run.json"

    def sample() -> tuple[float, float, float, int]:
        return cpu_seconds(term.proc.pid), cpu_seconds(engine), time.perf_counter(), len(term.frames)

    ui0, eng0, t0, f0 = first = last = sample()
    while time.time() < deadline and json.loads(manifest.read_text()).get("status") == "running":
        last = sample()
        time.sleep(0.25)
    ui1, eng1, t1, f1 = last
    if last is first:
        raise SystemExit("the run ended before it could be measured: give it more --steps")
    term.quit()
    span = t1 - t0
    return (ui1 - ui0) / span, (eng1 - eng0) / span, (f1 - f0) / span, run_dir


def headless_run(work: Path, preset: Path, n: int) -> Path:
    out = work / f"runs-headless-{n}"
    subprocess.run(
        [sys.executable, "-m", "gradfail_tui", "run", "--preset", str(preset), "--out", str(out)],
        cwd=work,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return out


def fmt(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "n/a"
    if len(got) == 1:
        return f"{got[0]:.2f}"
    return f"median {statistics.median(got):.2f} (min {min(got):.2f}, max {max(got):.2f}, n={len(got)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition each, shorter runs")
    parser.add_argument("--preset", default="parity10", help="the preset trained (default parity10)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps per run (default 80000, quick 40000: the engine trains parity10 at ~5,000 steps/s)",
    )
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    steps = args.steps or (40000 if args.quick else 80000)

    sys.path.insert(0, str(ROOT))
    from engine.catalog import load_preset

    chosen = load_preset(args.preset)
    work = Path(tempfile.mkdtemp(prefix="gradfail-tui-bench-"))
    preset = work / f"{chosen.name}-bench.toml"
    values = {**chosen.values, "steps": steps}
    preset.write_text(
        f'family = "{chosen.family}"\ndescription = "benchmark"\n[config]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    try:
        first_frame(work, repeats)
        idle_cpu(work, 5.0 if args.quick else 10.0)
        tui_rates, head_rates, ui_cpu, eng_cpu, fps = [], [], [], [], []
        for n in range(repeats):  # alternate, so drifting load hits both alike
            ui, eng, frames, run_dir = tui_run(work, preset)
            ui_cpu.append(100 * ui)
            eng_cpu.append(100 * eng)
            fps.append(frames)
            tui_rates.append(steps_per_s(run_dir))
            shutil.rmtree(work / "runs-tui")
            head_rates.append(steps_per_s(headless_run(work, preset, n)))
        print(f"UI CPU, run training:    {fmt(ui_cpu)} % of a core  (engine: {fmt(eng_cpu)} %)")
        print(f"redraws while training:  {fmt(fps)} frames/s")
        print(f"steps/s, TUI attached:   {fmt(tui_rates)}   ({chosen.name}, {steps} steps)")
        print(f"steps/s, headless:       {fmt(head_rates)}")
        ratio = statistics.median(tui_rates) / statistics.median(head_rates)
        print(f"TUI / headless:          {100 * ratio:.0f}%")
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
