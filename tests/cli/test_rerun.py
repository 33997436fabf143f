"""`gradfail run --at STEP:KEY=VALUE` and `gradfail run --from RUN_DIR`, as a person runs them."""

from __future__ import annotations

import pytest

from tests.conftest import gradfail, read_events, read_manifest

TINY = ("--preset", "parity10", "--set", "d=8", "--set", "batch=16", "--steps", "300", "--set", "eval_every=50")


def evaluations(path) -> list[tuple[int, dict]]:
    return [(e["step"], e["values"]) for e in read_events(path) if e["type"] == "metrics" and "test_acc" in e["values"]]


def changes(path) -> list[tuple]:
    return [(e["step"], e["setting"], e["old"], e["new"]) for e in read_events(path) if e["type"] == "setting_changed"]


@pytest.mark.parametrize(
    ("at", "why"),
    [
        ("120:d=12", "--at 120:d=12: d: cannot change during a run of the parity family; it can change eval_every, lr"),
        ("120:lrr=1", "--at 120:lrr=1: lrr: unknown setting (did you mean lr?)"),
        ("120:lr=-1", "--at 120:lr=-1: lr: got -1, expected a number > 0"),
        ("120:lr=1e39", "--at 120:lr=1e39: lr: got 1e+39, beyond float32's range"),
        ("300:lr=1", "--at 300:lr=1: the step must be 0..299 (the run trains 300 steps)"),
        ("lr=1", "--at 'lr=1': expected STEP:KEY=VALUE"),
    ],
)
def test_a_change_that_cannot_be_made_exits_2_before_training(tmp_path, at, why):
    result = gradfail("run", *TINY, "--at", at, "--out", "r", cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert why in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "r").exists()  # nothing trained, nothing recorded
    assert "Traceback" not in result.stderr


def test_at_changes_a_setting_and_from_reruns_the_record_with_the_same_numbers(tmp_path):
    first = gradfail("run", *TINY, "--seed", "4", "--at", "150:lr=0.2", "--out", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert changes(tmp_path / "a") == [(150, "lr", 0.01, 0.2)]
    assert "after step 150, lr 0.01→0.2" in first.stdout  # said when it applies
    report = gradfail("report", "a", "-o", "a.md", cwd=tmp_path, timeout=60)
    assert report.returncode == 0, report.stderr
    assert "**Changed during the run:** after step 150: lr 0.01→0.2" in (tmp_path / "a.md").read_text()
    again = gradfail("run", "--from", "a", "--out", "b", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert read_manifest(tmp_path / "b")["seed"] == 4 and changes(tmp_path / "b") == changes(tmp_path / "a")
    assert evaluations(tmp_path / "b") == evaluations(tmp_path / "a")
    # --at on top of a record replaces its change at that step; --set on top changes its config.
    other = gradfail("run", "--from", "a", "--at", "150:lr=0.05", "--set", "eval_every=100", "--out", "c", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert changes(tmp_path / "c") == [(150, "lr", 0.01, 0.05)]
    assert [step for step, _ in evaluations(tmp_path / "c")] == [0, 100, 200, 300]
    bad = gradfail("run", "--from", "nowhere", cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "--from nowhere: not a run directory" in bad.stderr
    both = gradfail("run", "--from", "a", "--preset", "parity5", cwd=tmp_path, timeout=60)
    assert both.returncode == 2 and "leave out --preset/--family" in both.stderr


def test_families_show_says_which_settings_may_change_during_a_run(tmp_path):
    shown = gradfail("families", "show", "parity", cwd=tmp_path, timeout=60)
    assert shown.returncode == 0 and "may change during a run" in shown.stdout
    assert "eval_every, lr" in " ".join(shown.stdout.split())


def test_a_learning_rate_beyond_float32_is_refused_by_set_before_training(tmp_path):
    result = gradfail("run", "--family", "flat", "--set", "lr=1e38", "--out", "r", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "beyond float32's range" in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "r").exists()
