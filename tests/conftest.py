"""Shared helpers: run the real `gradfail` command as a person would, in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.loop import Control, run_loop

# CI installs everything the tests need (tmux, chromium, Ray), so a skip there means an install step went
# missing: with GRADFAIL_NO_SKIPS=1 (set by .ci/run) any skipped test fails the run instead of hiding it.
NO_SKIPS = os.environ.get("GRADFAIL_NO_SKIPS") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if NO_SKIPS and skipped and exitstatus == 0:
        reporter.write_line(
            f"GRADFAIL_NO_SKIPS=1: {len(skipped)} test(s) skipped (see -rs for why): an install step is missing",
            red=True,
        )
        session.exitstatus = 1


ROOT = Path(__file__).resolve().parent.parent


def train_in_process(trainer, config):
    """Train `trainer` through the real run loop, in this process; returns how it ended and every event."""
    events = []
    finished = run_loop(trainer, config, "test", events.append, Control(), time.perf_counter())
    return finished, events


# A suite started from a background job (`cmd &`, nohup) inherits SIGINT ignored, and so would every
# command it starts: the Ctrl-C tests would send a signal no process hears. Take it back here, in each
# test process, so that the commands it starts get the default again (an exec keeps "ignored", not a
# handler).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="120", GRADFAIL_FAMILY_MODULES="tests.faulty_family"
    )
    env.update(extra)
    return env


def gradfail_command(*args: str) -> list[str]:
    """The `gradfail` command line, run from this checkout's interpreter."""
    return [sys.executable, "-m", "gradfail_tui", *args]


def gradfail(*args: str, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        gradfail_command(*args),
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_gradfail(*args: str, cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        gradfail_command(*args),
        cwd=cwd,
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def read_events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def _each_process(file: str):
    """(pid, the text of /proc/<pid>/<file>) for every process whose file can be read (Linux)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / file).read_bytes().decode(errors="replace")
            except OSError:
                continue


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    return [child for child, stat in _each_process("stat") if int(stat.rsplit(")", 1)[1].split()[1]) == pid]


def processes_with_env(name: str, value: str) -> list[int]:
    """Live processes whose environment has name=value: what a command left running."""
    wanted = f"{name}={value}"
    return [pid for pid, environ in _each_process("environ") if wanted in environ.split("\0") and pid_alive(pid)]


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def skip_unless_allocations_can_fail() -> None:
    if Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1":
        pytest.skip("this kernel grants any allocation (vm.overcommit_memory = 1): the OOM killer would answer")


def family_threads(name: str):
    """A module fixture: train on the threads the family's SPEC asks for, as the engine process would.

    Use as `use_family_threads = family_threads("stocks")` at the top of a family's test module.
    """

    @pytest.fixture(autouse=True, scope="module")
    def threads():
        import torch

        from engine.registry import get_family

        previous = torch.get_num_threads()
        torch.set_num_threads(get_family(name).cpu_threads or previous)
        yield
        torch.set_num_threads(previous)

    return threads


@pytest.fixture
def faulty_family(monkeypatch):
    """Make the fault-injecting test family visible in this process too."""
    from engine import registry

    monkeypatch.setenv("GRADFAIL_FAMILY_MODULES", "tests.faulty_family")
    registry._discover.cache_clear()
    yield
    registry._discover.cache_clear()
