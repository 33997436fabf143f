"""The explorer, driven by keys through Textual's Pilot, over a scripted engine (no torch, no clock).

The scripted engine (tests/scripted.py) speaks EngineProcess's interface and replays a
fixed script, so these tests see exactly what a person would see from a real run, fast. The
real engine process is exercised in test_engine.py.
"""

from __future__ import annotations

import asyncio
import os

from textual.widgets import Button, DataTable, Input, Select, Static

from engine.registry import families as registry_families
from gradfail_tui.explorer.app import GradfailApp
from gradfail_tui.explorer.pacing import PLOT_CPU_BUDGET, SPARE_CORE_BUDGET
from gradfail_tui.explorer.widgets.snapshot_panel import SnapshotPanel
from tests.conftest import read_manifest
from tests.explorer.pilot import (
    SIZE,
    make_app,
    plots,
    ready,
    start_held_run,
    status_shows,
    sync,
    type_into,
    wait_until,
    write_record,
)
from tests.scripted import Script, demo_families, demo_snapshots


def problem_text(app: GradfailApp, name: str) -> str:
    return str(app.query_one(f"#problem-{name}", Static).render())


@sync
async def test_pick_a_family_and_an_invalid_value_is_marked_at_the_field(tmp_path):
    families = {**demo_families(), "parity": registry_families()["parity"]}
    app, _ = make_app(tmp_path, families=families)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.form.spec.name == "demo"
        family_list = app.query_one("#families")
        family_list.focus()
        family_list.highlighted = 2  # demo, sweep, parity
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.form.spec.name == "parity", "the parity form")
        assert app.query_one("#field-d", Input).value == "30"  # the default, from the config class

        await type_into(pilot, app.query_one("#field-d", Input), "0")
        assert "got 0, expected an integer >= 1" in problem_text(app, "d")
        assert app.query_one("#start", Button).disabled
        await pilot.press("escape", "s")  # disabled, as the footer shows
        await pilot.pause()
        assert app.model.entries == []
        assert "d: got 0, expected an integer >= 1" in str(app.query_one("#start-problems", Static).render())

        await type_into(pilot, app.query_one("#field-d", Input), "5")
        assert problem_text(app, "d") == ""
        assert not app.query_one("#start", Button).disabled


@sync
async def test_a_cross_field_problem_is_shown_at_the_field_it_names(tmp_path):
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one("#field-optimizer", Select).value = "adam"
        await type_into(pilot, app.query_one("#field-lr", Input), "0.5")
        assert "expected <= 0.01 with optimizer = adam" in problem_text(app, "lr")
        assert app.query_one("#start", Button).disabled
        # A preset fills the form with its values (and its seed) and the problem goes away.
        app.query_one("#field-preset", Select).value = "demo-adam"
        await wait_until(pilot, lambda: app.query_one("#field-lr", Input).value == "0.001", "the preset's lr")
        await pilot.pause()
        assert problem_text(app, "lr") == "" and not app.query_one("#start", Button).disabled


@sync
async def test_start_a_run_and_the_plots_receive_points(tmp_path):
    app, engines = make_app(tmp_path, Script(end="complete", snapshots=demo_snapshots()))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_until(
            pilot, lambda: app.model.entries and app.model.entries[0].state.status == "completed", "the run's end"
        )
        app.redraws.draw_plots()
        await pilot.pause()
        shown = plots(app)
        assert set(shown) == {"accuracy", "loss"}  # metrics grouped by MetricSpec.panel
        assert shown["accuracy"].point_count == 41 and shown["loss"].point_count == 82
        assert shown["loss"].log_y  # MetricSpec.log_scale
        assert {p.snapshot_name: p.kind for p in app.query(SnapshotPanel)} == {
            "curve": "lines",
            "digits": "images",
            "per_k": "table",
        }
        await status_shows(pilot, "completed", "step 400/400")
        assert app.tabs.active == "watch"
        # The run is recorded as it went, in a new directory under the runs directory.
        entry = app.model.entries[0]
        assert entry.path.parent == tmp_path / "runs"
        assert read_manifest(entry.path)["status"] == "completed"
        assert [c["cmd"] for c in engines.last.sent] == ["warmup", "start"]
        assert engines.last.sent[1]["config"]["width"] == 8 and engines.last.sent[1]["seed"] == 0


@sync
async def test_the_device_field_offers_what_the_engine_has(tmp_path):
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select = app.query_one("#field-device", Select)
        select.value = "cpu"
        app.form.set_devices(["cpu", "cuda:0"])
        await pilot.pause()
        assert [value for _, value in select._options] == ["auto", "cpu", "cuda:0", "cuda"]
        assert select.value == "cpu"  # the choice is kept where it still exists


@sync
async def test_devices_offered_while_the_form_rebuilds(tmp_path):
    # The engine may say it is ready while a family's fields are still mounting (seen on a loaded machine:
    # the device Select was not mounted yet and setting its options raised NoMatches).
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        loading = asyncio.ensure_future(app.form.load(app.form.spec))
        await asyncio.sleep(0)  # the load is past building its widgets, and waits on the old ones' removal
        assert not app.form.parts["field-device"].is_mounted
        app.form.set_devices(["cpu", "cuda:0"])
        await loading
        await pilot.pause()
        select = app.query_one("#field-device", Select)
        assert [value for _, value in select._options] == ["auto", "cpu", "cuda:0", "cuda"]


@sync
async def test_the_plots_redraw_more_often_while_the_engine_leaves_a_core_free(tmp_path):
    app, _ = make_app(tmp_path, Script(end="hold", device_name="cpu (1 thread)"), plot_budget=None)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.pacer.budget == PLOT_CPU_BUDGET  # before any run: the cautious share
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].state.status == "running", "the run")
        expected = SPARE_CORE_BUDGET if (os.cpu_count() or 1) > 1 else PLOT_CPU_BUDGET
        assert app.pacer.budget == expected


@sync
async def test_pause_resume_and_stop_from_the_keyboard(tmp_path):
    app, engines = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        entry = await start_held_run(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: entry.state.status == "paused", "the pause")
        await status_shows(pilot, "paused")
        await pilot.press("p")
        await wait_until(pilot, lambda: entry.state.status == "running" and entry.state.step > 100, "the resume")
        await pilot.press("x")
        await wait_until(pilot, lambda: entry.state.status == "stopped", "the stop")
        assert [c["cmd"] for c in engines.last.sent] == ["warmup", "start", "pause", "resume", "stop"]
        assert read_manifest(entry.path)["status"] == "stopped"
        # Restart runs the same settings again, as a new run.
        await pilot.press("r")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 2 and app.model.active is not None, "the restarted run"
        )
        assert app.model.entries[0].state.config == entry.state.config and app.model.entries[0].key != entry.key


@sync
async def test_open_a_recorded_run_view_it_and_replay_it(tmp_path):
    good = write_record(tmp_path / "runs", "20260101-000000-demo")
    broken = tmp_path / "runs" / "20260101-000001-broken"
    broken.mkdir()
    lines = (good / "events.jsonl").read_text().splitlines()
    (broken / "events.jsonl").write_text("\n".join(lines[:5]) + "\n{not json\n" + lines[5][:20] + "\n")
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        table = app.query_one("#runs-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "the recorded runs")
        by_key = {e.path.name: e for e in app.model.entries}
        # The damaged record is listed with what could be read, and says what is wrong with it.
        assert by_key["20260101-000001-broken"].problems
        table.move_cursor(row=table.get_row_index(str(broken)))
        await pilot.pause()
        details = str(app.query_one("#run-details", Static).render())
        assert "problem" in details and "run.json: missing" in details and "skipped" in details
        await pilot.press("enter")  # viewing a broken record works too
        await wait_until(pilot, lambda: app.model.primary == str(broken), "the broken run on screen")

        await pilot.press("3")
        table.move_cursor(row=table.get_row_index(str(good)))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.tabs.active == "watch" and app.model.primary == str(good), "the view")
        app.redraws.draw_plots()
        await pilot.pause()
        assert plots(app)["accuracy"].point_count == 16
        await status_shows(pilot, "completed")

        await pilot.press("3", "minus", "minus", "minus")  # from 10x down to 1x
        assert app.model.replay_speed == 1
        await pilot.press("y")  # the run took a minute
        replay = app.model.replay
        assert replay is not None and replay.speed == 1
        await pilot.pause(0.3)
        assert 0 < replay.position < len(replay.events)  # it plays the events by their time ...
        await status_shows(pilot, "replay 1x")
        await pilot.press(*["plus"] * 7)
        assert app.model.replay_speed == 1000 and replay.speed > 1
        await wait_until(pilot, lambda: app.model.replay is None, "the replay's end")
        assert replay.position == len(replay.events)  # ... to the end
        assert app.model.entry(str(good)).state.status == "completed"
        assert good.joinpath("events.jsonl").read_text().splitlines() == lines  # nothing rewritten


@sync
async def test_a_failing_run_and_a_dying_engine_are_reported_and_the_app_goes_on(tmp_path):
    app, engines = make_app(
        tmp_path,
        Script(end="fail", hold_at=100, message="RuntimeError in train_step at step 100"),
        Script(end="die", hold_at=60, message="boom"),
        Script(end="complete"),
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].state.finished, "the failed run")
        failed = app.model.entries[0]
        assert failed.status == "failed"
        await status_shows(pilot, "RuntimeError in train_step at step 100")
        assert any(n.severity == "error" and "RuntimeError" in n.message for n in app._notifications)
        assert read_manifest(failed.path)["status"] == "failed"

        # The same engine takes the next run (this one's script kills the engine at step 60).
        engines.last.script = Script(end="die", hold_at=60, message="boom")
        await pilot.press("s")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 2 and app.model.entries[0].state.finished, "the engine's death"
        )
        died = app.model.entries[0]
        assert died.status == "failed" and died.state.step == 60
        await status_shows(pilot, "the engine process exited with code 17: RuntimeError: boom")
        assert read_manifest(died.path)["status"] == "failed"
        # A new engine is started, and the next run works.
        await wait_until(pilot, lambda: len(engines.made) == 2 and app.engine_ready, "a new engine")
        engines.last.script = Script(end="complete")
        await pilot.press("s")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 3 and app.model.entries[0].status == "completed", "a good run"
        )
        assert app.is_running


@sync
async def test_compare_overlays_runs_with_a_legend_and_log_toggles(tmp_path):
    app, _ = make_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].status == "completed", "run 1")
        await pilot.press("c")  # keep run 1 on the plots
        await pilot.press("1")
        app.query_one("#field-preset", Select).value = "demo-wide"
        await wait_until(pilot, lambda: app.query_one("#field-width", Input).value == "64", "the preset")
        await pilot.press("s")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 2 and app.model.entries[0].status == "completed", "run 2"
        )
        app.redraws.draw_plots()
        await pilot.pause()
        accuracy = plots(app)["accuracy"]
        assert [line.label for line in accuracy.lines] == ["demo-wide", "demo"]
        assert accuracy.point_count == 82
        loss = plots(app)["loss"]
        assert [line.label for line in loss.lines] == [
            "demo-wide train loss",
            "demo-wide test loss",
            "demo train loss",
            "demo test loss",
        ]
        assert loss.log_y and not accuracy.log_y
        await pilot.press("escape", "l")  # no plot focused: all of them
        assert accuracy.log_y and loss.log_y
        accuracy.focus()
        await pilot.press("l")  # the focused one only
        assert not accuracy.log_y and loss.log_y


@sync
async def test_a_screenshot_is_saved_where_the_app_says(tmp_path):
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        (svg,) = (tmp_path / "shots").glob("gradfail-*.svg")
        assert svg.read_text().startswith("<svg")
        assert any(str(svg.resolve()) in n.message for n in app._notifications)


@sync
async def test_quitting_stops_the_run_and_closes_the_engine(tmp_path):
    app, engines = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        entry = await start_held_run(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit")
    assert not engines.last.alive()
    assert engines.last.sent[-1] == {"cmd": "stop", "reason": "interrupted"}
    assert read_manifest(entry.path)["status"] == "interrupted"


@sync
async def test_a_run_started_before_the_engine_is_ready_waits_for_it(tmp_path):
    app, engines = make_app(tmp_path, Script(end="complete"), ready=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: engines.made and app.form.spec and not app.setup.problems, "the form")
        await pilot.press("s")
        await pilot.pause()
        assert app.model.entries[0].status == "waiting"
        await status_shows(pilot, "waiting for the engine", "engine: starting")
        engines.last.announce()
        await wait_until(pilot, lambda: app.model.entries[0].status == "completed", "the run")


@sync
async def test_resize_no_color_and_light_theme(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = make_app(tmp_path, Script(end="complete", snapshots=demo_snapshots()))
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await ready(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].status == "completed", "the run")
        await pilot.press("c", "r")
        await wait_until(
            pilot, lambda: len(app.model.entries) == 2 and app.model.entries[0].status == "completed", "run 2"
        )
        app.redraws.draw_plots()
        await pilot.pause()
        assert plots(app)["accuracy"].markers == ["braille", "dot"]  # runs told apart without colour
        await pilot.press("t")
        assert not app.current_theme.dark
        for size in [(80, 24), (60, 20), (200, 60), (120, 36)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            app.redraws.draw_plots()
            await pilot.pause()
        assert app.screen.has_class("-wide") and len(plots(app)) == 2
