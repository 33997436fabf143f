"""Sweeps without torch: the grid and its checks, sweep presets, and SweepRun over scripted engines.

The engines are ScriptedEngines speaking for the real parity family (its config and metrics, which
can train seeds as lanes), so what is checked is the orchestration: which batches go out, what
sweep.json says as runs end, fail, die or are interrupted, and what --resume runs again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.orchestration import Conductor
from engine.orchestration.sweep import SWEEP_MANIFEST, SweepRun
from engine.record import read_group, read_run
from engine.registry import get_family
from engine.status import RunStatus
from engine.sweeps import (
    MAX_RUNS,
    SweepCell,
    SweepError,
    SweepRecord,
    SweepRunRecord,
    facets,
    parse_grid_option,
    resolve,
)
from tests.scripted import Engines, Script, conduct_to_end

PARITY = {"parity": get_family("parity")}


def parity_sweep(grid=None, seeds=2, **kwargs):
    return resolve("parity", None, {"steps": "200"}, grid or {"d": "4:8:2", "width_mult": "2,5"}, seeds, None, **kwargs)


def parity_engines(script=None) -> Engines:
    """Scripted engines for the parity family; `script(cmd)`, if given, decides each batch's ending."""
    return Engines(*([script] if script else []), families=PARITY)


run = conduct_to_end


def read(path: Path) -> dict:
    return json.loads((path / SWEEP_MANIFEST).read_text())


# ---- the grid ---------------------------------------------------------------------------------


def test_ranges_include_their_stop_and_lists_keep_their_order():
    spec = resolve("parity", None, {}, {"d": "4:10:3", "width_mult": "5,2,5", "lr": "0.1:0.3:0.1"}, 1, None)
    values = {axis.key: axis.values for axis in spec.axes}
    assert values == {"d": (4, 7, 10), "width_mult": (5, 2), "lr": (0.1, 0.2, 0.3)}
    assert len(spec.cells) == 18 and spec.run_count == 18
    assert {cell.config.d for cell in spec.cells} == {4, 7, 10}
    assert spec.mapping.x == "d" and spec.mapping.y == "width_mult" and spec.mapping.metric == "test_acc"


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ({"depht": "1:3"}, "--grid depht: unknown setting (did you mean depth?)"),
        ({"d": "0:4:2"}, "--grid d: got 0, expected an integer >= 1 and <= 4096"),
        ({"d": "4:9000:3000"}, "--grid d: got 6004, expected an integer >= 1 and <= 4096"),
        ({"d": "4:8.5:2"}, "d is an integer; start, stop and step must be integers"),
        ({"d": "a:8"}, "start 'a' is not a number"),
        ({"lr": "x,y"}, "--grid lr: got 'x', expected a number"),
        ({"optimizer": "sgd,rmsprop"}, "--grid optimizer: got 'rmsprop', expected one of sgd, adam"),
        ({"optimizer": "1:3"}, "optimizer is one of sgd, adam; expected a list a,b,c"),
        ({"d": "8:4:2"}, "empty range (stop 4 is below start 8)"),
        ({"d": "4:8:0"}, "the step must be > 0"),
        ({"d": ","}, "no values"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_key(grid, expected):
    with pytest.raises(SweepError) as caught:
        resolve("parity", None, {}, grid, 1, None)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_a_grid_option_needs_key_and_values():
    assert parse_grid_option("d=4:32:2") == ("d", "4:32:2")
    with pytest.raises(SweepError, match="expected key=start:stop:step"):
        parse_grid_option("d4:32")


def test_a_cell_the_family_refuses_is_named():
    with pytest.raises(SweepError) as caught:
        resolve("parity", None, {"subset": "fixed"}, {"subset_size": "1:6:5", "d": "4"}, 1, None)
    assert caught.value.problems == [
        "cell subset_size=6, d=4: subset_size: got 6, expected 1..d (= 4) when subset = fixed"
    ]


def test_a_grid_too_large_needs_force():
    grid = {"d": f"1:{MAX_RUNS // 2}", "width_mult": "1,2"}
    with pytest.raises(
        SweepError, match=r"4,000 runs \(1000 d x 2 width_mult x 2 seeds\); more than 2,000: give --force"
    ):
        resolve("parity", None, {}, grid, 2, None)
    assert resolve("parity", None, {}, grid, 2, None, force=True).run_count == 2 * MAX_RUNS


def test_the_mapping_is_checked_against_the_family_and_the_grid():
    with pytest.raises(SweepError) as caught:
        resolve("parity", None, {}, {"d": "4,8"}, 1, {"metric": "objective", "stat": "mode", "y": "lr"})
    problems = " | ".join(caught.value.problems)
    assert "map metric: 'objective' is not a metric of parity" in problems
    assert "map stat: got 'mode'" in problems and "map y: 'lr' is not a grid key" in problems


def test_a_preset_as_the_base_and_overrides():
    spec = resolve(None, "parity30", {"steps": "100"}, {"width_mult": "2,4"}, 3, None)
    assert spec.preset == "parity30" and all(c.config.d == 30 and c.config.steps == 100 for c in spec.cells)
    with pytest.raises(SweepError, match="is a group preset"):
        resolve(None, "fig-parity", {}, {"d": "4"}, 1, None)


# ---- running ----------------------------------------------------------------------------------


def test_a_sweep_runs_every_cell_with_seeds_as_lanes_and_records_each_run(tmp_path):
    engines = parity_engines()
    job = SweepRun(parity_sweep(), tmp_path)
    job.threads = 1
    run(job, engines)
    manifest = read(tmp_path)
    assert manifest["status"] == "completed" and manifest["batched"]
    assert len(manifest["runs"]) == 12 and all(r["status"] == "completed" for r in manifest["runs"])
    starts = [c for engine in engines.made for c in engine.sent if c["cmd"] == "start"]
    assert len(starts) == 6 and all(c["seeds"] == [0, 1] and c["threads"] == 1 for c in starts)
    assert {len([c for c in e.sent if c["cmd"] == "start"]) for e in engines.made} - {0} != set()  # both engines worked
    assert len(engines.made) == 2 and all(any(c["cmd"] == "start" for c in e.sent) for e in engines.made)
    # each run's mapped value is the last test accuracy its record holds
    for entry in manifest["runs"]:
        record = read_run(tmp_path / entry["dir"])
        accs = [e.values["test_acc"] for e in record.events if getattr(e, "values", None) and "test_acc" in e.values]
        assert (
            entry["value"] == accs[-1]
            and record.manifest["config"]["d"] == manifest["cells"][entry["cell"]]["settings"]["d"]
        )
    cell = manifest["cells"][0]
    values = [manifest["runs"][n]["value"] for n in cell["runs"]]
    assert cell["mean"] == pytest.approx(sum(values) / 2)
    # the report and the export read a sweep as a group of its runs
    assert len(read_group(tmp_path).runs) == 12


def test_seeds_as_separate_runs_when_lanes_are_off(tmp_path):
    engines = parity_engines()
    run(SweepRun(parity_sweep(lanes=False), tmp_path), engines)
    starts = [c for engine in engines.made for c in engine.sent if c["cmd"] == "start"]
    assert len(starts) == 12 and all("seeds" not in c for c in starts)


def test_a_failed_cell_is_marked_and_the_sweep_goes_on(tmp_path):
    engines = parity_engines(lambda cmd: Script(end="fail") if cmd["config"]["d"] == 6 else Script())
    job = SweepRun(parity_sweep(), tmp_path)
    run(job, engines)
    manifest = read(tmp_path)
    statuses = {(r["cell"], r["seed"]): r["status"] for r in manifest["runs"]}
    failed = {key for key, status in statuses.items() if status == "failed"}
    assert failed == {(2, 0), (2, 1), (3, 0), (3, 1)}  # d = 6, both widths
    assert sum(status == "completed" for status in statuses.values()) == 8
    assert manifest["status"] == "failed" and job.counts() == {
        "done": 8,
        "stopped": 0,
        "failed": 4,
        "running": 0,
        "waiting": 0,
    }
    assert all(r["message"] == "injected failure" for r in manifest["runs"] if r["status"] == "failed")
    assert all(s.failed == 2 for s in SweepRecord.from_manifest(manifest).cells if s.settings["d"] == 6)


def test_a_dead_engine_is_replaced_its_runs_failed_and_resume_runs_them_again(tmp_path):
    died = []

    def script(cmd):
        if cmd["config"]["d"] == 8 and cmd["config"]["width_mult"] == 5 and not died:
            died.append(cmd)
            return Script(end="die")
        return Script()

    engines = parity_engines(script)
    run(SweepRun(parity_sweep(), tmp_path), engines)
    manifest = read(tmp_path)
    dead = [r for r in manifest["runs"] if r["status"] != "completed"]
    assert [(r["cell"], r["status"]) for r in dead] == [(5, "failed"), (5, "failed")]
    assert "the engine process exited with code 17" in dead[0]["message"]
    assert len(engines.made) == 3  # two, and the one that replaced the dead one
    first_dirs = [r["dir"] for r in dead]
    assert all(read_run(tmp_path / d).manifest["status"] == "failed" for d in first_dirs)

    again = parity_engines()
    resumed = SweepRun.resume(tmp_path)
    assert [len(batch) for batch in resumed.pending] == [2]  # only the dead cell's two runs
    run(resumed, again)
    manifest = read(tmp_path)
    assert manifest["status"] == "completed" and all(r["status"] == "completed" for r in manifest["runs"])
    retried = [r for r in manifest["runs"] if r.get("attempts")]
    assert [r["attempts"][0]["dir"] for r in retried] == first_dirs  # the first attempts are kept, not written over
    assert all(r["dir"].endswith("-r2") and (tmp_path / r["dir"]).is_dir() for r in retried)
    assert all((tmp_path / d / "run.json").is_file() for d in first_dirs)


def test_an_interrupted_sweep_leaves_sweep_json_consistent_and_resume_finishes_it(tmp_path):
    engines = parity_engines(lambda cmd: Script(end="hold", hold_at=50) if cmd["config"]["d"] == 6 else Script())
    job = SweepRun(parity_sweep(), tmp_path)
    conductor = Conductor(engines, engines=2).start()
    conductor.submit(job)
    conductor.run(until=lambda: job.counts()["done"] >= 2 and job.counts()["running"] >= 2)
    conductor.shutdown(RunStatus.INTERRUPTED, grace=2.0)
    manifest = read(tmp_path)
    assert manifest["status"] == "interrupted" and manifest["ended_at"]
    for entry in manifest["runs"]:  # sweep.json and every run record agree
        if entry["dir"] is None:
            assert entry["status"] == "waiting"
        else:
            assert read_run(tmp_path / entry["dir"]).manifest["status"] == entry["status"]
    assert {r["status"] for r in manifest["runs"]} >= {"completed", "interrupted", "waiting"}
    left = sum(1 for r in manifest["runs"] if r["status"] != "completed")

    resumed = SweepRun.resume(tmp_path)
    assert sum(len(b) for b in resumed.pending) == left
    run(resumed, parity_engines())
    assert read(tmp_path)["status"] == "completed"


def test_the_heatmap_data_facets_the_keys_it_does_not_map(tmp_path):
    spec = parity_sweep(grid={"d": "4,6", "width_mult": "2,5", "depth": "1,2"}, seeds=1)
    run(SweepRun(spec, tmp_path), parity_engines())
    found = facets(SweepRecord.read(tmp_path))
    assert [f.title for f in found] == ["depth=1", "depth=2"]
    assert all(set(f.cells) == {(4, 2), (4, 5), (6, 2), (6, 5)} for f in found)
    assert all(c.mean is not None and c.done == 1 for f in found for c in f.cells.values())


def test_a_sweep_record_reads_into_types(tmp_path):
    engines = parity_engines(lambda cmd: Script(end="fail") if cmd["config"]["d"] == 6 else Script())
    run(SweepRun(parity_sweep(seeds=2), tmp_path), engines)
    record = SweepRecord.read(tmp_path)
    assert record.problems == () and record.status is RunStatus.FAILED and record.family == "parity"
    assert record.keys == ["d", "width_mult"] and record.seeds == (0, 1) and record.mapping.metric == "test_acc"
    assert len(record.cells) == 6 and len(record.runs) == 12 and record.ended == 12
    written = read(tmp_path)
    for cell, entry in zip(record.cells, written["cells"]):
        assert (cell.index, cell.label, cell.settings) == (entry["index"], entry["label"], entry["settings"])
        assert [run.label for run in cell.runs] == [written["runs"][n]["label"] for n in entry["runs"]]
        assert cell.mean == entry["mean"] and cell.sd == entry["sd"]  # as the writer computed them
    failed = [run for run in record.runs if run.status is RunStatus.FAILED]
    assert len(failed) == 4 and all(r.value is None and r.message == "injected failure" for r in failed)
    assert all(isinstance(r.value, float) and r.dir for r in record.runs if r.status is RunStatus.COMPLETED)


def test_a_damaged_sweep_record_reads_what_it_can_and_names_the_rest(tmp_path):
    run(SweepRun(parity_sweep(grid={"d": "4,6"}, seeds=1), tmp_path), parity_engines())
    manifest = read(tmp_path)
    manifest["runs"][0] = "not a run"
    manifest["runs"][1]["status"] = "exploded"
    manifest["runs"][1]["value"] = True  # not a number, though JSON's reader makes it an int
    manifest["cells"].append(42)
    manifest["spec"]["grid"].append({"key": "width_mult"})  # no values
    (tmp_path / SWEEP_MANIFEST).write_text(json.dumps(manifest))
    record = SweepRecord.read(tmp_path)
    assert [run.label for run in record.runs] == ["d=6, seed 0"]
    assert record.runs[0].status is RunStatus.UNKNOWN and record.runs[0].value is None
    assert [len(cell.runs) for cell in record.cells] == [0, 1] and record.keys == ["d"]
    assert len(record.problems) == 5
    assert any("run 0 is not an object" in p for p in record.problems)
    assert any("'exploded' is not one this version knows" in p for p in record.problems)
    assert [f.x_values for f in facets(record)] == [(4, 6)]  # the heatmap is still drawn

    (tmp_path / SWEEP_MANIFEST).write_text("[1, 2")
    broken = SweepRecord.read(tmp_path)
    assert broken.cells == () and broken.runs == () and facets(broken) == []
    assert len(broken.problems) == 1 and "unreadable" in broken.problems[0]


def test_a_statistic_over_a_window(tmp_path):
    spec = resolve("parity", None, {"steps": "400"}, {"d": "4"}, 1, {"stat": "max", "until_step": 100})
    run(SweepRun(spec, tmp_path), parity_engines(), workers=1)
    entry = read(tmp_path)["runs"][0]
    record = read_run(tmp_path / entry["dir"])
    early = [
        e.values["test_acc"]
        for e in record.events
        if getattr(e, "step", 999) <= 100 and "test_acc" in getattr(e, "values", {})
    ]
    assert entry["value"] == max(early)


def cell_of(*runs: tuple[str, float | None]) -> SweepCell:
    """A cell whose runs ended (or stand) with these (status, value) pairs."""
    records = [SweepRunRecord(f"r{n}", 0, n, None, RunStatus(s), 0, v) for n, (s, v) in enumerate(runs)]
    return SweepCell(0, "", {}, tuple(records))


def test_the_heatmap_marks_waiting_running_failed_and_partly_failed_cells():
    from gradfail_tui.render.heatmap import cell_text, short

    assert cell_text(None) == ("·", None)
    assert cell_text(cell_of(("waiting", None), ("waiting", None))) == ("·", None)
    assert cell_text(cell_of(("running", None), ("waiting", None))) == ("…", None)
    assert cell_text(cell_of(("failed", None), ("diverged", None))) == ("✗", None)
    assert cell_text(cell_of(("completed", 0.5), ("completed", 0.7))) == ("0.600", 0.6)
    assert cell_text(cell_of(("completed", 0.9), ("failed", None))) == ("0.900!", 0.9)
    assert [short(x) for x in (0.98123, 12.345, -0.3347, 250.0, 3e-05)] == ["0.981", "12.3", "-0.33", "250", "3e-05"]


class FakeClock:
    """The sweep's `time.monotonic`: it moves `tick` seconds each time it is read, whatever the machine does."""

    def __init__(self, now: float = 100.0, tick: float = 0.0):
        self.now, self.tick = now, tick

    def monotonic(self) -> float:
        self.now += self.tick
        return self.now


def fake_clock(monkeypatch, tick: float = 0.0) -> FakeClock:
    import engine.orchestration.sweep as sweep_module

    clock = FakeClock(tick=tick)
    monkeypatch.setattr(sweep_module, "time", clock)  # the sweep module's clock only, not the process's
    return clock


def test_sweep_json_gathers_quick_writes_and_is_complete_at_the_end(tmp_path, monkeypatch):
    import engine.orchestration.sweep as sweep_module

    clock = fake_clock(monkeypatch, tick=0.001)  # every run ends within milliseconds, on any machine
    writes = []
    real = sweep_module.write_json_atomically
    monkeypatch.setattr(sweep_module, "write_json_atomically", lambda p, d: (writes.append(1), real(p, d)))
    job = SweepRun(parity_sweep(seeds=1, lanes=False), tmp_path)  # 6 runs
    run(job, parity_engines())
    assert clock.now - 100.0 < sweep_module.WRITE_GAP_S  # all of it within one write gap
    # A write for the sweep's start, a few on the way (runs ending after the last was handed out), the last.
    assert 2 <= len(writes) < 6
    manifest = read(tmp_path)
    assert manifest["status"] == "completed"
    assert all(r["status"] == "completed" and r["value"] is not None for r in manifest["runs"])


def test_sweep_json_is_at_most_the_gap_behind_while_runs_go_on(tmp_path, monkeypatch):
    import engine.orchestration.sweep as sweep_module

    clock = fake_clock(monkeypatch)
    job = SweepRun(parity_sweep(seeds=1, lanes=False), tmp_path)
    first = job.next_batch()  # just after the write of the start: put off
    assert read(tmp_path)["runs"][0]["status"] == "waiting" and job.unwritten
    job.flush()
    assert read(tmp_path)["runs"][0]["status"] == "waiting"  # not due yet
    clock.now += sweep_module.WRITE_GAP_S
    job.flush()
    assert read(tmp_path)["runs"][0]["status"] == "running" and not job.unwritten
    assert read(tmp_path)["runs"][0]["dir"] == first.lives[0].run_dir.name


def test_resume_after_a_killed_driver_keeps_the_runs_sweep_json_had_not_seen(tmp_path):
    job = SweepRun(parity_sweep(seeds=1, lanes=False), tmp_path)
    batch = job.next_batch()  # its directory exists; sweep.json, written before, does not name it
    (batch.lives[0].run_dir / "run.json").write_text("{}")
    manifest = read(tmp_path)
    assert manifest["runs"][0]["dir"] is None

    resumed = SweepRun.resume(tmp_path)  # the driver was killed: nothing more was written
    run(resumed, parity_engines())
    manifest = read(tmp_path)
    assert manifest["status"] == "completed"
    assert manifest["runs"][0]["dir"].endswith("-r2")  # a new directory; the old one is left as it was
    assert (batch.lives[0].run_dir / "run.json").read_text() == "{}"


def test_a_ray_actor_gathers_metrics_but_answers_a_runs_end_at_once():
    import queue

    from engine.events import Metrics, RunFinished
    from engine.orchestration.ray_engine import EngineActor

    actor = EngineActor.__new__(EngineActor)  # its queue alone: no Ray, no torch
    later = [
        Metrics(run_id="r", t=0.1, step=2, values={"loss": 0.5}),
        RunFinished(run_id="r", t=0.2, step=2, status="completed"),
    ]
    waits = []

    class Arriving(queue.Queue):
        """The actor's queue, where each wait on it ends with the next of `later` arriving (no real waiting):
        a wait with nothing left to arrive is a drain that did not answer at the run's end."""

        def get(self, block=True, timeout=None):
            if block and self.empty():
                assert later, "drain waited on after the run had ended"
                waits.append(timeout)
                actor.emit(later.pop(0))
            return super().get(block, timeout)

    actor.events = Arriving()
    actor.emit(Metrics(run_id="r", t=0.0, step=1, values={"loss": 1.0}))
    lines = actor.drain(wait=1.0, gather=30.0)
    assert [json.loads(line)["type"] for line in lines] == ["metrics", "metrics", "run_finished"]
    assert len(waits) == 2 and all(0 < w <= 30.0 for w in waits)  # it waited for both, within the gathering
    assert actor.events.empty()
