"""Refinement (`--refine N`): new cells bisect, along x in each row, the neighbours whose shares of seeds
that passed lie on either side of one half, until N extra cells are spent or every boundary is located to
the axis' resolution. On scripted engines whose boundary is known (parity's d: a seed passes at d <= 13
with 100 steps, d <= 17 with 200; beyond, it diverges, which does not pass): it must be found, within the
resolution, in few cells; sweep.json marks the refined cells and keeps the plan, and --resume goes on with
it. Torch-free."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from engine.orchestration.sweep import SWEEP_MANIFEST, SweepRun
from engine.registry import get_family
from engine.sweeps import (
    RefinePlan,
    SweepError,
    SweepRecord,
    boundaries,
    early_stop,
    parse_success,
    refine_plan,
    resolve,
)
from tests.scripted import Engines, Script, conduct_to_end

PARITY = {"parity": get_family("parity")}
EDGE = {100: 13, 200: 17}  # steps -> the largest d that passes


def known_boundary(cmd) -> Script:
    """Every seed passes (max test_acc ~0.95) up to the edge, and diverges beyond it."""
    config = cmd["config"]
    return Script() if config["d"] <= EDGE[config["steps"]] else Script(end="diverge")


def sweep(tmp_path: Path, success: str | None = "test_acc:max >= 0.9", grid: dict | None = None) -> SweepRun:
    mapping = {"stat": "max", "x": "d", "y": "steps"} | ({"success": parse_success(success)} if success else {})
    spec = resolve("parity", None, {}, grid or {"d": "4:20:4", "steps": "100,200"}, 2, mapping)
    return SweepRun(spec, tmp_path)


def text_of(*renderables, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()


def test_refinement_finds_a_known_boundary_to_the_integer_in_few_cells(tmp_path):
    job = sweep(tmp_path)
    job.refine(8)
    conduct_to_end(job, Engines(known_boundary, families=PARITY))
    record = SweepRecord.read(tmp_path)
    # at 100 steps 12 | 16: 14 fails, then 13 passes; at 200 steps 16 | 20: 18 fails, then 17 passes
    refined = sorted((c.settings["steps"], c.settings["d"]) for c in record.cells if c.refined)
    assert refined == [(100, 13), (100, 14), (200, 17), (200, 18)]
    found = {b.y: b for b in boundaries(record)}
    for steps, edge in EDGE.items():
        [(last, first)] = found[steps].crossings
        assert (last.x, first.x) == (edge, edge + 1)
        assert (last.counted.k, last.counted.n, first.counted.k, first.counted.n) == (2, 2, 0, 2)
        assert found[steps].located(1)
    assert found[100].describe(1.0) == "d* between 13 (2 of 2) and 14 (0 of 2) at steps = 100 (located)"
    plan = record.refinement
    assert plan == RefinePlan("d", 8, 4, 1.0, True, 2, "located")  # two rounds; located before the budget was spent


def test_a_float_axis_stops_at_its_resolution(tmp_path):
    spec = resolve("parity", None, {"steps": "100"}, {"lr": "0.1,0.5"}, 1, {"success": "test_acc:max >= 0.9"})
    assert refine_plan(spec, 4).resolution == pytest.approx(0.4 / 64)
    assert refine_plan(spec, 4, 0.05).resolution == 0.05
    job = SweepRun(spec, tmp_path)
    job.refine(20, resolution=0.05)
    conduct_to_end(
        job, Engines(lambda cmd: Script() if cmd["config"]["lr"] <= 0.33 else Script(end="diverge"), families=PARITY)
    )
    [boundary] = boundaries(SweepRecord.read(tmp_path))
    [(last, first)] = boundary.crossings
    assert last.x <= 0.33 < first.x and first.x - last.x <= 0.05
    assert len([c for c in SweepRecord.read(tmp_path).cells if c.refined]) == 3  # 0.4 -> 0.2 -> 0.1 -> 0.05


def test_sweep_json_marks_refined_cells_and_keeps_the_plan(tmp_path):
    job = sweep(tmp_path)
    job.refine(1)
    conduct_to_end(job, Engines(known_boundary, families=PARITY))
    written = json.loads((tmp_path / SWEEP_MANIFEST).read_text())
    assert written["refine"] == {
        "axis": "d",
        "cells": 1,
        "left": 0,
        "resolution": 1.0,
        "integer": True,
        "rounds": 1,
        "ended": "spent",
    }
    [cell] = [c for c in written["cells"] if c.get("refined")]
    assert cell["settings"] == {"d": 14, "steps": 100} and cell["label"] == "d=14, steps=100"  # row order on a tie
    assert all("refined" not in c for c in written["cells"][:10])
    assert [written["runs"][n]["status"] for n in cell["runs"]] == ["diverged", "diverged"]
    assert cell["success"]["n"] == 2 and written["spec"]["grid"][0]["values"] == [4, 8, 12, 16, 20]  # the grid as given


def test_the_heatmap_marks_refined_columns_and_names_the_boundaries(tmp_path):
    from gradfail_tui.render.heatmap import boundary_parts, diagram

    job = sweep(tmp_path)
    job.refine(8)
    conduct_to_end(job, Engines(known_boundary, families=PARITY))
    record = SweepRecord.read(tmp_path)
    drawn = text_of(*diagram(record), width=120)
    assert "+13" in drawn and "+17" in drawn and "+: added by refinement" in drawn
    row = next(line for line in drawn.splitlines() if line.strip().startswith("100"))
    assert row.split() == ["100", "2/2", "2/2", "2/2", "2/2", "0/2", "0/2", "0/2"]  # blank where 100 was not refined
    parts = text_of(*boundary_parts(record, width=80))
    assert "d* between 17 (2 of 2) and 18 (0 of 2) at steps = 200 (located)" in parts
    assert "every boundary located" in parts and "d* against steps" in parts


def test_a_budget_too_small_spends_it_widest_first_and_says_so(tmp_path):
    job = sweep(tmp_path, grid={"d": "4,12,20", "steps": "100,200"})
    job.refine(2)
    conduct_to_end(job, Engines(known_boundary, families=PARITY))
    record = SweepRecord.read(tmp_path)
    assert record.refinement.left == 0 and record.refinement.ended == "spent"
    assert sorted(c.settings["d"] for c in record.cells if c.refined) == [16, 16]  # 12 | 20 in both rows
    from gradfail_tui.render.heatmap import boundary_parts

    assert "no extra cell left" in text_of(*boundary_parts(record))


def test_resume_goes_on_with_a_refinement_and_reruns_a_refined_cell_that_failed(tmp_path):
    def first_session(cmd) -> Script:
        return Script(end="fail") if cmd["config"]["d"] == 14 else known_boundary(cmd)

    job = sweep(tmp_path)
    job.refine(8)
    conduct_to_end(job, Engines(first_session, families=PARITY))
    before = SweepRecord.read(tmp_path)
    failed = [c for c in before.cells if c.refined and c.settings["d"] == 14]
    assert failed and all(c.successes.n == 0 for c in failed)
    found = {b.y: b for b in boundaries(before)}
    assert not found[100].located(1)  # 12 | 16, its middle failed: it waits for --resume
    left = before.refinement.left

    resumed = SweepRun.resume(tmp_path)
    assert resumed.refinement.left == left and resumed.pending  # the failed refined runs first
    conduct_to_end(resumed, Engines(known_boundary, families=PARITY))
    after = SweepRecord.read(tmp_path)
    found = {b.y: b for b in boundaries(after)}
    assert [(a.x, b.x) for a, b in found[100].crossings] == [(13, 14)]
    assert [(a.x, b.x) for a, b in found[200].crossings] == [(17, 18)]
    assert after.refinement.left < left and sum(c.refined for c in after.cells) == 8 - after.refinement.left

    more = SweepRun.resume(tmp_path)  # --resume DIR --refine N: N more, nothing left to locate here
    more.refine(3)
    assert more.refinement.left == 3 and not more.pending and more.refinement.ended == "located"


def test_refine_needs_a_success_test_and_a_numeric_x():
    spec = resolve("parity", None, {}, {"d": "4,8", "steps": "100,200"}, 1, {"x": "d"})
    with pytest.raises(SweepError) as caught:
        refine_plan(spec, 4)
    assert caught.value.problems == [
        "--refine needs a success test (--success, or the preset's map success): "
        "it looks for where the share of seeds that pass crosses one half"
    ]
    spec = resolve("parity", None, {}, {"optimizer": "sgd,adam"}, 1, {"success": "test_acc:max >= 0.9"})
    with pytest.raises(SweepError, match="^--refine: the map's x axis, 'optimizer', is not a number"):
        refine_plan(spec, 4)


@pytest.mark.parametrize(
    ("test", "why"),
    [
        ("test_acc:last >= 0.9", "a later evaluation can still change a run's last"),
        ("test_acc:mean >= 0.9", "a later evaluation can still change a run's mean"),
        ("test_acc:max <= 0.9", "can be decided early only as failing"),
    ],
)
def test_stop_when_decided_takes_only_tests_a_run_can_meet_before_it_ends(test, why):
    spec = resolve("parity", None, {}, {"d": "4,8"}, 1, {"success": test})
    with pytest.raises(SweepError) as caught:
        early_stop(spec.mapping)
    [line] = caught.value.problems
    assert line.startswith(f"--stop-when-decided: {test!r} is decided only when a run ends") and why in line
    spec = resolve("parity", None, {}, {"d": "4,8"}, 1, {"success": "train_loss:min <= 0.1", "from_step": 100})
    assert early_stop(spec.mapping) == {
        "metric": "train_loss",
        "stat": "min",
        "op": "<=",
        "value": 0.1,
        "from_step": 100,
        "until_step": None,
        "text": "train_loss:min <= 0.1",
    }


def test_the_start_command_carries_the_test_under_stop_when_decided(tmp_path):
    job = sweep(tmp_path)
    job.stop_when_decided()
    engines = Engines(known_boundary, families=PARITY)
    conduct_to_end(job, engines)
    starts = [cmd for engine in engines.made for cmd in engine.sent if cmd["cmd"] == "start"]
    assert starts and all(cmd["stop_when"]["text"] == "test_acc:max >= 0.9" for cmd in starts)
    assert json.loads((tmp_path / SWEEP_MANIFEST).read_text())["stop_when_decided"] is True
    resumed = SweepRun.resume(tmp_path)
    assert resumed.stop_when == job.stop_when  # --resume goes on stopping early


def test_the_report_names_the_boundaries_marks_refined_cells_and_draws_the_curve(tmp_path):
    from gradfail_tui.report import write_report

    (tmp_path / "s").mkdir()
    job = sweep(tmp_path / "s")
    job.refine(8)
    conduct_to_end(job, Engines(known_boundary, families=PARITY))
    write_report([tmp_path / "s"], tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "### Boundaries" in text and "Refined along d (`--refine 8`): 4 extra cells in 2 rounds" in text
    assert r"- d\* between 13 (2 of 2) and 14 (0 of 2) at steps = 100 (located)" in text
    assert "| +13 | 100 | 2 of 2 |" in text
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.endswith("| 2 completed |")]
    assert rows[:4] == ["4", "4", "8", "8"] and "+13" in rows  # in order of d, the refined ones among them
    assert any("boundary" in path.name for path in (tmp_path / "r_files").glob("*.svg"))
