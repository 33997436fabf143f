"""Snapshots of the explorer's main screens at 80x24 and 120x36, from fixed, scripted data.

The families, presets, runs and their numbers all come from tests/scripted.py and
fixed run records, so a snapshot only changes when the UI does. After a deliberate UI change:
`pytest tests/explorer/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable, Input, Static

from tests.explorer.pilot import (
    make_app,
    open_recorded_group,
    ready,
    type_into,
    wait_until,
    write_figure_group,
    write_record,
)
from tests.scripted import Script, demo_snapshots

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


async def settle(pilot) -> None:
    """Draw the plots now and drop the notifications, so nothing depends on timing."""
    pilot.app.redraws.draw_plots()
    pilot.app.clear_notifications()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(snap_compare, tmp_path, size):
    app, _ = make_app(tmp_path)

    async def first_screen(pilot):
        await ready(pilot)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=first_screen)


def test_setup_screen_with_an_invalid_value(snap_compare, tmp_path):
    app, _ = make_app(tmp_path)

    async def invalid(pilot):
        await ready(pilot)
        await type_into(pilot, app.query_one("#field-width", Input), "0")
        await pilot.press("escape")  # no blinking cursor in the picture
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=invalid)


@pytest.mark.parametrize("size", SIZES)
def test_watch_screen_after_a_run_with_every_snapshot_kind(snap_compare, tmp_path, size):
    app, _ = make_app(tmp_path, Script(end="complete", snapshots=demo_snapshots()))

    async def run(pilot):
        await ready(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].status == "completed", "the run")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run)


def test_watch_screen_comparing_two_runs_after_a_failure(snap_compare, tmp_path):
    app, engines = make_app(tmp_path, Script(end="complete"))

    async def compare(pilot):
        await ready(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.model.entries and app.model.entries[0].status == "completed", "run 1")
        await pilot.press("c", "1")
        app.query_one("#field-preset").value = "demo-wide"
        await wait_until(pilot, lambda: app.query_one("#field-width", Input).value == "64", "the preset")
        engines.last.script = Script(end="fail", hold_at=240, message="RuntimeError in train_step at step 240")
        await pilot.press("s")
        await wait_until(pilot, lambda: len(app.model.entries) == 2 and app.model.entries[0].state.finished, "run 2")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 36), run_before=compare)


def test_runs_screen_with_a_damaged_record(snap_compare, tmp_path):
    """Brought back: it compared unstably because the picture could be taken while the Runs tab's
    second scan of the disk (one at start, one when the tab is shown, each in a worker thread) was
    still to land, and before the highlighted row's details were drawn. It now waits for both."""
    runs = tmp_path / "runs"
    good = write_record(runs, "20260101-090000-demo")
    cut = write_record(runs, "20260101-100000-demo-cut", steps=120, finished=None)
    (cut / "run.json").unlink()
    with open(cut / "events.jsonl", "a") as handle:
        handle.write('{"type": "metrics", "run_id"\n')
    for age, path in enumerate([cut, good]):  # newest first, whatever the clock says
        os.utime(path, (1_800_000_000 - age, 1_800_000_000 - age))
    app, _ = make_app(tmp_path)

    async def runs_tab(pilot):
        await ready(pilot)
        await pilot.press("3")
        table = app.query_one("#runs-table", DataTable)
        scans_done = lambda: not [w for w in app.workers if w.group == "scan" and not w.is_finished]  # noqa: E731
        await wait_until(pilot, lambda: table.row_count == 2 and scans_done(), "the records, every scan done")
        table.move_cursor(row=0)
        details = app.query_one("#run-details", Static)
        await wait_until(pilot, lambda: "demo-cut" in str(details.render()), "the first record's details")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 36), run_before=runs_tab)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("preset", ["fig-parity", "fig-snr", "fig-flat"])
def test_a_recorded_group_draws_the_papers_figure(snap_compare, tmp_path, preset, size):
    """Figures 1 (curves against the step, one per run), 5 (against k, on a log axis, with reference
    lines) and 7 (pictures, one panel per run: paged at 80x24), each with its legend and named axes."""
    path = write_figure_group(tmp_path / "runs", preset)
    app, _ = make_app(tmp_path)

    async def figure(pilot):
        await open_recorded_group(pilot, path)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=figure)
