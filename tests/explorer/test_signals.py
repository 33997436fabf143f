"""gradfail-tui as a real process in a real terminal (tmux), signalled while a run trains.

Three explorers are started at once (their engines load torch side by side, which halves the
wait), each training a slow run of the fault-injecting family, and each is then ended another way:
- Ctrl-C at the keyboard: Textual's answer is a hint ("press ctrl+q to quit"), and the run goes on
  untouched; then the terminal is closed (tmux kill-session), which sends SIGHUP as an SSH session
  dropping does;
- SIGTERM, as from `kill` or a supervisor;
- SIGINT sent to the process (not a key: the terminal is in raw mode).
Each time the run's record must end `interrupted` with its events kept, and neither the explorer
nor its engine process may be left behind.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, children_of, pid_alive, read_events, read_manifest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux to give the explorer a terminal")

SLOW_RUN = """family = "faulty"
description = "a slow run, for signalling"
[config]
step_sleep = 0.01
steps = 100000
"""
START_S = 120  # the engine imports torch: slow when three start at once on a busy 2-core machine


class Terminal:
    """One tmux session on a private server, running one command."""

    def __init__(self, server: str, name: str, command: str):
        self.server, self.name = server, name
        self.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "36", command)
        self.pid = int(self.tmux("list-panes", "-t", name, "-F", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)


def wait_for(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def metrics_count(runs: Path) -> int:
    found = list(runs.glob("*/events.jsonl"))
    return sum('"type":"metrics"' in line for line in found[0].read_text().splitlines()) if found else 0


def test_ctrl_c_sighup_sigterm_and_sigint_end_runs_interrupted_with_no_orphans(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW_RUN)
    server = f"gradfail-test-{os.getpid()}"
    env = {"PYTHONPATH": str(ROOT), "GRADFAIL_FAMILY_MODULES": "tests.faulty_family", "TERM": "xterm-256color"}
    terminals: dict[str, Terminal] = {}
    try:
        for how in ("ctrl-c, then hangup", "sigterm", "sigint"):
            runs = tmp_path / how.replace(",", "").replace(" ", "-")
            command = (
                f"cd {shlex.quote(str(tmp_path))} && exec env "
                + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
                + f" {shlex.quote(sys.executable)} -m gradfail_tui.explorer.app --preset slow.toml --start "
                f"--runs-dir {shlex.quote(str(runs))}"
            )
            terminals[how] = Terminal(server, f"t{len(terminals)}", command)
            terminals[how].runs = runs
        for how, term in terminals.items():
            wait_for(lambda: metrics_count(term.runs) >= 2, f"{how}: the run to train", START_S)
            (term.engine,) = children_of(term.pid)

        # Ctrl-C is a key here: a hint, and the run goes on.
        term = terminals["ctrl-c, then hangup"]
        term.keys("C-c")
        wait_for(lambda: "to quit the app" in term.screen(), "the hint Ctrl-C gives", 15)
        before = metrics_count(term.runs)
        wait_for(lambda: metrics_count(term.runs) > before + 2, "the run to go on after Ctrl-C", 15)
        assert read_manifest(next(term.runs.iterdir()))["status"] == "running"

        term.tmux("kill-session", "-t", term.name)  # the terminal goes away: SIGHUP
        os.kill(terminals["sigterm"].pid, signal.SIGTERM)
        os.kill(terminals["sigint"].pid, signal.SIGINT)

        for how, term in terminals.items():
            wait_for(lambda: not pid_alive(term.pid), f"{how}: the explorer to exit", 30)
            assert not pid_alive(term.engine), f"{how}: the engine process outlived the explorer"
            (run_dir,) = term.runs.iterdir()
            manifest = read_manifest(run_dir)
            events = read_events(run_dir)
            assert manifest["status"] == "interrupted", (how, manifest)
            assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "interrupted", (how, events[-1])
            assert manifest["steps_done"] == events[-1]["step"] > 0, how
            assert sum(e["type"] == "metrics" for e in events) >= 2, how  # what was trained is kept
            assert json.dumps(events).count("Traceback") == 0, how
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, timeout=30)
