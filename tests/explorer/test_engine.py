"""The explorer over the real engine process: a tiny parity run, and a worker that dies mid-run."""

from __future__ import annotations

import json

from textual.widgets import Input

from engine.registry import families as registry_families
from gradfail_tui.explorer.app import build_app
from tests.conftest import pid_alive
from tests.explorer.pilot import (
    ENGINE_READY_S,
    SIZE,
    form_filled,
    plots,
    status_shows,
    status_text,
    sync,
    type_into,
    wait_until,
)


@sync
async def test_a_tiny_parity_run_through_the_real_engine(tmp_path):
    families = {"parity": registry_families()["parity"]}
    app = build_app(families=families, runs_dir=tmp_path / "runs", plot_budget=1.0)
    async with app.run_test(size=SIZE) as pilot:
        # The first frame does not wait for the engine: torch is still loading in the worker.
        assert not app.engine_ready and "engine: starting" in status_text(app)
        await form_filled(pilot)
        for name, value in (("d", "5"), ("steps", "300"), ("eval_every", "50")):
            await type_into(pilot, app.query_one(f"#field-{name}", Input), value)
        await wait_until(pilot, lambda: app.engine_ready, "the engine process", timeout=ENGINE_READY_S)
        worker = app.conductor.slots[0].engine.pid
        assert pid_alive(worker)
        await pilot.press("escape", "s")
        await wait_until(
            pilot, lambda: app.model.entries and app.model.entries[0].state.finished, "the run", timeout=60
        )
        entry = app.model.entries[0]
        assert entry.status == "completed", entry.state.message
        assert entry.label == "parity steps=300 eval_every=50 d=5"  # what differs from the defaults
        app.redraws.draw_plots()
        await pilot.pause()
        accuracy = plots(app)["accuracy"]
        assert [s for s, _ in accuracy.lines[0].points] == [0, 50, 100, 150, 200, 250, 300]
        await status_shows(pilot, "completed", "step 300/300")
        manifest = json.loads((entry.path / "run.json").read_text())
        assert manifest["status"] == "completed" and manifest["config"]["d"] == 5
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", timeout=15)
    assert not pid_alive(worker)  # no orphan engine


@sync
async def test_a_worker_that_dies_is_reported_and_a_new_one_takes_the_next_run(tmp_path, faulty_family):
    families = {"faulty": registry_families()["faulty"]}
    app = build_app(families=families, runs_dir=tmp_path / "runs", plot_budget=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await form_filled(pilot)
        app.query_one("#field-fault").value = "exit"
        await type_into(pilot, app.query_one("#field-at_step", Input), "60")
        await wait_until(pilot, lambda: app.engine_ready, "the engine process", timeout=ENGINE_READY_S)
        first = app.conductor.slots[0].engine.pid
        await pilot.press("escape", "s")
        await wait_until(
            pilot, lambda: app.model.entries and app.model.entries[0].state.finished, "the death", timeout=60
        )
        died = app.model.entries[0]
        assert died.status == "failed"
        assert "the engine process exited with code 17" in died.state.message
        await status_shows(pilot, "exited with code 17")
        steps = [s for s, _ in died.state.series["test_acc"]]
        assert steps[:3] == [0, 20, 40]  # what arrived before the death is kept
        # The app goes on: a new engine comes up and runs the next run.
        await wait_until(pilot, lambda: app.engine_ready, "a new engine", timeout=ENGINE_READY_S)
        assert app.conductor.slots[0].engine.pid != first and not pid_alive(first)
        app.query_one("#field-fault").value = "none"
        await pilot.press("escape", "s")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 2 and app.model.entries[0].state.finished, "run 2", timeout=60
        )
        assert app.model.entries[0].status == "completed"
        second = app.conductor.slots[0].engine.pid
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", timeout=15)
    assert not pid_alive(second)
