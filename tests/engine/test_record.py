"""The run record: written as the run goes, read back whatever state it is in."""

import json

from engine.events import Metrics, RunFinished, RunStarted, from_json, to_json
from engine.record import RunRecorder, find_runs, read_run
from engine.state import RunState


def started(run_id="r1"):
    return RunStarted(
        run_id=run_id,
        t=0.1,
        family="parity",
        config={"d": 5},
        seed=0,
        device="cpu",
        device_name="cpu (1 thread)",
        total_steps=100,
        preset="parity5",
        versions={"torch": "x"},
    )


def write_run(path, finish=True):
    recorder = RunRecorder(
        path, {"run_id": "r1", "family": "parity", "preset": "parity5", "config": {"d": 5}, "seed": 0, "device": "auto"}
    )
    recorder.append(started())
    for step in (0, 50, 100):
        recorder.append(Metrics(run_id="r1", t=step / 100, step=step, values={"test_acc": step / 100}))
    if finish:
        recorder.append(RunFinished(run_id="r1", t=1.0, step=100, status="completed"))
        recorder.finish("completed", step=100)
    return recorder


def test_events_round_trip_through_json():
    event = Metrics(run_id="r", t=1.5, step=3, values={"train_loss": float("nan"), "test_acc": 0.5})
    back = from_json(to_json(event))
    assert back.step == 3 and back.values["test_acc"] == 0.5 and back.values["train_loss"] != back.values["train_loss"]


def test_the_manifest_says_running_until_the_end_and_events_are_flushed(tmp_path):
    recorder = write_run(tmp_path, finish=False)
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["status"] == "running" and manifest["device"] == "cpu"
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 4  # flushed, not buffered
    recorder.finish("interrupted", "stopped by the user")
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["summary"] == {"test_acc": 1.0}
    assert manifest["steps_done"] == 100


def test_a_truncated_last_line_costs_only_that_line(tmp_path):
    write_run(tmp_path)
    text = (tmp_path / "events.jsonl").read_text()
    (tmp_path / "events.jsonl").write_text(text[: len(text) - 20])
    run = read_run(tmp_path)
    assert len(run.events) == 4 and any("line 5" in p for p in run.problems)


def test_a_missing_manifest_is_rebuilt_from_the_events(tmp_path):
    write_run(tmp_path)
    (tmp_path / "run.json").unlink()
    run = read_run(tmp_path)
    assert run.manifest["family"] == "parity" and run.status == "completed"
    assert run.manifest["summary"] == {"test_acc": 1.0}
    assert any("run.json: missing" in p for p in run.problems)


def test_garbage_is_reported_not_raised(tmp_path):
    (tmp_path / "run.json").write_text("\x00\x01 not json")
    (tmp_path / "events.jsonl").write_bytes(b'\xff\xfe garbage\n{"type": "nope"}\n[1, 2]\n')
    run = read_run(tmp_path)
    assert run.events == [] and len(run.problems) == 4 and run.status == "unknown"


def test_find_runs_sees_runs_and_groups(tmp_path):
    write_run((tmp_path / "a").mkdir() or tmp_path / "a")
    (tmp_path / "group" / "b").mkdir(parents=True)
    write_run(tmp_path / "group" / "b")
    (tmp_path / "not-a-run").mkdir()
    assert {p.name for p in find_runs(tmp_path)} == {"a", "b"}


def test_run_state_folds_a_recorded_run(tmp_path):
    write_run(tmp_path)
    state = RunState.from_events(read_run(tmp_path).events, label="parity5")
    assert state.status == "completed" and state.step == 100 and state.series["test_acc"][-1] == (100, 1.0)
    assert state.steps_per_s() == 100.0
