"""The engine process's command protocol, driven as the UI drives it."""

import importlib.util
import subprocess
import sys
import time

import pytest

from engine.client import EngineProcess, RunRequest
from engine.config import build_config
from engine.events import RunFinished
from engine.registry import get_family


def test_a_stop_sent_right_after_start_stops_that_run():
    # The explorer sends warmup then start, and a person may press x before the engine has taken the
    # start from its queue: the stop must reach the run that start begins, not the one before it.
    engine = EngineProcess().start()
    try:
        config = build_config(get_family("parity").config_cls, {"d": 10, "steps": 1_000_000})
        request = RunRequest(family="parity", config=config, device="cpu")
        engine.send("warmup")
        engine.send("start", **request.command())
        engine.send("stop", reason="stopped")
        deadline = time.time() + 60
        finished = None
        while time.time() < deadline and finished is None:
            item = engine.get(timeout=0.5)
            if isinstance(item, RunFinished):
                finished = item
        assert finished is not None and finished.status == "stopped"
        assert finished.step < 1_000_000
    finally:
        engine.close()


def test_torch_is_imported_with_the_collector_off_and_collection_resumes_after():
    # In a fresh interpreter: the import's objects frozen (later collections skip them), the collector
    # back on for what the runs make, and cyclic garbage made afterwards still collected.
    code = (
        "import gc, weakref\n"
        "from engine.worker import import_torch_side\n"
        "seen = []\n"
        "gc.callbacks.append(lambda phase, info: seen.append(phase))\n"
        "torch = import_torch_side()\n"
        "assert not seen, 'the collector ran during the import'\n"
        "class Node: pass\n"
        "a, b = Node(), Node(); a.other, b.other = b, a; alive = weakref.ref(a); del a, b\n"
        "gc.collect()\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 100_000, alive() is None, 'torch' in repr(torch))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True"]


@pytest.fixture(params=["engine process", "ray actor"])
def engines(request):
    """An engine factory for the Conductor: the local engine process, or an actor on a local Ray of one
    CPU (both steer a run through one dispatcher, engine.worker.obey)."""
    if request.param == "engine process":
        yield EngineProcess
        return
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")
    from engine.orchestration.ray_engine import connect

    factory, shutdown = connect(None, workers=1)
    try:
        yield factory
    finally:
        shutdown()


def test_pause_change_and_step_through_every_kind_of_engine(tmp_path, engines):
    # The explorer's e and n, as the Conductor sends them to a real engine: a change while paused applies
    # at the paused step and is recorded; a step command trains that many steps, evaluates, pauses again.
    from engine.orchestration import Conductor, RunsJob
    from engine.record import claim_run_dir, read_run

    config = build_config(get_family("parity").config_cls, {"d": 10, "steps": 1_000_000, "eval_every": 1000})
    job = RunsJob.create([RunRequest(family="parity", config=config, device="cpu")], [claim_run_dir(tmp_path / "r")])
    conductor = Conductor(engines).start()
    state = job.lives[0].state
    run_id = job.lives[0].run_id

    def pump_until(predicate, what, timeout=60.0):
        deadline = time.time() + timeout
        while not predicate():
            assert time.time() < deadline, f"timed out waiting for {what}"
            conductor.pump(0.1)

    try:
        conductor.submit(job)
        pump_until(lambda: state.step > 0, "training")
        assert conductor.pause(run_id)
        pump_until(lambda: state.status == "paused", "the pause")
        paused_at = state.step
        assert conductor.change(run_id, "lr", "0.05") is None
        pump_until(lambda: state.changes, "the change")
        assert (state.changes[0].step, state.changes[0].new) == (paused_at, 0.05)
        assert conductor.step(run_id, 7)
        pump_until(lambda: state.step == paused_at + 7 and state.status == "paused", "seven steps")
        assert state.series["test_acc"][-1][0] == paused_at + 7  # evaluated at the stop
        conductor.stop(run_id)
        conductor.run()
    finally:
        conductor.close()
    events = read_run(tmp_path / "r").events
    assert [e.TYPE for e in events].count("setting_changed") == 1 and events[-1].status == "stopped"
