"""Hands on a running run in the explorer: live settings (e), a refused change, step mode (n, N),
the plots' markers and colours, over a scripted engine."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input, Static

from engine.events import RunFinished, SettingChanged, to_json
from engine.record import read_run
from engine.registry import families as registry_families
from gradfail_tui.explorer.widgets.live_settings import LiveSettings
from gradfail_tui.explorer.widgets.metric_plot import Line, MetricPlot
from gradfail_tui.render.colours import line_styles
from tests.explorer.pilot import (
    SIZE,
    make_app,
    plots,
    ready,
    start_held_run,
    sync,
    type_into,
    wait_until,
    write_record,
)
from tests.scripted import Script, demo_families


async def open_settings(pilot) -> LiveSettings:
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LiveSettings), "the live settings")
    return pilot.app.screen


def toasts(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


@sync
async def test_a_live_change_is_sent_recorded_and_marked_on_every_plot(tmp_path):
    app, engines = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        entry = await start_held_run(pilot)
        screen = await open_settings(pilot)
        lr = screen.query_one("#live-lr", Input)
        assert lr.value == "0.1" and screen.query_one("#live-eval_every", Input).value == "20"
        await type_into(pilot, lr, "1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: entry.state.changes, "the change applied")
        sent = [c for c in engines.last.sent if c["cmd"] == "change"]
        assert sent == [{"cmd": "change", "key": "lr", "value": 1.0}]  # checked and parsed before it went
        change = entry.state.changes[0]
        assert (change.step, change.setting, change.old, change.new) == (100, "lr", 0.1, 1.0)
        assert entry.state.current_config()["lr"] == 1.0
        # Recorded: the run's events.jsonl holds it, so a replay and `--from` see it.
        record = read_run(entry.live.run_dir)
        assert [e.TYPE for e in record.events if e.TYPE == "setting_changed"] == ["setting_changed"]
        # Every plot marks it with a labelled vertical line at its step.
        app.redraws.draw_plots()
        await pilot.pause()
        for plot in plots(app).values():
            assert plot.changes == [(100, "lr 0.1→1")]
            assert "lr 0.1→1" in str(plot.render())


@sync
async def test_a_refused_change_says_why_and_the_run_goes_on(tmp_path):
    app, engines = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        entry = await start_held_run(pilot)
        screen = await open_settings(pilot)
        await type_into(pilot, screen.query_one("#live-lr", Input), "-3")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "refused" in " ".join(str(n.title) for n in app._notifications), "a refusal")
        assert "lr: got -3, expected a number > 0" in toasts(app)
        assert not [c for c in engines.last.sent if c["cmd"] == "change"]  # nothing reached the engine
        assert entry.status == "running" and not entry.state.changes
        # Beyond float32: refused too, before it reaches the engine.
        screen = await open_settings(pilot)
        await type_into(pilot, screen.query_one("#live-lr", Input), "1e39")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "float32" in toasts(app), "the float32 refusal")
        assert not [c for c in engines.last.sent if c["cmd"] == "change"]


@sync
async def test_step_mode_advances_while_paused_and_pauses_again(tmp_path):
    app, engines = make_app(tmp_path, Script(end="hold", hold_at=100, every=1))
    async with app.run_test(size=SIZE) as pilot:
        entry = await start_held_run(pilot)
        await pilot.press("n")  # not paused: it says how step mode works, and sends nothing
        await pilot.pause()
        assert "pause the run first" in toasts(app)
        await pilot.press("p")
        await wait_until(pilot, lambda: entry.status == "paused", "paused")
        await pilot.press("n")
        await wait_until(pilot, lambda: entry.state.step == 101 and entry.status == "paused", "one step")
        await pilot.press("N")
        await wait_until(pilot, lambda: entry.state.step == 111 and entry.status == "paused", "ten steps")
        assert [c["steps"] for c in engines.last.sent if c["cmd"] == "step"] == [1, 10]
        app.redraws.draw_plots()
        await pilot.pause()
        assert plots(app)["accuracy"].lines[0].points[-1][0] == 111  # the plots show each stop


@sync
async def test_an_lr_beyond_float32_is_refused_at_the_field(tmp_path):
    families = {**demo_families(), "flat": registry_families()["flat"]}
    app, _ = make_app(tmp_path, families=families)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one("#families").focus()
        app.query_one("#families").highlighted = 2
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.form.spec.name == "flat", "the flat form")
        await type_into(pilot, app.query_one("#field-lr", Input), "1e38")
        await wait_until(pilot, lambda: app.setup.problems, "the problem")
        problems = str(app.query_one("#start-problems", Static).render())
        assert "beyond float32's range" in problems, problems


def test_overlaid_runs_get_colours_by_what_the_figure_compares_and_shades_by_the_rest():
    labels = [f"k = {k}, {a}" for k in (10, 1000, 2000) for a in ("end-to-end", "decomposition")]
    styles = line_styles(labels)
    assert len({s.rgb for s in styles}) == len(labels)  # no two alike (Figure 4 drew two in one red)
    e2e, dec = styles[0::2], styles[1::2]
    # One hue for each approach: its shades keep the hue's order of channels (red stays reddest).
    assert all(max(range(3), key=s.rgb.__getitem__) == max(range(3), key=e2e[0].rgb.__getitem__) for s in e2e)
    assert all(max(range(3), key=s.rgb.__getitem__) == max(range(3), key=dec[0].rgb.__getitem__) for s in dec)
    assert [s.shade for s in e2e] == [0, 1, 2] == [s.shade for s in dec]
    # Labels of one part: one hue each.
    assert len({s.rgb for s in line_styles(["d = 5", "d = 10", "d = 30"])}) == 3


@sync
async def test_the_explorer_draws_the_same_colours_and_the_legend_under_the_plot(tmp_path):
    app, _ = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        await start_held_run(pilot)
        app.redraws.draw_plots()
        await pilot.pause()
        plot: MetricPlot = plots(app)["loss"]  # two metrics in one panel: a legend
        labels = [line.label for line in plot.lines]
        for style in line_styles(labels):
            assert style.rich in str(plot.border_subtitle)
        assert "train loss" in str(plot.border_subtitle)
        plot.set_lines([Line("only", [(0, 1.0), (10, 0.5)])], chance=0.5)
        plot.replot()
        await pilot.pause()
        assert "chance 0.5" in str(plot.border_subtitle)


@sync
async def test_a_record_with_changes_opens_and_replays_with_its_markers(tmp_path):
    path = write_record(tmp_path / "runs", "20260101-000000-changed", finished=None)
    with open(path / "events.jsonl", "a") as handle:
        handle.write(to_json(SettingChanged(run_id=path.name, t=30.0, step=150, setting="lr", old=0.1, new=1.0)) + "\n")
        handle.write(to_json(RunFinished(run_id=path.name, t=61.0, step=300, status="completed")) + "\n")
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        table = app.query_one("#runs-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the record")
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model.primary == str(path), "the record on screen")
        app.redraws.draw_plots()
        await pilot.pause()
        assert all(plot.changes == [(150, "lr 0.1→1")] for plot in plots(app).values())
        await pilot.press("3", "y")  # replayed: the marker appears when the replay reaches it
        await wait_until(pilot, lambda: app.model.replay is not None, "the replay")
        app.redraws.draw_plots()
        await pilot.pause()
        assert all(plot.changes == [] for plot in plots(app).values())  # not reached yet (it was at 30 s)
        await pilot.press("x")  # skip to the end
        await wait_until(pilot, lambda: app.model.replay is None, "the end of the replay")
        app.redraws.draw_plots()
        await pilot.pause()
        assert all(plot.changes == [(150, "lr 0.1→1")] for plot in plots(app).values())


async def start_seeds(pilot, seeds: int) -> None:
    app = pilot.app
    await ready(pilot)
    await type_into(pilot, app.query_one("#field-seeds", Input), str(seeds))
    await pilot.press("escape", "s")
    await wait_until(pilot, lambda: app.model.groups and not app.model.groups[0].running, "the seeds")


@sync
async def test_seeds_train_one_after_another_and_show_as_a_band_with_one_picked_out(tmp_path):
    app, engines = make_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        await start_seeds(pilot, 3)
        starts = [c for c in engines.last.sent if c["cmd"] == "start"]
        assert [c["seed"] for c in starts] == [0, 1, 2]  # the demo family trains them one after another
        group = app.model.groups[0]
        assert group.seeds and group.statuses == {f"seed {i}": "completed" for i in range(3)}
        # Recorded as `gradfail run --seeds 3` records them: a seeds group, a directory per seed.
        manifest = json.loads((group.path / "group.json").read_text())
        assert manifest["kind"] == "seeds" and [r["dir"] for r in manifest["runs"]] == ["seed-0", "seed-1", "seed-2"]
        assert manifest["status"] == "completed"
        app.redraws.draw_plots()
        await pilot.pause()
        plot = plots(app)["accuracy"]
        labels = [line.label for line in plot.lines]
        assert labels == ["test accuracy min-max of 3", "", "test accuracy mean"]
        runs = [app.model.entry(group.keys[f"seed {i}"]).state.series["test_acc"] for i in range(3)]
        low, high, mean = (line.points for line in plot.lines)
        final = [r[-1][1] for r in runs]
        assert low[-1][1] == min(final) and high[-1][1] == max(final)
        assert abs(mean[-1][1] - sum(final) / 3) < 1e-12
        band_text = str(app.query_one("#group-text", Static).render())
        assert "band of the seeds" in band_text and "[ and ] pick out a seed" in band_text
        await pilot.press("right_square_bracket", "right_square_bracket")  # seed 0, then seed 1
        app.redraws.draw_plots()
        await pilot.pause()
        plot = plots(app)["accuracy"]
        assert plot.lines[-1].label == "seed 1: test accuracy" and plot.lines[-1].points == runs[1]
        assert app.model.primary == group.keys["seed 1"]


@sync
async def test_seeds_of_a_batched_family_go_as_lanes_of_one_start(tmp_path):
    families = {**demo_families(), "parity": registry_families()["parity"]}
    app, engines = make_app(tmp_path, Script(end="complete"), families=families)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.query_one("#families").focus()
        app.query_one("#families").highlighted = 2
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.form.spec.name == "parity", "the parity form")
        await type_into(pilot, app.query_one("#field-steps", Input), "400")
        await start_seeds(pilot, 16)
        (start,) = [c for c in engines.last.sent if c["cmd"] == "start"]
        assert start["seeds"] == list(range(16)) and len(start["run_ids"]) == 16
        app.redraws.draw_plots()
        await pilot.pause()
        # parity's accuracy panel: the band, and the chance line at 0.5
        plot = plots(app)["accuracy"]
        assert plot.chance == 0.5 and plot.lines[0].label == "test accuracy min-max of 16"


@sync
async def test_a_recorded_group_of_seeds_opens_with_its_band(tmp_path):
    app, _ = make_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        await start_seeds(pilot, 3)
        path = app.model.groups[0].path
    app, _ = make_app(tmp_path)  # a new session: the record on disk
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        table = app.query_one("#runs-table", DataTable)
        await wait_until(pilot, lambda: table.get_row_index(f"group:{path}") is not None, "the group's row")
        table.move_cursor(row=table.get_row_index(f"group:{path}"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model.shown_group is not None, "the group on screen")
        assert app.model.shown_group.seeds
        app.redraws.draw_plots()
        await pilot.pause()
        assert plots(app)["accuracy"].lines[0].label == "test accuracy min-max of 3"


@sync
async def test_a_groups_figure_draws_each_run_in_its_own_colour_named_in_its_legend(tmp_path):
    from tests.explorer.test_groups import drawn_figure, parity_app, run_group_to_its_verdict

    app, _ = parity_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        await run_group_to_its_verdict(pilot, app)
        app.redraws.draw_plots()
        await pilot.pause()
        drawn_figure(app)  # the paper's Figure 1, not the overlay
        figure = app.figure_view.render()
        text = figure.plain
        legend = text.rstrip().split("\n")[-1]
        marks = {  # each legend mark's colour, by the name after it
            text[span.end + 1 : span.end + 7].strip(): str(span.style)
            for span in figure.spans
            if text[span.start : span.end] in ("━━", "┄┄")
        }
        assert [name for name in marks if name.startswith("d =")] == ["d = 5", "d = 10", "d = 30"]
        assert len({marks[name] for name in ("d = 5", "d = 10", "d = 30")}) == 3  # three colours
        assert "chance 0.5" in legend and marks["chance"] not in {marks["d = 5"], marks["d = 10"], marks["d = 30"]}


@sync
async def test_notifications_hide_no_plot(tmp_path):
    app, _ = make_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # Pilot leaves them out by default
        await start_held_run(pilot)
        app.redraws.draw_plots()
        app.notify("a notification with a title, long enough to wrap over two lines at this width", title="Note")
        await pilot.pause(0.3)
        toasts = [t for t in app.screen.query("Toast") if t.region.area]
        assert toasts
        for plot in plots(app).values():
            assert all(not toast.region.overlaps(plot.region) for toast in toasts), (toasts[0].region, plot.region)
