"""A sweep started in the explorer runs on a local pool of engines, as `gradfail sweep` does: as many as
the cores allow its runs' threads (gradfail_tui/pool.py), here two. Its success map fills in as runs end on
either engine, p and x reach every engine, the pool goes back to one engine when the sweep ends, quitting
leaves no engine behind, and the record is the one `gradfail sweep` writes (`gradfail report` reads it).

Scripted engines first (what runs where, exactly); then the real engine processes, found by an
environment mark, to show that two train at once and that none is left after `q`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

from engine.catalog import load_preset
from engine.orchestration.sweep import SWEEP_MANIFEST
from engine.record import JobKind, read_run, record_kind
from engine.registry import get_family
from engine.sweeps import SweepRecord
from gradfail_tui.explorer.app import build_app
from gradfail_tui.explorer.widgets.sweep_form import SweepForm
from tests.conftest import gradfail, processes_with_env
from tests.explorer.pilot import ENGINE_READY_S, SIZE, make_app, pin_cores, ready, status_shows, sync, wait_until
from tests.explorer.test_sweep_start import screen_text, small_phase_parity
from tests.scripted import Script, demo_families

MARK = "GRADFAIL_TEST_MARK"


def hold_d6(cmd) -> Script:
    """d = 4 trains at once; d = 6 holds half way until stopped; a run of another family completes."""
    return Script(end="hold") if cmd["config"].get("d") == 6 else Script()


def pool_app(tmp_path, script=hold_d6, **kwargs):
    families = {**demo_families(), "parity": get_family("parity")}
    return make_app(tmp_path, script, families=families, sweeps=[small_phase_parity()], **kwargs)


async def start_sweep(pilot) -> None:
    app = pilot.app
    await ready(pilot)
    await app.setup.pick_sweep("phase-parity")
    await wait_until(pilot, lambda: app.query_one(SweepForm).spec is not None, "the sweep form")
    await pilot.press("s")


def commands(engine, name: str) -> list[dict]:
    return [sent for sent in engine.sent if sent["cmd"] == name]


def trained(engine) -> list[tuple[int, int]]:
    """(d, steps) of every batch an engine was given."""
    return [(c["config"]["d"], c["config"]["steps"]) for c in commands(engine, "start")]


@sync
async def test_a_sweep_runs_on_two_engines_fills_in_its_success_map_and_pause_and_stop_reach_both(
    tmp_path, monkeypatch
):
    pin_cores(monkeypatch, 2)  # parity trains on one thread: two engines, as `gradfail sweep` would start
    app, engines = pool_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start_sweep(pilot)
        assert "Runs on  2 engines at once" in screen_text(app.query_one("#sweep-grid"))
        group = app.model.shown_group
        await wait_until(
            pilot,
            lambda: group.job.counts()["done"] == 2 and group.job.counts()["running"] == 2,
            "both d = 4 cells ended and both d = 6 runs training",
        )
        first, second = engines.made
        # Each engine ran a d = 4 cell (they ended on either engine) and trains a d = 6 one now, at the same time.
        assert trained(first) == [(4, 200), (6, 200)] and trained(second) == [(4, 400), (6, 400)]
        assert [slot.batch is not None and slot.batch.sent for slot in app.conductor.slots] == [True, True]
        assert {c["threads"] for c in commands(first, "start") + commands(second, "start")} == {1}  # a core each
        await status_shows(pilot, "sweep on 2 engines: 2/4 runs done, 2 running, 0 failed")

        app.redraws.draw_plots()
        await pilot.pause()
        shown = screen_text(app.query_one("#group-text"))
        assert "on 2 engines · p pauses, x stops the sweep" in shown
        rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line.strip()[:1].isdigit()}
        passed = {c["label"]: f"{c['success']['k']}/{c['success']['n']}" for c in group.sweep["cells"]}
        assert rows["200"][0] == passed["d=4, steps=200"] and rows["400"][0] == passed["d=4, steps=400"]
        assert rows["200"][1] == rows["400"][1] == "…"  # d = 6: both cells training, one on each engine
        assert not app.check_action("live_settings", ()) and not app.check_action("step", ())  # grid points

        await pilot.press("p")
        await wait_until(pilot, lambda: all(e.status == "paused" for e in app.model.entries[:2]), "both runs paused")
        assert len(commands(first, "pause")) == len(commands(second, "pause")) == 1
        await status_shows(pilot, "sweep on 2 engines (paused)")
        await pilot.press("p")
        await wait_until(pilot, lambda: all(e.status == "running" for e in app.model.entries[:2]), "resumed")
        assert len(commands(first, "resume")) == len(commands(second, "resume")) == 1

        await pilot.press("x")
        await wait_until(pilot, lambda: group.job.finished, "the sweep to stop")
        assert len(commands(first, "stop")) == len(commands(second, "stop")) == 1
        record = json.loads((group.path / SWEEP_MANIFEST).read_text())
        assert record["status"] == "stopped"
        assert [run["status"] for run in record["runs"]] == ["completed", "completed", "stopped", "stopped"]

        # Over: the pool goes back to the one engine, which the next single run trains on.
        await wait_until(pilot, lambda: len(app.conductor.slots) == 1 and not second.alive(), "the pool to narrow")
        assert app.conductor.slots[0].engine is first and first.alive()
        await app.setup.pick_family("demo")
        await wait_until(pilot, lambda: not app.setup.problems, "the demo form")
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: app.model.entries[0].state.finished, "a single run")
        assert app.model.entries[0].status == "completed" and len(commands(first, "start")) == 3
        assert len(engines.made) == 2 and len(app.conductor.slots) == 1

    # The record is the one `gradfail sweep` writes: a sweep directory that `gradfail report` reads.
    assert record_kind(group.path) is JobKind.SWEEP
    sweep = SweepRecord.from_manifest(record)
    assert not sweep.problems and [c.successes.n for c in sweep.cells] == [1, 1, 0, 0]
    for run in record["runs"]:
        assert read_run(group.path / run["dir"]).status == run["status"]
    report = gradfail("report", str(group.path), "--output", str(tmp_path / "report.md"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "d=4, steps=200" in (tmp_path / "report.md").read_text()


@sync
async def test_a_batch_whose_engine_was_still_loading_when_p_paused_the_sweep_starts_paused(tmp_path, monkeypatch):
    pin_cores(monkeypatch, 2)
    app, engines = pool_app(tmp_path, script=Script(end="hold"), ready=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: engines.made, "the first engine")
        engines.made[0].announce()
        await start_sweep(pilot)
        on_first = lambda: app.conductor.slots[0].batch.lives[0].state  # noqa: E731
        await wait_until(pilot, lambda: on_first().step > 0, "a run training on the first engine")
        await pilot.press("p")
        first, second = engines.made
        await wait_until(pilot, lambda: on_first().status == "paused", "the first engine's run paused")
        assert commands(second, "start") == []  # still loading: its batch waits
        second.announce()
        await wait_until(pilot, lambda: commands(second, "pause"), "the late batch paused as it starts")
        assert commands(second, "start") and app.model.live_sweep.paused
        await pilot.press("q")


@sync
async def test_quitting_while_a_sweep_runs_on_two_engines_closes_both_and_records_its_runs_interrupted(
    tmp_path, monkeypatch
):
    pin_cores(monkeypatch, 2)
    app, engines = pool_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start_sweep(pilot)
        group = app.model.shown_group
        await wait_until(pilot, lambda: group.job.counts()["running"] == 2, "two runs training")
        await pilot.press("q")
    assert len(engines.made) == 2 and not any(engine.alive() for engine in engines.made)
    record = json.loads((group.path / SWEEP_MANIFEST).read_text())
    assert record["status"] == "interrupted"
    assert [run["status"] for run in record["runs"]] == ["completed", "completed", "interrupted", "interrupted"]


@sync
async def test_the_real_engines_two_train_a_sweep_at_once_and_none_is_left_after_quitting(tmp_path, monkeypatch):
    """Two `engine.worker` processes (found by an environment mark they inherit) train at once, each on one
    thread; `q` records the runs in flight `interrupted` and leaves no engine process; `gradfail report`
    reads what was recorded."""
    pin_cores(monkeypatch, 2)
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    sweep = dataclasses.replace(
        load_preset("phase-parity"), grid={"d": [4, 6], "steps": [40000, 80000]}, seeds=1, scales_table={}
    )
    families = {"parity": get_family("parity")}
    app = build_app(families=families, presets=[], sweeps=[sweep], runs_dir=tmp_path / "runs", plot_budget=1.0)
    engines = lambda: [pid for pid in processes_with_env(MARK, mark) if pid != os.getpid()]  # noqa: E731
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.engine_ready, "the engine", timeout=ENGINE_READY_S)
        assert len(engines()) == 1  # before the sweep: the explorer's one engine
        await start_sweep(pilot)
        group = app.model.shown_group
        training = lambda: [  # noqa: E731
            slot for slot in app.conductor.slots if slot.batch and slot.batch.lives[0].state.step > 0
        ]
        await wait_until(pilot, lambda: len(training()) == 2, "both engines training", timeout=ENGINE_READY_S)
        pids = {slot.engine.pid for slot in training()}
        assert len(pids) == 2 and pids <= set(engines())
        assert {slot.batch.lives[0].state.device_name for slot in training()} == {"cpu (1 thread)"}
        await status_shows(pilot, "sweep on 2 engines:", "2 running")
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", timeout=30)
    assert engines() == []
    record = json.loads((group.path / SWEEP_MANIFEST).read_text())
    assert record["status"] == "interrupted"
    ended = [run for run in record["runs"] if run["status"] == "interrupted"]
    assert len(ended) == 2 and all(read_run(group.path / run["dir"]).status == "interrupted" for run in ended)
    report = gradfail("report", str(group.path), "--output", str(tmp_path / "report.md"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
