"""`gradfail export`: a record's metrics as CSV (long form) and JSON Lines, checked against events.jsonl."""

import csv
import io
import json
import math

from typer.testing import CliRunner

from engine.events import Metrics, RunFinished, RunStarted, Snapshot
from engine.record import GroupRecorder, RunRecorder
from gradfail_tui.cli import app
from tests.conftest import gradfail, read_events


def write_run(path, run_id="r1", steps=(0, 50, 100)):
    """A parity record as the engine writes it: training metrics and evaluations at different steps, a NaN."""
    path.mkdir(parents=True)
    recorder = RunRecorder(
        path,
        {"run_id": run_id, "family": "parity", "preset": "parity5", "config": {"d": 5}, "seed": 0, "device": "cpu"},
    )
    recorder.append(
        RunStarted(
            run_id=run_id,
            t=0.1,
            family="parity",
            config={"d": 5},
            seed=0,
            device="cpu",
            device_name="cpu (1 thread)",
            total_steps=steps[-1],
            preset="parity5",
        )
    )
    for step in steps:
        recorder.append(Metrics(run_id=run_id, t=0.1 + step / 7, step=step, values={"test_acc": 0.5 + step / 300}))
        recorder.append(
            Metrics(
                run_id=run_id,
                t=0.2 + step / 7,
                step=step + 3,
                values={"train_loss": 1 / (step + 3), "grad_norm": math.nan if step == 50 else 0.25},
            )
        )
    recorder.append(
        Snapshot(
            run_id=run_id,
            t=1.0,
            step=steps[-1],
            name="s",
            kind="table",
            data={"title": "t", "columns": ["a"], "rows": [[1]]},
        )
    )
    recorder.append(RunFinished(run_id=run_id, t=1.1, step=steps[-1], status="completed"))
    recorder.finish("completed", step=steps[-1])
    return path


def write_group(path):
    path.mkdir()
    recorder = GroupRecorder(
        path, {"kind": "group", "runs": [{"label": "d = 5", "dir": "01-d-5"}, {"label": "d = 10", "dir": "02-d-10"}]}
    )
    write_run(path / "01-d-5", "a")
    write_run(path / "02-d-10", "b", steps=(0, 100))
    recorder.update(status="completed")
    return path


def export(*args, cwd):
    # No test family: it imports torch, which `gradfail export` never needs (seconds of each call here).
    return gradfail("export", *args, cwd=cwd, GRADFAIL_FAMILY_MODULES="")


def recorded_values(run_dir):
    """(step, t, metric, value) for every value of every metrics event of events.jsonl."""
    return [
        (e["step"], e["t"], name, value)
        for e in read_events(run_dir)
        if e["type"] == "metrics"
        for name, value in e["values"].items()
    ]


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def test_csv_is_the_long_form_and_reads_back_exactly(tmp_path):
    run = write_run(tmp_path / "run")
    result = export("run", "--format", "csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["run", "step", "t", "metric", "value"]
    expected = recorded_values(run)
    assert len(rows) == len(expected) == 9
    for row, (step, t, name, value) in zip(rows, expected):
        assert row["run"] == "run" and int(row["step"]) == step and float(row["t"]) == t and row["metric"] == name
        assert same(float(row["value"]), value)
    assert any(row["value"] == "nan" for row in rows)  # non-finite stays a number pandas reads


def test_jsonl_is_one_object_per_metrics_event(tmp_path):
    run = write_run(tmp_path / "run")
    result = export("run", "--format", "jsonl", "-o", "m.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    objects = [json.loads(line) for line in lines]  # strict JSON: json.loads would accept NaN, so check the text too
    assert "NaN" not in "".join(lines)
    events = [e for e in read_events(run) if e["type"] == "metrics"]
    assert len(objects) == len(events) == 6
    for got, event in zip(objects, events):
        assert got["run"] == "run" and got["run_id"] == "r1" and got["step"] == event["step"] and got["t"] == event["t"]
        assert got["values"].keys() == event["values"].keys()
        for name, value in event["values"].items():
            assert got["values"][name] is None if math.isnan(value) else got["values"][name] == value


def test_a_group_exports_every_run_under_its_label(tmp_path):
    group = write_group(tmp_path / "g")
    result = export("g", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    by_run = {label: [r for r in rows if r["run"] == label] for label in ("d = 5", "d = 10")}
    assert len(by_run["d = 5"]) == len(recorded_values(group / "01-d-5")) == 9
    assert len(by_run["d = 10"]) == len(recorded_values(group / "02-d-10")) == 6
    assert len(rows) == 15


def test_a_damaged_record_exports_what_it_holds_and_says_what_it_lost(tmp_path):
    run = write_run(tmp_path / "run")
    text = (run / "events.jsonl").read_text()
    (run / "events.jsonl").write_text(text[: len(text) - 30])  # the last line cut in half
    result = export("run", cwd=tmp_path)
    assert result.returncode == 0
    assert "events.jsonl line" in result.stderr and "skipped" in result.stderr
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 9  # the lost line was run_finished


def test_bad_input_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # in-process: these never get as far as writing
    write_run(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "taken.csv").write_text("mine")
    cases = [
        (("missing",), "missing: no such directory"),
        (("empty",), "not a run record"),
        (("file.txt",), "not a directory"),
        (("run", "--format", "xml"), "'xml' is not one of 'csv', 'jsonl'"),
        (("run", "-o", "taken.csv"), "exists; give --force"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["export", *args])
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        said = " ".join(result.stderr.replace("│", " ").split())  # Typer's box may wrap a message
        assert message in said, (args, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (tmp_path / "taken.csv").read_text() == "mine"
    assert CliRunner().invoke(app, ["export", "run", "-o", "taken.csv", "--force"]).exit_code == 0
    assert (tmp_path / "taken.csv").read_text().startswith("run,step,t,metric,value")
