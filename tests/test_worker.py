"""The engine process's command protocol, driven as the UI drives it."""

import time

from engine.client import EngineProcess, RunRequest
from engine.events import RunFinished


def test_a_stop_sent_right_after_start_stops_that_run():
    # The explorer sends warmup then start, and a person may press x before the engine has taken the
    # start from its queue: the stop must reach the run that start begins, not the one before it.
    engine = EngineProcess().start()
    try:
        request = RunRequest(family="parity", config={"d": 10, "steps": 1_000_000}, device="cpu")
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
