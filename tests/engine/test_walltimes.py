"""engine.walltimes.recorded: the wall times a finished record kept, for benchmarks/walltimes.py --from-record."""

from __future__ import annotations

import json

import pytest

from engine.walltimes import WallTime, WallTimeError, recorded


def write(path, name, manifest):
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(json.dumps(manifest))
    return path


def test_a_paper_gives_each_completed_group_its_time_and_says_how(tmp_path):
    paper = write(tmp_path / "paper", "paper.json", {
        "kind": "paper", "scale": "cpu", "ended_at": "2026-12-05T03:00:00+00:00", "wall_s": 1900.0,
        "results": [
            {"preset": "fig-parity", "dir": "01-fig-parity", "status": "completed", "wall_s": 4.6},
            {"preset": "fig-tuples", "dir": "05-fig-tuples", "status": "completed", "wall_s": 1500.2},
            {"preset": "fig-flat", "status": "interrupted", "wall_s": 12.0},  # its time says nothing
        ],
    })  # fmt: skip
    write(paper / "01-fig-parity", "group.json", {"scale": "default"})  # it has no cpu scale: it ran its default
    times = recorded(paper, "2-core CPU")
    assert [(t.group, t.scale, t.seconds, t.date) for t in times] == [
        ("fig-parity", "default", 4.6, "2026-12-05"), ("fig-tuples", "cpu", 1500.2, "2026-12-05")
    ]  # fmt: skip
    assert times[1] == WallTime(
        "fig-tuples", "cpu", 1500.2, "2-core CPU", "2026-12-05",
        "gradfail run --preset paper --scale cpu (its fig-tuples; the whole paper 31:40)",
    )  # fmt: skip


def test_a_group_gives_its_own_time_only_when_it_completed(tmp_path):
    done = write(tmp_path / "g", "group.json", {"preset": "fig-pwl", "status": "completed", "wall_s": 107.0})
    assert recorded(done, "m") == [WallTime("fig-pwl", "default", 107.0, "m", "", "gradfail run --preset fig-pwl")]
    stopped = write(tmp_path / "s", "group.json", {"preset": "fig-pwl", "status": "interrupted", "wall_s": 3.0})
    with pytest.raises(WallTimeError, match="did not complete"):
        recorded(stopped, "m")
    with pytest.raises(WallTimeError, match="no paper.json or group.json"):
        recorded(tmp_path / "nothing", "m")
