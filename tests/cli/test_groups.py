"""Group presets run headless, with `gradfail run --preset`: faults, Ctrl-C, and options that do not apply.

(Reading group presets and judging their claims: tests/engine/test_groups.py.)
"""

import json
import signal
import time

from engine.claims import Outcome
from tests.conftest import gradfail, read_manifest, start_gradfail


def write_group(tmp_path, runs, claims=""):
    path = tmp_path / "group.toml"
    path.write_text('title = "test group"\ndescription = "d"\nplot = ["test_acc"]\n' + runs + claims)
    return path


FAULTY_CLAIM = '[[claims]]\nsays = "a stays at chance"\nruns = ["a"]\nmetric = "test_acc"\nat_most = 0.6\n'


def test_a_group_runs_on_after_a_run_fails_and_even_after_the_engine_dies(tmp_path):
    path = write_group(
        tmp_path,
        (
            '[[runs]]\nlabel = "a"\nfamily = "faulty"\nconfig = { steps = 60 }\n'
            '[[runs]]\nlabel = "b"\nfamily = "faulty"\nconfig = { fault = "exit", at_step = 30 }\n'
            '[[runs]]\nlabel = "c"\nfamily = "faulty"\nconfig = { fault = "raise", at_step = 30 }\n'
            '[[runs]]\nlabel = "d"\nfamily = "faulty"\nconfig = { steps = 60 }\n'
        ),
        FAULTY_CLAIM + FAULTY_CLAIM.replace('["a"]', '["c"]'),
    )
    result = gradfail("run", "--preset", str(path), "--out", "g", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    group = json.loads((tmp_path / "g" / "group.json").read_text())
    assert [r["status"] for r in group["runs"]] == ["completed", "failed", "failed", "completed"]
    assert read_manifest(tmp_path / "g" / "04-d")["status"] == "completed"  # a fresh engine ran it
    assert group["verdict"]["outcome"] == Outcome.INCOMPLETE
    assert [c["outcome"] for c in group["verdict"]["claims"]] == [Outcome.REPRODUCED, Outcome.INCOMPLETE]
    assert "Verdict: incomplete" in result.stdout


def test_an_interrupted_group_keeps_what_ran_and_marks_the_rest(tmp_path):
    path = write_group(
        tmp_path,
        (
            '[[runs]]\nlabel = "a"\nfamily = "faulty"\nconfig = { steps = 40 }\n'
            '[[runs]]\nlabel = "b"\nfamily = "faulty"\nconfig = { steps = 100000, step_sleep = 0.01 }\n'
            '[[runs]]\nlabel = "c"\nfamily = "faulty"\n'
        ),
        FAULTY_CLAIM,
    )
    proc = start_gradfail("run", "--preset", str(path), "--out", "g", cwd=tmp_path)
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "g" / "02-b" / "events.jsonl").exists():
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stdout + stderr
    group = json.loads((tmp_path / "g" / "group.json").read_text())
    assert group["status"] == "interrupted"
    assert [r["status"] for r in group["runs"]] == ["completed", "interrupted", "not run"]
    assert read_manifest(tmp_path / "g" / "02-b")["status"] == "interrupted"
    assert group["verdict"]["outcome"] == Outcome.REPRODUCED  # its one claim is about run a, which completed


def test_group_presets_refuse_options_that_do_not_apply(tmp_path):
    result = gradfail("run", "--preset", "fig-parity", "--seeds", "4", cwd=tmp_path)
    assert result.returncode == 2 and "--seeds 4: a group preset runs each of its runs once" in result.stderr
    result = gradfail("run", "--preset", "parity5", "--scale", "paper", cwd=tmp_path)
    assert result.returncode == 2 and "only group presets have scales" in result.stderr
    result = gradfail("run", "--preset", "fig-parity", "--scale", "huge", cwd=tmp_path)
    assert result.returncode == 2 and "fig-parity has the scales default, paper" in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing recorded for a refused command


PICTURES = """title = "decoded curves at several steps"
description = "two learners, their decoded curves after 10, 20 and 40 steps"
plot = ["val_loss"]

[[runs]]
label = "first"
preset = "pwl-cond"
config = { steps = 40, eval_every = 10, train_size = 200, val_size = 20 }

[[runs]]
label = "second"
preset = "pwl-cond"
config = { steps = 40, eval_every = 10, train_size = 200, val_size = 20, lr = 0.5 }

[figure]
name = "figure-6"
title = "decoded curves, one row per learner"
x = { quantity = "i", name = "position i along the curve" }
y = { quantity = "f", name = "curve value f(i)" }
picture = { snapshot = "curves", runs = ["first", "second"], steps = [10, 20, 40] }
series = [
    { name = "original", match = "original", colour = "blue" },
    { name = "decoded", match = "decoded", colour = "red" },
]
"""


def test_a_figure_of_pictures_is_printed_at_each_of_its_steps_every_page_of_it(tmp_path):
    """Figure 6 shows the decoded curves after 500, 10,000 and 50,000 iterations: `gradfail run` prints
    a panel per chosen step (from the records, not only each run's last picture), as the talk does, at
    the terminal's width; where they do not fit, every page of them, one after another (no keys here)."""
    path = tmp_path / "pictures.toml"
    path.write_text(PICTURES)
    panels = [f"{run}, step {step}" for run in ("first", "second") for step in (10, 20, 40)]

    wide = gradfail("run", "--preset", str(path), "--out", "wide", cwd=tmp_path, timeout=300)
    assert wide.returncode == 0, wide.stdout + wide.stderr
    rows = [line for line in wide.stdout.splitlines() if ", step " in line]
    assert [[p for p in panels if p in row] for row in rows] == [panels[:3], panels[3:]]  # 120 columns: a row each
    assert "position i along the curve" in wide.stdout and "original" in wide.stdout and "panels" not in wide.stdout

    narrow = gradfail("run", "--preset", str(path), "--out", "narrow", cwd=tmp_path, timeout=300, COLUMNS="80")
    assert narrow.returncode == 0, narrow.stdout + narrow.stderr
    rows = [line for line in narrow.stdout.splitlines() if ", step " in line]
    assert [[p for p in panels if p in row] for row in rows] == [panels[:2], panels[2:4], panels[4:]]
    first, second = narrow.stdout.index("(panels 1-4 of 6"), narrow.stdout.index("(panels 5-6 of 6")
    assert first < narrow.stdout.index(panels[0]) < second < narrow.stdout.index(panels[5])
