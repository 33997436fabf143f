"""The engine killed with SIGKILL at random moments of runs of every training family, 20 times.

Each time the run record must end `failed`, hold every event that reached the parent before the
kill, and leave no engine process behind; then a new run must start and complete.
"""

import os
import random
import signal
import time

import pytest

from engine.client import EngineExited, EngineProcess, RunRequest
from engine.config import build_config
from engine.events import EngineReady, Event, Metrics, RunFinished
from engine.orchestration import LiveRun
from engine.record import read_run
from engine.registry import families
from tests.conftest import pid_alive

KILLS = 20
# Small but long-running configs: the kill must land mid-run.
TRAINING_FAMILIES = {
    "parity": {"d": 10, "steps": 10**6},
    "periodic": {"steps": 10**6},
    "flat": {"steps": 10**6},
    "pwl": {"trainer": "conv", "steps": 10**6},
    "tuples": {"k": 2, "batch": 16, "steps": 10**6},
    "stocks": {"steps": 10**6},
}


def wait_for(engine, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        item = engine.get(timeout=0.2)
        if item is not None and predicate(item):
            return item
    raise AssertionError("timed out")


@pytest.mark.slow  # about a minute on an idle 2-core machine: `python -m pytest -m slow`
def test_sigkill_at_random_moments_never_loses_a_recorded_event(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = random.Random(1234)
    names = [name for name in TRAINING_FAMILIES if name in families()]
    assert {"parity", "flat", "pwl", "periodic"} <= set(names)
    for kill in range(KILLS):
        family = names[kill % len(names)]
        config = build_config(
            families()[family].config_cls,
            {
                k: v
                for k, v in TRAINING_FAMILIES[family].items()
                if k in families()[family].config_cls.__dataclass_fields__
            },
        )
        request = RunRequest(family=family, config=config, seed=kill, device="cpu")
        run_dir = tmp_path / f"kill-{kill:02d}-{family}"
        run_dir.mkdir()
        engine = EngineProcess().start()
        live = LiveRun(request, run_dir)
        handled = []

        def take(item) -> bool:  # record what arrives; True once the engine has gone
            if isinstance(item, EngineExited):
                return True
            if isinstance(item, Event) and item.run_id == request.run_id:
                live.apply(item)
                handled.append(item)
            return False

        try:
            wait_for(engine, lambda item: isinstance(item, EngineReady))
            assert engine.send("start", **request.command())
            wait_for(engine, lambda item: take(item) or isinstance(item, Metrics))
            deadline = time.time() + rng.uniform(0.0, 1.5)  # a random moment of the run
            while time.time() < deadline:
                assert not take(engine.get(timeout=0.01)), "the engine ended before the kill"
            os.kill(engine.pid, signal.SIGKILL)
            exited = wait_for(engine, take)  # events still in the pipe arrive before EngineExited
        finally:
            engine.close()
        live.engine_died(exited)
        run = read_run(run_dir)
        assert run.status == "failed" and "killed by SIGKILL" in run.manifest["message"], (family, run.manifest)
        assert run.problems == [], run.problems
        assert [type(e) for e in run.events] == [type(e) for e in handled] + [RunFinished]  # nothing lost
        assert any(isinstance(e, Metrics) for e in run.events)
        assert not pid_alive(engine.pid)

    # and the next run starts and completes
    engine = EngineProcess().start()
    try:
        wait_for(engine, lambda item: isinstance(item, EngineReady))
        (tmp_path / "after").mkdir()
        parity = families()["parity"].config_cls
        after = LiveRun(
            RunRequest(family="parity", config=build_config(parity, {"d": 4, "steps": 200}), device="cpu"),
            tmp_path / "after",
        )
        engine.send("start", **after.request.command())
        wait_for(engine, lambda item: after.apply(item) or after.finished is not None)
        assert after.finished.status == "completed"
    finally:
        engine.close()
