"""Group presets in the explorer: a figure's runs one after another, overlaid, then the verdict.

Over the scripted engine (the flow, the stop key, an engine that dies mid-group, a recorded group)
and once over the real engine (a tiny two-run group; its record must be the one `gradfail run`
writes, so `gradfail report` reads it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from engine import audit_figures, paper
from engine.catalog import load_preset, read_any
from engine.claims import judge
from engine.client import EngineProcess
from engine.config import config_to_dict
from engine.events import Metrics, RunFinished, RunStarted, Snapshot
from engine.figures import FigureData, figure_data
from engine.groups import judge_record
from engine.orchestration import group_manifest
from engine.record import GroupRecorder, RunRecorder, read_group
from engine.registry import families as registry_families
from engine.state import RunState
from gradfail_tui.explorer.app import build_app
from gradfail_tui.explorer.entries import RunEntry, group_key
from gradfail_tui.explorer.widgets.family_list import FamilyList
from gradfail_tui.explorer.widgets.metric_plot import MetricPlot
from tests.conftest import pid_alive
from tests.explorer.pilot import (
    ENGINE_READY_S,
    SIZE,
    form_filled,
    make_app,
    open_recorded_group,
    plots,
    ready,
    status_text,
    sync,
    type_into,
    wait_until,
    write_figure_group,
)
from tests.scripted import Script


def parity_app(tmp_path: Path, *scripts: Script, **kwargs):
    families = {"parity": registry_families()["parity"]}
    return make_app(tmp_path, *scripts, families=families, presets=[], groups=[load_preset("fig-parity")], **kwargs)


def band(app) -> str:
    return str(app.query_one("#group-text").render())


def drawn_figure(app) -> tuple[str, FigureData]:
    """The group's figure as the watch view draws it, and the numbers it was drawn from. The paper's figure
    replaces the overlay of the group's `plot`: no metric plot beside it."""
    view = app.figure_view
    assert view.display and view.figure is not None
    assert not app.query(MetricPlot), [p.panel for p in app.query(MetricPlot)]
    return str(view.render()), figure_data(view.figure, view.states, view.snapshots)


def assert_figure_1(text: str) -> None:
    """Figure 1 as fig-parity declares it: its title, both axes named, a legend under it naming each run."""
    figure = load_preset("fig-parity").figure
    assert figure.title in text
    assert figure.y.name == "test accuracy" and figure.x.name == "training iteration"
    axes, legend = text.rstrip().split("\n")[-2:]
    assert figure.y.name in axes and figure.x.name in axes
    assert [name for name in ("d = 5", "d = 10", "d = 30", "chance 0.5") if name in legend] == [
        "d = 5",
        "d = 10",
        "d = 30",
        "chance 0.5",
    ], legend


async def choose_group(pilot, steps: str | None = None) -> None:
    app = pilot.app
    listing = app.query_one(FamilyList)
    listing.focus()
    await pilot.press("end", "enter")  # the figures come last in the list
    await wait_until(pilot, lambda: app.setup.mode == "group" and app.setup.group_form.members, "the group's form")
    if steps is not None:
        await type_into(pilot, app.query_one("#group-steps", Input), steps)
    await wait_until(pilot, lambda: not app.setup.problems, "a valid group form")
    await pilot.press("escape")  # out of the fields: s is the Start key again


def group_json(app) -> dict:
    return json.loads((app.model.groups[0].path / "group.json").read_text())


@sync
async def test_the_setup_screen_offers_the_figures_with_their_runs_claims_and_scales(tmp_path):
    app, _ = parity_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        options = [
            app.query_one(FamilyList).get_option_at_index(i).id for i in range(app.query_one(FamilyList).option_count)
        ]
        assert options[-1] == "group:fig-parity"
        await choose_group(pilot)
        assert app.form.display is False and app.setup.group_form.display is True
        runs = str(app.query_one("#group-runs").render())
        for label, preset in (("d = 5", "parity5"), ("d = 10", "parity10"), ("d = 30", "parity30")):
            assert label in runs and preset in runs
        assert runs.count("20,000 steps") == 3
        claims = str(app.query_one("#group-claims").render())
        assert "d = 30 stays at chance" in claims and "d = 5 and d = 10 are learned" in claims
        app.query_one("#group-scale", Select).value = "paper"
        await wait_until(
            pilot, lambda: str(app.query_one("#group-runs").render()).count("50,000 steps") == 3, "the paper's schedule"
        )
        await type_into(pilot, app.query_one("#group-steps", Input), "0")
        await wait_until(pilot, lambda: app.setup.problems, "the bad steps marked")
        assert "steps: got 0, expected an integer >= 1" in app.setup.problems[0]
        assert app.query_one("#start").disabled
        await type_into(pilot, app.query_one("#group-steps", Input), "300")
        await wait_until(pilot, lambda: str(app.query_one("#group-runs").render()).count("300 steps") == 3, "300")
        # Back to a family: its own form again, and Start follows that form.
        app.query_one(FamilyList).focus()
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: app.setup.mode == "run" and app.form.display, "the family's form")


async def start_group(pilot) -> None:
    """Pick fig-parity with 400 steps a run and start it."""
    await choose_group(pilot, steps="400")
    await pilot.press("s")


async def start_group_held(pilot, step: int) -> None:
    """Start fig-parity (400 steps a run) and wait until its first run is held at `step`."""
    app = pilot.app
    await start_group(pilot)
    await wait_until(pilot, lambda: app.model.active is not None and app.model.active.state.step == step, "run 1 held")


async def run_group_to_its_verdict(pilot, app):
    """Start fig-parity (400 steps a run) and wait until its verdict is in."""
    await ready(pilot)
    await start_group(pilot)
    await wait_until(
        pilot, lambda: app.model.groups and app.model.groups[0].verdict is not None, "the verdict", timeout=20
    )
    return app.model.groups[0]


@sync
async def test_a_group_runs_one_run_after_another_overlaid_and_ends_with_its_verdict(tmp_path):
    app, engines = parity_app(tmp_path, Script(end="complete"))
    async with app.run_test(size=SIZE) as pilot:
        group = await run_group_to_its_verdict(pilot, app)
        starts = [c for c in engines.last.sent if c["cmd"] == "start"]
        assert [(c["preset"], c["config"]["d"], c["config"]["steps"]) for c in starts] == [
            ("parity5", 5, 400),
            ("parity10", 10, 400),
            ("parity30", 30, 400),
        ]
        assert len(engines.made) == 1  # one engine process for the whole group
        assert app.tabs.active == "watch"
        app.redraws.draw_plots()
        await pilot.pause()
        text, data = drawn_figure(app)
        assert_figure_1(text)
        lines = data.panels[0].lines
        assert [line.name for line in lines] == ["d = 5", "d = 10", "d = 30"]
        assert all(len(line.points) == 41 for line in lines)
        # The verdict is judged on the numbers the runs sent, and shown with them.
        states = {label: app.model.entry(key).state for label, key in group.keys.items()}
        expected = judge(load_preset("fig-parity").claims, states)
        assert group.verdict.as_dict() == expected.as_dict()
        text = band(app)
        assert f"Verdict: {expected.outcome}" in text
        for result in expected.results:
            assert result.claim.says in text and result.detail in text
        assert "run 3 of 3" not in text and "completed: 3 of 3 runs" in text
        # The record is the one `gradfail run --preset fig-parity` writes.
        manifest = group_json(app)
        assert manifest["kind"] == "group" and manifest["preset"] == "fig-parity" and manifest["status"] == "completed"
        assert [(r["label"], r["dir"], r["status"], r["steps"]) for r in manifest["runs"]] == [
            ("d = 5", "01-d-5", "completed", 400),
            ("d = 10", "02-d-10", "completed", 400),
            ("d = 30", "03-d-30", "completed", 400),
        ]
        assert manifest["verdict"] == expected.as_dict()
        assert judge_record(read_group(group.path)).as_dict() == expected.as_dict()
        assert group.path.parent == tmp_path / "runs"


@sync
async def test_the_progress_line_and_x_stop_the_group_the_rest_not_run(tmp_path):
    app, engines = parity_app(tmp_path, Script(end="hold", hold_at=200))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await start_group_held(pilot, 200)
        app.redraws.draw_status()
        app.redraws.draw_plots()
        await pilot.pause()
        assert "run 1 of 3: d = 5" in status_text(app)
        assert "run 1 of 3: d = 5" in band(app)
        await pilot.press("x")
        await wait_until(pilot, lambda: app.model.groups[0].verdict is not None, "the verdict")
        group = app.model.groups[0]
        assert group.statuses == {"d = 5": "stopped", "d = 10": "not run", "d = 30": "not run"}
        assert group.verdict.outcome == "incomplete"
        assert [r.detail for r in group.verdict.results] == [
            "d = 10 did not run; d = 5 stopped at step 200",
            "d = 30 did not run",
        ]
        assert [c["cmd"] for c in engines.last.sent].count("start") == 1
        manifest = group_json(app)
        assert manifest["status"] == "stopped"
        assert [r["status"] for r in manifest["runs"]] == ["stopped", "not run", "not run"]
        assert not (group.path / "02-d-10").exists()
        app.redraws.draw_plots()
        await pilot.pause()
        assert "Verdict: incomplete" in band(app) and "d = 30 did not run" in band(app)
        assert app.check_action("stop", ()) is None and app.model.live_group is None


@sync
async def test_an_engine_that_dies_mid_group_fails_that_run_and_a_new_one_runs_the_rest(tmp_path):
    def script(cmd):  # the second run kills its engine; the others complete
        return Script(end="die", hold_at=100) if cmd["preset"] == "parity10" else Script(end="complete")

    app, engines = parity_app(tmp_path, script)
    async with app.run_test(size=SIZE) as pilot:
        group = await run_group_to_its_verdict(pilot, app)
        assert group.statuses == {"d = 5": "completed", "d = 10": "failed", "d = 30": "completed"}
        assert len(engines.made) == 2
        assert group.status == "failed"  # its worst run
        assert group.verdict.results[0].outcome == "incomplete"
        assert "d = 10 failed at step 100" in group.verdict.results[0].detail
        assert [r["status"] for r in group_json(app)["runs"]] == ["completed", "failed", "completed"]


def record_group(base: Path, finals: dict[str, float], overrides: dict[str, str] | None = None) -> Path:
    """A fig-parity record written as `gradfail run` writes one, with these last accuracies (its runs'
    settings: the preset's, with `overrides`; by default --steps 200)."""
    group = load_preset("fig-parity")
    members = group.members(overrides={"steps": 200} if overrides is None else overrides)
    path = base / "20260101-000000-fig-parity"
    path.mkdir(parents=True)
    recorder = GroupRecorder(path, group_manifest(group, members, "default", "cpu"))
    runs = recorder.manifest["runs"]
    for number, member in enumerate(members, 1):
        run_dir = recorder.run_dir(number, member.label)
        run = RunRecorder(
            run_dir,
            {
                "run_id": f"r{number}",
                "family": "parity",
                "preset": member.preset,
                "config": config_to_dict(member.config),
                "seed": 0,
            },
        )
        run.append(
            RunStarted(
                run_id=f"r{number}",
                t=0.0,
                family="parity",
                config=config_to_dict(member.config),
                seed=0,
                device="cpu",
                device_name="cpu",
                total_steps=200,
                preset=member.preset,
            )
        )
        for step in (0, 100, 200):
            value = 0.5 if step == 0 else finals[member.label]
            run.append(Metrics(run_id=f"r{number}", t=step / 100, step=step, values={"test_acc": value}))
        run.append(RunFinished(run_id=f"r{number}", t=2.0, step=200, status="completed"))
        run.finish("completed", step=200)
        runs[number - 1] = {**runs[number - 1], "status": "completed", "dir": run_dir.name, "steps": 200}
    recorder.update(runs=runs, status="completed")
    return path


@pytest.mark.parametrize("in_paper", [False, True], ids=["alone", "in-a-paper"])
@sync
async def test_a_recorded_group_opens_from_the_runs_tab_overlaid_with_its_verdict(tmp_path, in_paper):
    # A whole paper's results (gradfail run --preset paper) are groups one level deeper: listed the same.
    where = tmp_path / "runs" / "20260101-000000-paper" if in_paper else tmp_path / "runs"
    # in a paper, as `gradfail run --preset paper` records it: the shipped setup, whose seeds were audited
    path = record_group(where, {"d = 5": 1.0, "d = 10": 0.97, "d = 30": 0.52}, {} if in_paper else None)
    if in_paper:
        (where / paper.MANIFEST).write_text(json.dumps({"kind": "paper", "results": [{"dir": path.name}]}))
    app, _ = parity_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("3")
        await wait_until(pilot, lambda: app.model.groups, "the recorded group")
        table = app.query_one("#runs-table")
        await wait_until(pilot, lambda: table.row_count == 4, "a row for the group and one per run")
        assert table.get_row_at(0)[1] == "fig-parity" and table.get_row_at(0)[0] == "▣"
        assert table.get_row_at(0)[4] == "reproduced"  # the verdict, in the few columns an 80-wide screen shows
        assert {table.get_row_at(i)[1] for i in range(1, 4)} == {"d = 5", "d = 10", "d = 30"}
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.tabs.active == "watch", "the watch view")
        app.redraws.draw_plots()
        await pilot.pause()
        text, data = drawn_figure(app)
        assert_figure_1(text)
        lines = data.panels[0].lines
        assert [line.name for line in lines] == ["d = 5", "d = 10", "d = 30"]
        assert [line.points[-1][1] for line in lines] == [1.0, 0.97, 0.52]
        verdict = judge_record(read_group(path))
        assert verdict.outcome == "reproduced"
        text = band(app)
        assert "Verdict: reproduced" in text
        audited = audit_figures.lookup("fig-parity").held("default")
        assert (audited in " ".join(text.split())) == in_paper  # --steps 200 is not the setup audited
        assert "last test_acc >= 0.95: d = 5: 1, d = 10: 0.97" in text
        assert "max test_acc <= 0.6: d = 30: 0.52" in text
        # Viewing a single run again leaves the figure: its band goes, the group's runs leave the overlay.
        await pilot.press("3")
        table.move_cursor(row=1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model.shown_group is None, "the single run")
        app.redraws.draw_plots()
        await pilot.pause()
        assert app.query_one("#group-panel").display is False and len(app.model.shown_entries()) == 1
        assert app.figure_view.display is False and plots(app)  # its own panels again


@sync
async def test_a_groups_next_run_does_not_take_over_the_view_the_user_chose(tmp_path):
    recorded = record_group(tmp_path / "runs", {"d = 5": 1.0, "d = 10": 0.97, "d = 30": 0.52})
    app, engines = parity_app(tmp_path, Script(end="hold", hold_at=100))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await start_group_held(pilot, 100)
        await pilot.press("3")  # meanwhile, the user looks at the figure recorded earlier
        await wait_until(pilot, lambda: app.model.group(group_key(recorded)) is not None, "the recorded group")
        app.open_entry(group_key(recorded))
        shown, primary = app.model.shown_group, app.model.primary
        engine = engines.last
        engine._advance(400)  # run 1 ends; the group starts run 2 on its own
        engine._finish("completed", "")
        live = app.model.groups[0]
        await wait_until(
            pilot,
            lambda: live.job.number == 2 and app.model.active is not None and app.model.active.state.step == 100,
            "run 2 held",
        )
        assert app.model.shown_group is shown and app.model.primary == primary  # still the recorded figure
        assert "run 2 of 3: d = 10" in live.progress() and live.ran == 2


@sync
async def test_a_tiny_group_through_the_real_engine_leaves_the_record_gradfail_report_reads(tmp_path):
    toml = tmp_path / "tiny-group.toml"
    toml.write_text("""title = "Two small parities"
description = "d = 3 and d = 4, a few hundred steps"
plot = ["test_acc"]

[[runs]]
label = "d = 3"
preset = "parity5"
config = { d = 3, steps = 200, eval_every = 100 }

[[runs]]
label = "d = 4"
preset = "parity5"
config = { d = 4, steps = 200, eval_every = 100 }

[[claims]]
says = "both are evaluated"
runs = ["d = 3", "d = 4"]
metric = "test_acc"
stat = "last"
at_least = 0.0
""")
    group = read_any(toml)
    app = build_app(
        EngineProcess,
        families={"parity": registry_families()["parity"]},
        presets=[],
        groups=[group],
        runs_dir=tmp_path / "runs",
        plot_budget=1.0,
    )
    async with app.run_test(size=SIZE) as pilot:
        await form_filled(pilot)
        await choose_group(pilot)
        await wait_until(pilot, lambda: app.engine_ready, "the engine process", timeout=ENGINE_READY_S)
        started = time.monotonic()
        await pilot.press("s")
        await wait_until(
            pilot, lambda: app.model.groups and app.model.groups[0].verdict is not None, "the group", timeout=90
        )
        wall = time.monotonic() - started
        group_entry = app.model.groups[0]
        worker = app.conductor.slots[0].engine.pid
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", timeout=15)
    assert group_entry.statuses == {"d = 3": "completed", "d = 4": "completed"}, group_entry.verdict
    manifest = json.loads((group_entry.path / "group.json").read_text())
    assert manifest["preset"] == "tiny-group" and manifest["status"] == "completed"
    assert manifest["verdict"]["outcome"] == "reproduced" and wall < 60
    record = read_group(group_entry.path)
    assert not record.problems
    assert [label for label, _ in record.runs] == ["d = 3", "d = 4"]
    for (_label, run), d in zip(record.runs, (3, 4)):
        assert run.status == "completed" and run.manifest["config"]["d"] == d
        assert [e.step for e in run.events if isinstance(e, Metrics) and "test_acc" in e.values] == [0, 100, 200]
    assert judge_record(record).as_dict() == manifest["verdict"]
    assert not pid_alive(worker)  # no orphan engine


def test_each_scale_is_offered_with_what_it_costs():
    from engine import walltimes
    from gradfail_tui.explorer.widgets.rebuilt_form import scale_note

    measured = walltimes.lookup("fig-tuples", "cpu")  # the one source of wall times
    assert scale_note("fig-tuples", "cpu") == f"{walltimes.clock(measured.seconds)} measured on a 2-core CPU"
    assert walltimes.lookup("fig-parity", "paper") is None  # never measured: the scale's name is explained
    assert scale_note("fig-parity", "paper") == "the original schedule"


@sync
async def test_a_figure_whose_panels_do_not_fit_pages_them_with_the_brackets_shown_in_the_footer(tmp_path):
    path = write_figure_group(tmp_path / "runs", "fig-tuples")  # Figure 3: four panels, one per k
    app, _ = parity_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_recorded_group(pilot, path)
        app.redraws.draw_plots()
        await pilot.pause()
        text, _ = drawn_figure(app)
        await pilot.pause()  # the footer asks again once the figure knows it is paged
        assert "1-2 of 4" in text and "k = 1" in text and "k = 3" not in text  # the title says which
        assert app.check_action("page_panels", ()) is True
        footer = [str(label.render()) for label in app.query("FooterLabel")]
        assert footer == ["Panels"]
        await pilot.press("right_square_bracket")
        text, _ = drawn_figure(app)
        assert "3-4 of 4" in text and "k = 3" in text and "k = 1" not in text
        await pilot.press("right_square_bracket")  # past the last page: the first again
        assert "1-2 of 4" in drawn_figure(app)[0]
        await pilot.press("left_square_bracket")
        assert "3-4 of 4" in drawn_figure(app)[0]
        await pilot.press("3")  # the keys page the figure on the Watch tab only
        await pilot.pause()
        assert app.check_action("page_panels", ()) is False


def test_a_run_training_here_keeps_the_pictures_its_groups_figure_draws_and_no_more():
    entry = RunEntry("r", "linear", RunState(run_id="r", label="linear"), "session")
    for step in range(0, 60_001, 250):  # Figure 6 draws the pictures at 500, 10,000 and 50,000
        entry.keep_picture(
            Snapshot(run_id="r", t=0, step=step, name="curves", kind="lines", data={}), (500, 10_000, 50_000)
        )
    assert [s.step for s in entry.pictures] == [0, 500, 10_000, 50_000, 60_000]  # the first, each step's, the newest
    entry.keep_picture(Snapshot(run_id="r", t=0, step=60_250, name="curves", kind="lines", data={}), ("last",))
    assert [s.step for s in entry.pictures] == [0, 60_250]


@pytest.mark.parametrize("result", paper.RESULTS, ids=lambda r: r.preset)
@sync
async def test_every_group_of_the_paper_opens_on_its_figure_with_named_axes_and_a_legend(tmp_path, result):
    """Each surface draws every declared figure: the explorer's group view too (a new group gets this)."""
    path = write_figure_group(tmp_path / "runs", result.preset)
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_recorded_group(pilot, path)
        view = app.figure_view

        def drawn() -> bool:  # shown, with every series of its records named under it (a loaded machine is slow)
            if not view.display or view.figure is None or not view.states:
                return False
            legend = figure_data(view.figure, view.states, view.snapshots).legend()
            return bool(legend) and all(line.name in str(view.render()) for line in legend)

        await wait_until(pilot, drawn, "the figure and its legend")
        text, data = drawn_figure(app)
        figure = data.figure
        assert figure.title.split(":")[0] in text
        assert figure.x.label in text and figure.y.label in text
        for line in data.legend():  # every series drawn is named under the panels
            assert line.name in text, (line.name, text[-400:])
