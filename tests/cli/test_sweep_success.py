"""`gradfail sweep --success` as a person runs it: a tiny real sweep (the faulty family: one setting
completes, one diverges, one fails) mapped as k of n seeds that passed, its report, --resume keeping
the test, and bad tests refused in one line before anything runs."""

from __future__ import annotations

import json

import pytest

from engine.stats import wilson_interval
from tests.conftest import gradfail


def test_a_success_map_counts_passed_seeds_leaves_out_failed_ones_and_resume_keeps_the_test(tmp_path):
    result = gradfail(
        "sweep", "--family", "faulty", "--grid", "fault=none,nan,raise", "--steps", "60", "--seeds", "2",
        "--success", "train_loss:last<=10", "--workers", "2", "--out", "s", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # the raising runs failed
    out = result.stdout
    assert "last train_loss <= 10" in out and "share of seeds that passed" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()[:1] in (["none"], ["nan"], ["raise"])}
    low, high = wilson_interval(2, 2)
    assert "2 of 2" in rows["none"] and f"{low:.2f}–{high:.2f}" in rows["none"]
    assert "0 of 2" in rows["nan"] and "2 diverged" in rows["nan"]  # a diverged seed did not pass
    assert "2 failed" in rows["raise"] and " 2 " in rows["raise"].replace("│", " ")  # left out of n
    assert "2 seeds left out of n (failed or interrupted)" in " ".join(out.split())
    heatmap = next(line for line in out.splitlines() if "2/2" in line)
    assert heatmap.split() == ["2/2", "0/2", "✗"]

    manifest = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert manifest["spec"]["map"]["success"]["text"] == "train_loss:last <= 10"
    assert [c["success"]["k"] for c in manifest["cells"]] == [2, 0, 0]
    assert [c["success"]["n"] for c in manifest["cells"]] == [2, 2, 0]

    report = gradfail("report", "s", "-o", "r.md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r.md").read_text()
    assert "| fault | passed | 95% interval | left out |" in text and "| raise | - | - | 2 |" in text

    refused = gradfail("sweep", "--resume", "s", "--success", "train_loss<=1", cwd=tmp_path)
    assert refused.returncode == 2 and "leave out --success" in refused.stderr
    again = gradfail("sweep", "--resume", "s", cwd=tmp_path)
    assert again.returncode == 1 and "(2 to run)" in again.stdout  # the failed seeds, run again
    assert "last train_loss <= 10" in again.stdout and "2 of 2" in again.stdout


@pytest.mark.parametrize(
    ("success", "expected"),
    [
        ("train_loss < 10", "--success 'train_loss < 10': the comparison '<' is not one it takes (>= or <=)"),
        ("objective>=1", "success metric: 'objective' is not a metric of parity; known: "),
    ],
)
def test_a_bad_success_test_exits_2_in_one_line_and_records_nothing(tmp_path, success, expected):
    result = gradfail(
        "sweep", "--family", "parity", "--grid", "d=4,6", "--success", success, "--out", "s", cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "s").exists()
