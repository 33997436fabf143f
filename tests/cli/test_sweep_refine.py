"""`gradfail sweep --refine N` and `--stop-when-decided` as a person runs them: refused in one line where
they cannot apply (before anything is recorded), and a tiny real parity sweep that stops its passing runs
early (completed, the reason in sweep.json and the run's own record) while the failing ones train their
full budget, with the same k of n in every cell as without the early stops."""

from __future__ import annotations

import json

import pytest

from tests.conftest import gradfail


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--refine", "4"],
            "--refine needs a success test (--success, or the preset's map success): "
            "it looks for where the share of seeds that pass crosses one half",
        ),
        (
            ["--stop-when-decided"],
            "--stop-when-decided needs a success test (--success, or the preset's map success): "
            "a run stops once it has passed it",
        ),
        (
            ["--success", "test_acc:last >= 0.9", "--stop-when-decided"],
            "--stop-when-decided: 'test_acc:last >= 0.9' is decided only when a run ends "
            "(a later evaluation can still change a run's last); it takes max >= VALUE, min <= VALUE or first",
        ),
        (
            ["--success", "test_acc:max >= 0.9", "--grid", "optimizer=sgd,adam", "--x", "optimizer", "--refine", "2"],
            "--refine: the map's x axis, 'optimizer', is not a number; refinement bisects along x",
        ),
    ],
)
def test_refine_and_early_stops_are_refused_in_one_line_where_they_cannot_apply(tmp_path, options, expected):
    result = gradfail("sweep", "--family", "parity", "--grid", "d=4,6", *options, "--out", "s", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert " ".join(result.stderr.split()) == "• " + expected or expected in " ".join(result.stderr.split())
    assert not (tmp_path / "s").exists()


def parity_sweep(tmp_path, out: str, *extra: str):
    return gradfail(
        "sweep", "--family", "parity", "--grid", "d=2,3,16", "--steps", "600", "--set", "eval_every=50",
        "--set", "lr=0.1", "--seeds", "2", "--success", "test_acc:max >= 0.95", "--workers", "1",
        "--out", out, *extra, cwd=tmp_path,
    )  # fmt: skip


def test_passing_runs_stop_early_failing_ones_run_their_budget_and_the_counts_are_the_same(tmp_path):
    early = parity_sweep(tmp_path, "early", "--stop-when-decided")
    assert early.returncode == 0, early.stdout + early.stderr
    out = " ".join(early.stdout.split())
    assert "a run stops once test_acc:max >= 0.95" in out and "stopped early once passed" in out
    assert "d* between 3 (2 of 2) and 16 (0 of 2)" in out
    manifest = json.loads((tmp_path / "early" / "sweep.json").read_text())
    assert manifest["stop_when_decided"] is True
    runs = {(r["cell"], r["seed"]): r for r in manifest["runs"]}
    for cell in (0, 1):  # d = 2 and 3 learn their parity within 600 steps
        for seed in (0, 1):
            run = runs[(cell, seed)]
            assert run["status"] == "completed" and run["passed"] is True and run["steps"] < 600
            assert run["stopped_early"] == f"test_acc:max >= 0.95 met at step {run['steps']:,}"
            record = json.loads((tmp_path / "early" / run["dir"] / "run.json").read_text())
            assert record["status"] == "completed" and record["stopped_early"] == run["stopped_early"]
    for seed in (0, 1):  # d = 16 does not: its failure is the finding, at its full budget
        run = runs[(2, seed)]
        assert (run["status"], run["passed"], run["steps"]) == ("completed", False, 600)
        assert "stopped_early" not in run

    full = parity_sweep(tmp_path, "full")
    assert full.returncode == 0, full.stdout + full.stderr
    counts = {
        name: [c["success"] for c in json.loads((tmp_path / name / "sweep.json").read_text())["cells"]]
        for name in ("early", "full")
    }
    assert counts["early"] == counts["full"]
    steps = {
        name: sum(r["steps"] for r in json.loads((tmp_path / name / "sweep.json").read_text())["runs"])
        for name in counts
    }
    assert steps["early"] < steps["full"] == 6 * 600
