"""Success maps: `--success "test_acc:max >= 0.95"` turns a sweep's cells into k of n seeds that passed,
with the 95% Wilson interval. Its parsing, its checks against the family, the counting per cell (a
failed seed left out of n, a diverged one not passing), sweep.json and --resume, and the drawings
(the heatmap, the table, the report) from records written here. Torch-free: the engines are scripted."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from engine.claims import Value
from engine.orchestration.sweep import SWEEP_MANIFEST, SweepRun
from engine.registry import get_family
from engine.stats import wilson_interval
from engine.status import RunStatus
from engine.sweeps import (
    SuccessTest,
    SweepError,
    SweepRecord,
    parse_success,
    resolve,
)
from tests.scripted import Engines, Script, conduct_to_end

PARITY = {"parity": get_family("parity")}


def text_of(*renderables, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()


# ---- the interval -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    # statsmodels.stats.proportion.proportion_confint(k, n, method="wilson"), to four places
    [(1, 4, 0.0456, 0.6994), (4, 4, 0.5101, 1.0), (0, 4, 0.0, 0.4899), (3, 4, 0.3006, 0.9544), (8, 16, 0.2800, 0.7200)],
)
def test_the_interval_of_a_cell_is_wilsons(k, n, low, high):
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


# ---- the test as it is written ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test_acc:max>=0.95", SuccessTest("test_acc", ">=", 0.95, "max")),
        ("test_acc:max >= 0.95", SuccessTest("test_acc", ">=", 0.95, "max")),
        ("  train_loss <= 1e-3 ", SuccessTest("train_loss", "<=", 0.001, None)),
        ("test_acc : median>=1", SuccessTest("test_acc", ">=", 1.0, "median")),
        ("snr:last<=-2.5", SuccessTest("snr", "<=", -2.5, "last")),
    ],
)
def test_a_success_test_is_parsed(text, expected):
    assert parse_success(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("test_acc 0.95", "no comparison"),
        ("", "no comparison"),
        ("test_acc > 0.95", "the comparison '>' is not one it takes (>= or <=)"),
        ("test_acc => 0.95", "the comparison '=>' is not one it takes"),
        ("test_acc == 0.95", "the comparison '==' is not one it takes"),
        (">= 0.95", "no metric before >="),
        ("test_acc: >= 0.95", "no statistic after ':'"),
        ("test_acc:best >= 0.95", "the statistic 'best' is not one of first, last, max, min, mean, median"),
        ("test_acc >=", "no value after >="),
        ("test_acc >= high", "the value 'high' is not a number"),
        ("test_acc >= nan", "the value 'nan' is not a finite number"),
    ],
)
def test_a_bad_success_test_is_one_line_naming_what_is_wrong_and_the_form(text, why):
    with pytest.raises(SweepError) as caught:
        parse_success(text)
    [line] = caught.value.problems
    assert line.startswith(f"--success {text!r}: {why}") and "\n" not in line
    assert line.endswith("; expected METRIC[:STAT] >= VALUE (or <= VALUE), e.g. test_acc:max >= 0.95")


def test_the_test_takes_the_maps_statistic_unless_it_names_one_and_is_checked_against_the_family():
    spec = resolve("parity", None, {}, {"d": "4,6"}, 2, {"stat": "max", "success": "test_acc >= 0.95"})
    assert spec.mapping.success == SuccessTest("test_acc", ">=", 0.95, "max")
    assert spec.mapping.describe_success() == "max test_acc >= 0.95"
    spec = resolve("parity", None, {}, {"d": "4,6"}, 2, {"success": parse_success("train_loss:min <= 0.1")})
    assert spec.mapping.success.stat == "min" and spec.mapping.stat == "last"
    with pytest.raises(SweepError) as caught:
        resolve("parity", None, {}, {"d": "4,6"}, 2, {"success": "objective >= 1"})
    [line] = caught.value.problems
    assert line.startswith("success metric: 'objective' is not a metric of parity; known: ")
    assert "test_acc" in line and "train_loss" in line
    with pytest.raises(SweepError, match=r"^map success 'test_acc > 1': the comparison '>'"):
        resolve("parity", None, {}, {"d": "4,6"}, 2, {"success": "test_acc > 1"})  # as a preset's [map] says it


def test_without_a_test_the_map_is_as_before():
    spec = resolve("parity", None, {}, {"d": "4,6"}, 2, {"stat": "max"})
    assert spec.mapping.success is None and "success" not in spec.as_dict()["map"]
    assert spec.mapping.describe_success() == ""


def test_a_bound_passes_or_fails_only_from_its_own_side():
    at_least = SuccessTest("snr", ">=", 1.0, "last")
    assert at_least.judge(Value(2.0)) is True and at_least.judge(Value(0.5)) is False
    assert at_least.judge(Value(1.0)) is True  # at the threshold passes
    assert at_least.judge(Value(0.5, "upper")) is False and at_least.judge(Value(2.0, "upper")) is None
    assert at_least.judge(Value(2.0, "lower")) is True and at_least.judge(Value(0.5, "lower")) is None
    at_most = SuccessTest("snr", "<=", 1.0, "last")
    assert at_most.judge(Value(0.5, "upper")) is True and at_most.judge(Value(2.0, "upper")) is None
    assert at_most.judge(Value(2.0, "lower")) is False and at_most.judge(Value(0.5, "unknown")) is None


def test_the_shipped_phase_parity_preset_maps_its_success():
    from engine.catalog import load_preset

    assert load_preset("phase-parity").resolve().mapping.success == SuccessTest("test_acc", ">=", 0.95, "max")


# ---- counting, from a hand-written record -----------------------------------------------------


def hand_written(runs: list[tuple[int, str, bool | None]]) -> dict:
    """A sweep.json with a success test: runs as (cell, status, passed), two cells d = 4 and 6."""
    return {
        "kind": "sweep",
        "title": "by hand",
        "status": "failed",
        "spec": {
            "family": "parity",
            "grid": [{"key": "d", "values": [4, 6]}],
            "seeds": [0, 1, 2, 3],
            "map": {
                "metric": "test_acc",
                "stat": "max",
                "x": "d",
                "success": {"metric": "test_acc", "stat": "max", "op": ">=", "value": 0.95},
            },
        },
        "cells": [
            {"index": c, "label": f"d={d}", "settings": {"d": d}, "runs": [n for n, r in enumerate(runs) if r[0] == c]}
            for c, d in ((0, 4), (1, 6))
        ],
        "runs": [
            {"label": f"run {n}", "cell": c, "seed": n, "status": s, "steps": 100, "value": None, "passed": p}
            for n, (c, s, p) in enumerate(runs)
        ],
    }


def test_a_cell_counts_the_seeds_that_passed_and_leaves_out_those_that_did_not_complete():
    record = SweepRecord.from_manifest(
        hand_written(
            [
                (0, "completed", True),
                (0, "completed", False),
                (0, "diverged", False),  # a result: it did not learn
                (0, "failed", None),  # left out of n
                (1, "completed", True),
                (1, "interrupted", None),  # left out of n
                (1, "running", None),  # not ended: neither counted nor left out yet
                (1, "waiting", None),
            ]
        )
    )
    assert record.problems == () and record.mapping.success == SuccessTest("test_acc", ">=", 0.95, "max")
    first, second = (cell.successes for cell in record.cells)
    assert (first.k, first.n, first.left_out, first.pending) == (1, 3, 1, 0)
    assert first.rate == pytest.approx(1 / 3) and first.interval == wilson_interval(1, 3)
    assert (second.k, second.n, second.left_out, second.pending) == (1, 1, 1, 2)
    assert first.as_dict() == {
        "k": 1,
        "n": 3,
        "low": wilson_interval(1, 3)[0],
        "high": wilson_interval(1, 3)[1],
        "left_out": 1,
    }


def test_a_cell_with_no_seed_judged_has_no_rate_and_a_damaged_test_is_named():
    manifest = hand_written([(0, "failed", None), (1, "waiting", None)])
    record = SweepRecord.from_manifest(manifest)
    counted = record.cells[0].successes
    assert (counted.n, counted.left_out, counted.rate, counted.interval) == (0, 1, None, None)
    assert counted.as_dict() == {"k": 0, "n": 0, "low": None, "high": None, "left_out": 1}
    manifest["spec"]["map"]["success"] = {"metric": "test_acc", "op": ">"}
    record = SweepRecord.from_manifest(manifest)
    assert record.mapping.success is None and any("success test" in p for p in record.problems)


def test_the_heatmap_and_the_table_show_k_of_n_and_the_interval():
    from gradfail_tui.render.heatmap import cells_table, diagram

    record = SweepRecord.from_manifest(
        hand_written([(0, "completed", True), (0, "completed", False), (0, "failed", None), (1, "completed", False)])
    )
    drawn = text_of(*diagram(record))
    assert "max test_acc >= 0.95" in drawn and "share of seeds that passed: 0.0000" in drawn
    row = next(line for line in drawn.splitlines() if "1/2" in line)
    assert row.split() == ["1/2!", "0/1"]  # `!`: a seed left out
    assert "! some seeds left out" in drawn
    table = text_of(cells_table(list(record.cells), record.keys, record.mapping.describe(), success=True))
    assert "passed" in table and "95% interval" in table and "left out" in table
    low, high = wilson_interval(1, 2)
    first = next(line for line in table.splitlines() if "1 of 2" in line)
    assert f"{low:.2f}–{high:.2f}" in first and "2 completed, 1 failed" in first
    assert " 1 " in first.replace("│", " ")  # one seed left out
    assert "0 of 1" in table and f"{wilson_interval(0, 1)[0]:.2f}–{wilson_interval(0, 1)[1]:.2f}" in table


def test_without_a_test_the_heatmap_shows_means():
    from gradfail_tui.render.heatmap import diagram

    manifest = hand_written([(0, "completed", None), (1, "completed", None)])
    del manifest["spec"]["map"]["success"]
    manifest["runs"][0]["value"], manifest["runs"][1]["value"] = 0.5, 0.75
    drawn = text_of(*diagram(SweepRecord.from_manifest(manifest)))
    assert "0.500" in drawn and "0.750" in drawn and "mean over seeds" in drawn and "/" not in drawn


# ---- a sweep that runs: sweep.json, --resume, the report ---------------------------------------


def script(cmd) -> Script:
    """d = 6: seed 1 diverges; d = 8: seed 2 fails; the rest complete (max test_acc ~0.96, so they pass)."""
    d, seed = cmd["config"]["d"], cmd.get("seed")
    if d == 6 and seed == 1:
        return Script(end="diverge")
    if d == 8 and seed == 2:
        return Script(end="fail")
    return Script()


def success_sweep(tmp_path: Path) -> SweepRun:
    spec = resolve(
        "parity",
        None,
        {"steps": "200"},
        {"d": "4,6,8"},
        3,
        {"stat": "max", "success": parse_success("test_acc >= 0.9")},
    )
    job = SweepRun(spec, tmp_path)
    conduct_to_end(job, Engines(script, families=PARITY))
    return job


def test_sweep_json_holds_the_test_once_each_runs_verdict_and_each_cells_count(tmp_path):
    success_sweep(tmp_path)
    written = json.loads((tmp_path / SWEEP_MANIFEST).read_text())
    assert written["spec"]["map"]["success"] == {
        "metric": "test_acc",
        "stat": "max",
        "op": ">=",
        "value": 0.9,
        "text": "test_acc:max >= 0.9",
    }
    passed = {(r["cell"], r["seed"]): (r["status"], r["passed"]) for r in written["runs"]}
    assert passed[(1, 1)] == ("diverged", False) and passed[(2, 2)] == ("failed", None)
    assert all(p is True for (status, p) in passed.values() if status == "completed")
    counts = [(c["success"]["k"], c["success"]["n"], c["success"]["left_out"]) for c in written["cells"]]
    assert counts == [(3, 3, 0), (2, 3, 0), (2, 2, 1)]
    assert [(c["success"]["low"], c["success"]["high"]) for c in written["cells"]] == [
        wilson_interval(3, 3),
        wilson_interval(2, 3),
        wilson_interval(2, 2),
    ]
    record = SweepRecord.read(tmp_path)  # read back, the cells count as the writer did
    assert record.mapping.success == SuccessTest("test_acc", ">=", 0.9, "max") and record.problems == ()
    assert [cell.successes.as_dict() for cell in record.cells] == [c["success"] for c in written["cells"]]


def test_resume_keeps_the_test_and_counts_the_rerun(tmp_path):
    job = success_sweep(tmp_path)
    resumed = SweepRun.resume(tmp_path)
    assert resumed.spec.mapping.success == job.spec.mapping.success
    assert sum(len(batch) for batch in resumed.pending) == 1  # the failed seed; the diverged one is a result
    conduct_to_end(resumed, Engines(families=PARITY))
    written = json.loads((tmp_path / SWEEP_MANIFEST).read_text())
    assert written["spec"]["map"]["success"]["text"] == "test_acc:max >= 0.9"
    assert written["cells"][2]["success"] == {
        "k": 3,
        "n": 3,
        "low": wilson_interval(3, 3)[0],
        "high": 1.0,
        "left_out": 0,
    }
    assert written["status"] == RunStatus.DIVERGED


def test_the_report_draws_a_success_map(tmp_path):
    from gradfail_tui.report import write_report

    (tmp_path / "s").mkdir()
    success_sweep(tmp_path / "s")
    write_report([tmp_path / "s"], tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "Mapped: the share of each cell's seeds with max test_acc >= 0.9, k of n" in text
    assert "| d | passed | 95% interval | left out | max test_acc (mean) | runs |" in text
    low, high = wilson_interval(2, 3)
    assert f"| 6 | 2 of 3 | {low:.2f}–{high:.2f} | - |" in text
    assert f"| 8 | 2 of 2 | {wilson_interval(2, 2)[0]:.2f}–1.00 | 1 |" in text
    assert "| run | status | steps | value | passed | record |" in text
    assert "| diverged | " in text and text.count("| no | ") == 1 and text.count("| yes | ") == 7
    svg = next((tmp_path / "r_files").glob("*sweep*.svg")).read_text()
    assert svg.startswith("<svg") and "2/3" in svg
