"""Early stops that keep the science (`gradfail sweep --stop-when-decided`): the run loop ends a lane
`completed` as soon as a value it records passes the start command's `stop_when` test, saying where
(`stopped_early`); a lane that does not pass trains its full budget; and every run's verdict on the test
is the same with and without the early stop. The real loop, in this process, on a tiny made-up trainer
(lanes whose test accuracy rises at chosen speeds); the record's field through RunRecorder."""

from __future__ import annotations

import time

import pytest
import torch

from engine.config import ConfigError
from engine.events import Metrics, RunFinished
from engine.loop import Control, StopWhen, run_lanes
from engine.record import RunRecorder, read_run
from engine.state import RunState
from engine.status import RunStatus
from engine.sweeps import Mapping, SuccessTest, early_stop
from engine.trainer import Trainer
from tests.scripted import DemoConfig

MAX_ACC = {"metric": "test_acc", "stat": "max", "op": ">=", "value": 0.95, "text": "test_acc:max >= 0.95"}


class Rising(Trainer):
    """Lanes whose test accuracy climbs from 0.5 to `tops[lane]` by step `at[lane]` (then stays), with a
    little dip after so that the last value is not the max; the training loss falls as 1/step."""

    def __init__(self, config, tops: list[float], at: list[int]):
        super().__init__(config, torch.device("cpu"), 0)
        self.tops, self.at, self.lanes = tops, at, len(tops)
        self.trained = 0

    def train_step(self, step):
        self.trained = step
        return {"train_loss": torch.full((self.lanes,), 1.0 / step)}

    def evaluate(self, step):
        accs = []
        for top, at in zip(self.tops, self.at):
            climbed = 0.5 + (top - 0.5) * min(1.0, step / at)
            accs.append(climbed - (0.01 if step > at else 0.0))
        return {"test_acc": accs}


def train(tops, at, stop_when=None, steps=200):
    events = []
    config = DemoConfig(steps=steps, eval_every=20)
    trainer = Rising(config, tops, at)
    ids = [f"lane{i}" for i in range(len(tops))]
    finished = run_lanes(
        trainer,
        config,
        ids,
        events.append,
        Control(),
        time.perf_counter(),
        stop_when=StopWhen.from_dict(stop_when),
    )
    return finished, events, trainer


def states(events, finished) -> list[RunState]:
    by_id = {}
    for event in [*events, *finished]:
        state = by_id.setdefault(event.run_id, RunState(run_id=event.run_id, label=event.run_id, status="running"))
        if not (isinstance(event, RunFinished) and state.status in (RunStatus.COMPLETED, RunStatus.DIVERGED)):
            state.apply(event)
    return [by_id[k] for k in sorted(by_id)]


def test_a_passing_lane_stops_early_completed_with_its_reason_and_a_failing_one_runs_its_budget():
    finished, events, trainer = train([1.0, 0.7], [60, 60], MAX_ACC)
    passing, failing = finished
    assert passing.status == RunStatus.COMPLETED and passing.step == 60  # the first evaluation at 0.95 or more
    assert passing.stopped_early == "test_acc:max >= 0.95 met at step 60"
    assert failing.status == RunStatus.COMPLETED and failing.step == 200 and failing.stopped_early == ""
    assert max(e.step for e in events if isinstance(e, Metrics) and e.run_id == "lane0") == 60
    assert trainer.trained == 200  # the lanes share one model: it trained on for the lane that had not passed


def test_when_every_lane_has_passed_the_loop_ends():
    finished, _, trainer = train([1.0, 0.99], [40, 80], MAX_ACC)
    assert [f.step for f in finished] == [40, 80] and trainer.trained == 80


@pytest.mark.parametrize(
    "test",
    [
        MAX_ACC,
        {"metric": "test_acc", "stat": "max", "op": ">=", "value": 0.8, "from_step": 100, "text": "late"},
        {"metric": "test_acc", "stat": "max", "op": ">=", "value": 0.8, "until_step": 40, "text": "early"},
        {"metric": "train_loss", "stat": "min", "op": "<=", "value": 0.02, "text": "loss"},
        {"metric": "test_acc", "stat": "first", "op": "<=", "value": 0.5, "text": "first"},
    ],
)
def test_every_runs_verdict_is_the_same_with_and_without_the_early_stop(test):
    tops, at = [1.0, 0.97, 0.9, 0.8, 0.6], [30, 150, 60, 20, 100]
    full_finished, full_events, _ = train(tops, at)
    early_finished, early_events, _ = train(tops, at, test)
    mapping = Mapping(
        metric=test["metric"],
        stat=test["stat"],
        from_step=test.get("from_step"),
        until_step=test.get("until_step"),
        success=SuccessTest(test["metric"], test["op"], test["value"], test["stat"]),
    )
    full = [mapping.passed(s) for s in states(full_events, full_finished)]
    early = [mapping.passed(s) for s in states(early_events, early_finished)]
    assert early == full and None not in full
    for finished, passed in zip(early_finished, early):
        assert bool(finished.stopped_early) == (passed and finished.step < 200)
        assert passed or finished.step == 200  # a run that did not pass ran its full budget
    assert any(f.stopped_early for f in early_finished) or test["text"] == "first"


def test_the_sweeps_early_stop_test_is_what_the_loop_reads():
    mapping = Mapping("test_acc", "max", success=SuccessTest("test_acc", ">=", 0.95, "max"))
    assert StopWhen.from_dict(early_stop(mapping)) == StopWhen(
        "test_acc", ">=", 0.95, "max", None, None, "test_acc:max >= 0.95"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"metric": "test_acc", "stat": "last", "op": ">=", "value": 0.9},
        {"metric": "test_acc", "stat": "max", "op": "<=", "value": 0.9},
        {"metric": "test_acc", "stat": "max", "op": ">=", "value": "high"},
        {"stat": "max", "op": ">=", "value": 0.9},
        "test_acc >= 0.9",
    ],
)
def test_a_stop_when_the_loop_cannot_decide_is_a_bad_request(bad):
    with pytest.raises(ConfigError, match="stop_when"):
        StopWhen.from_dict(bad)


def test_the_run_record_keeps_the_reason_beside_its_completed_status(tmp_path):
    recorder = RunRecorder(tmp_path, {"run_id": "r", "family": "demo"})
    recorder.append(Metrics(run_id="r", t=0.1, step=60, values={"test_acc": 0.96}))
    finished = RunFinished(
        run_id="r", t=0.2, step=60, status="completed", stopped_early="test_acc:max >= 0.95 met at step 60"
    )
    recorder.append(finished)
    recorder.finish(finished.status, finished.message, finished.step)
    manifest = read_run(tmp_path).manifest
    assert manifest["status"] == "completed" and manifest["steps_done"] == 60
    assert manifest["stopped_early"] == "test_acc:max >= 0.95 met at step 60"
