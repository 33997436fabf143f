"""engine.walltimes.recorded: the wall times a finished record kept, for benchmarks/walltimes.py --from-record,
each with the fingerprint of the runs it timed, read from their records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.walltimes import WallTime, WallTimeError, recorded, runs_setup


def write(path, name, manifest):
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(json.dumps(manifest))
    return path


def with_runs(group, *runs):
    """`group` holding a run record per (dir, config): what a wall time says it timed."""
    for name, config in runs:
        write(group / name, "run.json", {"config": config})
    return group


def test_a_paper_gives_each_completed_group_its_time_its_runs_and_says_how(tmp_path):
    paper = write(tmp_path / "paper", "paper.json", {
        "kind": "paper", "scale": "cpu", "ended_at": "2026-12-05T03:00:00+00:00", "wall_s": 1900.0,
        "results": [
            {"preset": "fig-parity", "dir": "01-fig-parity", "status": "completed", "wall_s": 4.6},
            {"preset": "fig-tuples", "dir": "05-fig-tuples", "status": "completed", "wall_s": 1500.2},
            {"preset": "fig-flat", "status": "interrupted", "wall_s": 12.0},  # its time says nothing
        ],
    })  # fmt: skip
    write(paper / "01-fig-parity", "group.json", {"scale": "default"})  # it has no cpu scale: it ran its default
    with_runs(paper / "01-fig-parity", ("01-d-10", {"d": 10}))
    with_runs(paper / "05-fig-tuples", ("01-k-2", {"k": 2, "steps": 2000}), ("02-k-2", {"k": 2, "steps": 2000}))
    times = recorded(paper, "2-core CPU")
    assert [(t.group, t.scale, t.seconds, t.date) for t in times] == [
        ("fig-parity", "default", 4.6, "2026-12-05"), ("fig-tuples", "cpu", 1500.2, "2026-12-05")
    ]  # fmt: skip
    assert times[1] == WallTime(
        "fig-tuples", "cpu", 1500.2, "2-core CPU", "2026-12-05",
        "gradfail run --preset paper --scale cpu (its fig-tuples; the whole paper 31:40)",
        runs_setup([("01-k-2", {"k": 2, "steps": 2000}), ("02-k-2", {"k": 2, "steps": 2000})]),
    )  # fmt: skip
    assert times[0].setup == runs_setup([("01-d-10", {"d": 10})]) != times[1].setup


def test_a_group_gives_its_own_time_only_when_it_completed_and_its_runs_are_recorded(tmp_path):
    done = write(tmp_path / "g", "group.json", {"preset": "fig-pwl", "status": "completed", "wall_s": 107.0})
    with_runs(done, ("01-conv", {"steps": 500}))
    said = WallTime(
        "fig-pwl", "default", 107.0, "m", "", "gradfail run --preset fig-pwl", runs_setup([("01-conv", {"steps": 500})])
    )
    assert recorded(done, "m") == [said]
    stopped = write(tmp_path / "s", "group.json", {"preset": "fig-pwl", "status": "interrupted", "wall_s": 3.0})
    with pytest.raises(WallTimeError, match="did not complete"):
        recorded(stopped, "m")
    with pytest.raises(WallTimeError, match="no paper.json or group.json"):
        recorded(tmp_path / "nothing", "m")
    bare = write(tmp_path / "bare", "group.json", {"preset": "fig-pwl", "status": "completed", "wall_s": 9.0})
    with pytest.raises(WallTimeError, match="no run records"):  # a time of unknown runs is said of nothing
        recorded(bare, "m")


def test_the_runs_setup_changes_with_settings_and_seed_counts_not_with_seeds():
    one = runs_setup([("k = 2 (seed 0)", {"k": 2}), ("k = 2 (seed 1)", {"k": 2})])
    assert one == runs_setup([("k = 2 (seed 100)", {"k": 2}), ("k = 2 (seed 101)", {"k": 2})])  # another block
    assert one != runs_setup([("k = 2 (seed 0)", {"k": 2})])  # fewer seeds
    assert one != runs_setup([("k = 2 (seed 0)", {"k": 3}), ("k = 2 (seed 1)", {"k": 3})])  # other settings


@pytest.mark.parametrize(
    ("names", "said"),
    [
        (["nosuch"], "unknown preset 'nosuch'"),
        (["fig-parity", "nosuch"], "unknown preset 'nosuch'"),  # the typo is found before fig-parity is timed
        (["parity30"], "parity30 is not a group preset"),
        (["fig-parity", "--scale", "huge"], "--scale huge: fig-parity has the scales default, paper"),
    ],
)
def test_the_script_refuses_a_name_it_cannot_time_before_timing_anything(tmp_path, names, said):
    """benchmarks/walltimes.py checks every group named before it runs the first, and writes nothing."""
    root = Path(__file__).resolve().parents[2]
    kept = {path: path.read_bytes() for path in (root / "presets/measured/walltimes.toml", root / "docs/presets.md")}
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks/walltimes.py"), *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # no group was started
    assert all(path.read_bytes() == text for path, text in kept.items())
