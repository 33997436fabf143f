"""A sweep preset started from the explorer's Setup tab: its phase diagram fills in on the Watch tab
as cells complete, x stops it leaving sweep.json consistent, and its cells are rows once it has ended."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from rich.console import Console

from engine.catalog import load_preset
from engine.orchestration.sweep import SWEEP_MANIFEST
from engine.record import read_run
from engine.registry import get_family
from gradfail_tui.explorer.widgets.sweep_form import SweepForm
from tests.explorer.pilot import SIZE, make_app, pin_cores, ready, sync, wait_until
from tests.scripted import Script, demo_families


@pytest.fixture(autouse=True)
def one_core(monkeypatch):
    """One core: the sweep runs on the explorer's one engine (test_sweep_pool.py: on a pool of two)."""
    pin_cores(monkeypatch, 1)


def small_phase_parity():
    """The shipped phase-parity preset on a 2 x 2 grid with one seed: four runs, one a batch."""
    return dataclasses.replace(
        load_preset("phase-parity"), grid={"d": [4, 6], "steps": [200, 400]}, seeds=1, scales_table={}
    )


def hold_d6(cmd) -> Script:
    """d = 4 trains at once; d = 6 holds half way until stopped (the sweep is caught running)."""
    return Script(end="hold") if cmd["config"]["d"] == 6 else Script()


def screen_text(widget) -> str:
    """What a Static shows, as plain text (markup rendered, or its Rich renderable printed without colour)."""
    if isinstance(widget.content, str):
        return str(widget.render())
    console = Console(file=io.StringIO(), width=118, no_color=True)
    console.print(widget.content)
    return console.file.getvalue()


def sweep_app(tmp_path, script=hold_d6):
    families = {**demo_families(), "parity": get_family("parity")}
    return make_app(tmp_path, script, families=families, sweeps=[small_phase_parity()])


@sync
async def test_a_sweep_preset_started_from_setup_fills_in_its_heatmap_and_stops_consistently(tmp_path):
    app, _ = sweep_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        families = app.query_one("#families")
        families.highlighted = families.get_option_index("sweep:phase-parity")
        families.action_select()
        await wait_until(pilot, lambda: app.query_one(SweepForm).spec is not None, "the sweep form")
        assert app.setup.mode == "sweep" and not app.setup.problems
        grid = screen_text(app.query_one("#sweep-grid"))
        assert "4 cells x 1 seeds = 4 runs" in grid and "d: 4, 6" in grid and "steps: 200, 400" in grid

        await pilot.press("s")
        group = app.model.shown_group
        await wait_until(
            pilot,
            lambda: group is not None and group.job.counts()["done"] == 2 and group.job.counts()["running"] == 1,
            "the d = 4 cells completed and a d = 6 run held",
        )
        assert app.tabs.active == "watch" and app.model.live_group is group
        # Only the run training now is in the model: the ended runs are in sweep.json and on disk.
        assert [e.label for e in app.model.entries] == ["d=6, steps=200, seed 0"]
        app.redraws.draw_plots()
        await pilot.pause()
        shown = screen_text(app.query_one("#group-text"))
        assert "running: 2/4 runs done, 1 running, 0 failed" in shown and "x stops the sweep" in shown
        rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line.strip()[:1].isdigit()}
        # phase-parity maps its success test: each ended cell shows k/n of its seeds that passed
        passed = {c["label"]: f"{c['success']['k']}/{c['success']['n']}" for c in group.sweep["cells"]}
        assert rows["200"][0] == passed["d=4, steps=200"] and rows["400"][0] == passed["d=4, steps=400"]
        assert rows["200"][1] == "…" and rows["400"][1] == "·"  # d = 6: one cell training, one waiting

        await pilot.press("x")
        await wait_until(pilot, lambda: group.job.finished, "the sweep to stop")
        record = json.loads((group.path / SWEEP_MANIFEST).read_text())
        statuses = [run["status"] for run in record["runs"]]
        assert record["status"] == "stopped" and record["ended_at"]
        assert statuses == ["completed", "completed", "stopped", "waiting"]
        assert group.progress().endswith("2/4 runs done, 0 running, 0 failed, 1 stopped")  # stopped is no failure
        for run in record["runs"][:3]:  # each run that started has its own record, which says how it ended
            assert read_run(group.path / run["dir"]).status == run["status"]
        assert record["runs"][3]["dir"] is None  # never started: --resume runs it
        assert [c["mean"] is not None for c in record["cells"]] == [True, True, False, False]

        # Once ended, the sweep is read back as a record: its cells are rows, each opening its runs.
        await wait_until(
            pilot,
            lambda: any(g.cell is not None and g.path == group.path for g in app.model.groups),
            "the sweep's cells listed in Runs",
        )
        cell = next(g for g in app.model.groups if g.cell is not None and g.name == "· d=4, steps=400")
        await wait_until(pilot, lambda: all(app.model.entry(k) for k in cell.keys.values()), "the cell's runs")
        app.open_entry(cell.key)
        assert [e.label for e in app.model.shown_entries()] == ["d=4, steps=400, seed 0"]
        assert sum(1 for g in app.model.groups if g.key == group.key) == 1  # the session row gave way to the record


@sync
async def test_quitting_while_a_sweep_runs_leaves_sweep_json_interrupted_and_consistent(tmp_path):
    app, _ = sweep_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await app.setup.pick_sweep("phase-parity")
        await wait_until(pilot, lambda: app.query_one(SweepForm).spec is not None, "the sweep form")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.active is not None and app.model.active.state.step > 0, "a held run")
        path = app.model.shown_group.path
        await pilot.press("q")
    record = json.loads((path / SWEEP_MANIFEST).read_text())
    assert record["status"] == "interrupted"
    assert [run["status"] for run in record["runs"]] == ["completed", "completed", "interrupted", "waiting"]


@sync
async def test_a_sweep_preset_given_on_the_command_line_is_chosen_in_setup(tmp_path):
    families = {**demo_families(), "parity": get_family("parity")}
    app, _ = make_app(
        tmp_path, Script(), families=families, sweeps=[small_phase_parity()], preset="phase-parity", autostart=True
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: app.model.shown_group is not None and app.model.shown_group.job.finished,
            "the sweep to run to its end",
        )
        group = app.model.shown_group
        assert group.status == "completed" and group.job.counts()["done"] == 4
