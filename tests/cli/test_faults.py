"""Faults seen from `gradfail run`: a diverging loss, an exception in a step, out of memory, a dying engine,
Ctrl-C / SIGTERM / SIGHUP to the CLI, an unusable or full run directory.

(A broken diagnostic in the engine's own run function: tests/engine/test_faults.py; faults in the
explorer: tests/explorer/test_faults.py.)
"""

import os
import pty
import signal
import subprocess
import time

import pytest

from tests.conftest import (
    children_of,
    cli_env,
    gradfail,
    gradfail_command,
    pid_alive,
    read_events,
    read_manifest,
    skip_unless_allocations_can_fail,
    start_gradfail,
)


def test_nan_loss_ends_diverged_at_that_step(tmp_path):
    result = gradfail("run", "--preset", "parity10", "--set", "lr=1e6", "--out", "r", cwd=tmp_path)
    assert result.returncode == 3
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "diverged" and "NaN or infinite at step" in manifest["message"]
    assert read_events(tmp_path / "r")[-1]["status"] == "diverged"


def test_nan_in_a_step_of_a_family_is_found_at_the_exact_step(tmp_path):
    result = gradfail(
        "run", "--family", "faulty", "--set", "fault=nan", "--set", "at_step=77", "--out", "r", cwd=tmp_path
    )
    assert result.returncode == 3
    finished = read_events(tmp_path / "r")[-1]
    assert finished["status"] == "diverged" and finished["step"] == 77


@pytest.mark.parametrize("phase", ["train_step", "evaluate", "snapshots", "build"])
def test_an_exception_in_the_family_is_one_clear_line_and_a_failed_record(tmp_path, phase):
    result = gradfail(
        "run",
        "--family",
        "faulty",
        "--set",
        "fault=raise",
        "--set",
        f"phase={phase}",
        "--set",
        "at_step=40" if phase != "build" else "at_step=0",
        "--out",
        "r",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "RuntimeError" in result.stdout and "injected fault" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "failed"
    finished = read_events(tmp_path / "r")[-1]
    assert "Traceback" in finished["traceback"]  # kept in the record for whoever debugs it
    if phase != "build":
        assert f"in {phase} at step 40" in finished["message"]
        assert any(e["type"] == "metrics" and e["step"] == 20 for e in read_events(tmp_path / "r"))


def test_a_model_too_big_for_memory_is_a_clear_out_of_memory_error(tmp_path):
    skip_unless_allocations_can_fail()
    result = gradfail(
        "run", "--preset", "parity30", "--set", "d=4096", "--set", "width_mult=10000", "--out", "r", cwd=tmp_path
    )
    text = " ".join(result.stdout.split())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "out of memory while building the model: cannot allocate 625.0 GiB at once" in text
    assert "Traceback" not in result.stdout + result.stderr
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "failed"
    assert read_events(tmp_path / "r")[-1]["error_kind"] == "oom"


def test_out_of_memory_is_reported_as_such(tmp_path):
    result = gradfail(
        "run", "--family", "faulty", "--set", "fault=oom", "--set", "at_step=30", "--out", "r", cwd=tmp_path
    )
    assert result.returncode == 1 and "out of memory during training" in " ".join(result.stdout.split())
    assert read_manifest(tmp_path / "r")["status"] == "failed"


def test_the_engine_dying_mid_run_fails_the_run_and_keeps_its_events(tmp_path):
    result = gradfail(
        "run", "--family", "faulty", "--set", "fault=exit", "--set", "at_step=60", "--out", "r", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "the engine process exited with code 17" in " ".join(result.stdout.split())
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "failed"
    steps = [e["step"] for e in read_events(tmp_path / "r") if e["type"] == "metrics" and "test_acc" in e["values"]]
    assert steps[:3] == [0, 20, 40]


def wait_for_metrics(run_dir, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        events = run_dir / "events.jsonl"
        if events.exists() and '"type":"metrics"' in events.read_text():
            return
        time.sleep(0.1)
    raise AssertionError("the run never started")


def test_killing_the_engine_with_sigkill(tmp_path):
    proc = start_gradfail(
        "run", "--family", "faulty", "--set", "step_sleep=0.01", "--set", "steps=100000", "--out", "r", cwd=tmp_path
    )
    wait_for_metrics(tmp_path / "r", proc)
    (worker,) = children_of(proc.pid)
    import os

    os.kill(worker, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "killed by SIGKILL" in " ".join(out.split())
    assert read_manifest(tmp_path / "r")["status"] == "failed"
    assert read_events(tmp_path / "r")[-1]["type"] == "run_finished"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_end_the_run_interrupted_with_its_events_and_no_orphan(tmp_path, sig):
    proc = start_gradfail(
        "run", "--family", "faulty", "--set", "step_sleep=0.01", "--set", "steps=100000", "--out", "r", cwd=tmp_path
    )
    wait_for_metrics(tmp_path / "r", proc)
    workers = children_of(proc.pid)
    time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "interrupted" and manifest["steps_done"] > 0
    events = read_events(tmp_path / "r")
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "interrupted"
    assert sum(e["type"] == "metrics" for e in events) >= 2
    assert workers and not any(pid_alive(w) for w in workers)


def test_ctrl_c_while_the_engine_is_still_starting_ends_at_once(tmp_path):
    # The engine takes seconds to import torch; a Ctrl-C before it is ready has no run to stop, so the
    # record closes `interrupted` at once (it used to wait out the 10 s stop grace for an answer).
    proc = start_gradfail("run", "--preset", "parity30", "--out", "r", cwd=tmp_path)
    deadline = time.time() + 60
    while not (tmp_path / "r" / "run.json").exists():  # the record exists: the signals are handled next
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(0.2)
    (engine,) = children_of(proc.pid)
    assert not read_events(tmp_path / "r"), "the engine was already training; this test needs it starting"
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in out + err, (out, err)
    assert time.time() - sent < 5
    assert read_manifest(tmp_path / "r")["status"] == "interrupted"
    assert not pid_alive(engine)


def test_an_unusable_run_directory_is_named_before_anything_starts(tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    result = gradfail("run", "--preset", "parity5", "--out", "afile/run", cwd=tmp_path)
    assert result.returncode == 2 and "cannot create run directory afile/run" in " ".join(result.stderr.split())


def test_a_full_disk_stops_the_run_instead_of_training_unrecorded(tmp_path):
    import resource

    def small_files():  # writes past 40 kB fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    proc = subprocess.run(
        gradfail_command(
            "run", "--family", "faulty", "--set", "steps=100000", "--set", "step_sleep=0.0005", "--out", "r"
        ),
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    assert "cannot append to r/events.jsonl" in text and "Traceback" not in proc.stdout + proc.stderr
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "failed" and manifest["steps_done"] < 100_000
    assert "cannot append" in manifest["message"]


def test_a_terminal_that_goes_away_mid_run_leaves_the_record_closed_and_no_engine(tmp_path):
    """An SSH session dropping under `gradfail run`: SIGHUP, and every write to the terminal fails (EIO).
    The run must still end `interrupted` with its events, and no engine may be left behind."""
    main, terminal = pty.openpty()
    proc = subprocess.Popen(
        gradfail_command(
            "run", "--family", "faulty", "--set", "step_sleep=0.01", "--set", "steps=100000", "--out", "r"
        ),
        cwd=tmp_path,
        env=cli_env(),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        wait_for_metrics(tmp_path / "r", proc)
        workers = children_of(proc.pid)
        os.close(main)  # the terminal is gone: writes to it now fail
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    manifest = read_manifest(tmp_path / "r")
    assert manifest["status"] == "interrupted" and manifest["steps_done"] > 0
    assert read_events(tmp_path / "r")[-1]["status"] == "interrupted"
    assert workers and not any(pid_alive(w) for w in workers)
