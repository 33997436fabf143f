"""`gradfail sweep` as a person runs it: bad grids refused before anything runs, a failed cell and a dying
engine that do not stop the sweep, --resume, Ctrl-C, and the Ray executor (missing, unreachable, and
giving the same numbers as the local pool)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import signal
import time

import pytest

from tests.conftest import gradfail, processes_with_env, read_manifest, start_gradfail

HAS_RAY = importlib.util.find_spec("ray") is not None


def sweep_json(path):
    return json.loads((path / "sweep.json").read_text())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--grid", "dd=4:8"], "--grid dd: unknown setting (did you mean d?)"),
        (["--grid", "d=2:9000:3000"], "--grid d: got 6002, expected an integer >= 1 and <= 4096"),
        (["--grid", "lr=fast,slow"], "--grid lr: got 'fast', expected a number"),
        (["--grid", "d=8:4"], "--grid d=8:4: empty range (stop 4 is below start 8)"),
        (["--grid", "d=1:1000", "--grid", "width_mult=1:3", "--seeds", "2"], "give --force to run them all"),
        (["--grid", "d=4,8", "--metric", "objective"], "map metric: 'objective' is not a metric of parity"),
    ],
)
def test_a_bad_grid_exits_2_naming_the_key_and_records_nothing(tmp_path, args, expected):
    result = gradfail("sweep", "--family", "parity", *args, "--out", "s", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_a_failed_cell_and_a_dead_engine_do_not_stop_the_sweep_and_resume_retries_them(tmp_path):
    # faulty's "exit" ends the engine process itself (code 17): its run is failed, a new engine takes over
    result = gradfail(
        "sweep", "--family", "faulty", "--grid", "fault=none,exit,raise", "--grid", "at_step=30,50",
        "--steps", "60", "--workers", "2", "--out", "s", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "the engine process exited with code 17" in out and "a new engine takes its place" in out
    assert "sweep failed: 6/6 runs ended (4 failed or diverged)" in out
    manifest = sweep_json(tmp_path / "s")
    by_fault = {}
    for run in manifest["runs"]:
        fault = manifest["cells"][run["cell"]]["settings"]["fault"]
        by_fault.setdefault(fault, set()).add(run["status"])
        assert read_manifest(tmp_path / "s" / run["dir"])["status"] == run["status"]
    assert by_fault == {"none": {"completed"}, "exit": {"failed"}, "raise": {"failed"}}
    assert "x: fault" in out and "✗" in result.stdout  # the heatmap, its failed cells marked

    report = gradfail("report", "s", "-o", "r.md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r.md").read_text()
    assert "## Sweep: sweep of faulty" in text and "| fault | at_step | last train_loss (mean) |" in text
    assert text.count("| failed | ") == 4 and text.count("| completed | ") == 2  # every run listed
    assert all(line.split(" | ")[3] == "-" for line in text.splitlines() if "| failed | " in line)  # no value
    assert (tmp_path / "r_files" / "01-sweep-last-train_loss.svg").read_text().startswith("<svg")
    exported = gradfail("export", "s", cwd=tmp_path)
    runs = {row["run"] for row in csv.DictReader(io.StringIO(exported.stdout))}
    assert runs == {run["label"] for run in manifest["runs"]}  # every run of the sweep, by its label

    again = gradfail("sweep", "--resume", "s", cwd=tmp_path)
    assert again.returncode == 1  # the same faults fail again; what completed is not run again
    assert "(4 to run)" in again.stdout
    manifest = sweep_json(tmp_path / "s")
    retried = [run for run in manifest["runs"] if run.get("attempts")]
    assert len(retried) == 4 and all(run["dir"].endswith("-r2") for run in retried)
    assert all((tmp_path / "s" / run["attempts"][0]["dir"] / "run.json").is_file() for run in retried)


def test_resume_refuses_settings_and_a_directory_that_is_no_sweep(tmp_path):
    result = gradfail("sweep", "--resume", "nowhere", "--grid", "d=4", cwd=tmp_path)
    assert result.returncode == 2 and "leave out --grid" in result.stderr
    result = gradfail("sweep", "--resume", "nowhere", cwd=tmp_path)
    assert result.returncode == 2 and "sweep.json: missing" in result.stderr


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_ctrl_c_leaves_sweep_json_consistent_and_nothing_running(tmp_path, executor):
    if executor == "ray" and not HAS_RAY:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")
    mark = f"ctrl-c-{executor}-{time.monotonic_ns()}"  # every process the sweep starts inherits it
    proc = start_gradfail(
        "sweep", "--family", "faulty", "--set", "step_sleep=0.01", "--set", "steps=100000",
        "--grid", "at_step=1000,2000,3000", "--workers", "2", "--out", "s",
        *(["--ray"] if executor == "ray" else []), cwd=tmp_path, GRADFAIL_TEST_MARK=mark,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if (tmp_path / "s" / "sweep.json").exists():
            running = [r for r in sweep_json(tmp_path / "s")["runs"] if r["status"] == "running"]
            if len(running) == 2 and all(
                '"type":"metrics"' in (tmp_path / "s" / r["dir"] / "events.jsonl").read_text() for r in running
            ):
                break
        time.sleep(0.2)
    started = processes_with_env("GRADFAIL_TEST_MARK", mark)
    assert len(started) > 2  # the driver and its engines (or Ray's processes and actors)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in out + err, (out, err)
    manifest = sweep_json(tmp_path / "s")
    assert manifest["status"] == "interrupted"
    assert sorted(r["status"] for r in manifest["runs"]) == ["interrupted", "interrupted", "waiting"]
    for run in manifest["runs"]:
        if run["dir"]:
            assert read_manifest(tmp_path / "s" / run["dir"])["status"] == "interrupted"
    deadline = time.time() + 15  # Ray's own processes end a moment after its driver
    while processes_with_env("GRADFAIL_TEST_MARK", mark) and time.time() < deadline:
        time.sleep(0.2)
    assert processes_with_env("GRADFAIL_TEST_MARK", mark) == []
    assert "gradfail sweep --resume" in " ".join(out.split())


def test_ray_not_installed_says_how_to_install_it(tmp_path):
    fake = tmp_path / "fake"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    from tests.conftest import ROOT

    result = gradfail(
        "sweep", "--family", "parity", "--grid", "d=4,8", "--ray", "--out", "s", cwd=tmp_path,
        PYTHONPATH=f"{fake}:{ROOT}",
    )  # fmt: skip
    assert result.returncode == 2 and 'pip install "gradfail[ray]"' in result.stderr
    assert not (tmp_path / "s").exists()


def test_an_unreachable_ray_cluster_is_a_clear_error_and_nothing_is_recorded(tmp_path):
    if not HAS_RAY:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")
    result = gradfail(
        "sweep", "--family", "parity", "--grid", "d=4,8", "--ray", "127.0.0.1:1", "--out", "s", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "cannot reach the Ray cluster there" in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_ray_gives_the_same_numbers_as_the_local_pool_and_replaces_a_dead_worker(tmp_path):
    if not HAS_RAY:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")
    grid = ["--grid", "d=4,6", "--seeds", "2", "--steps", "200", "--workers", "2"]
    local = gradfail("sweep", "--family", "parity", *grid, "--out", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stdout + local.stderr
    on_ray = gradfail("sweep", "--family", "parity", *grid, "--ray", "--out", "ray", cwd=tmp_path, timeout=240)
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    a, b = sweep_json(tmp_path / "local"), sweep_json(tmp_path / "ray")
    assert [r["value"] for r in a["runs"]] == [r["value"] for r in b["runs"]]
    assert all(r["value"] is not None for r in a["runs"])
    for run in b["runs"]:  # the driver wrote the same records from the actors' events
        events = (tmp_path / "ray" / run["dir"] / "events.jsonl").read_text().splitlines()
        assert json.loads(events[-1])["status"] == "completed" and len(events) > 3

    # A Ray worker that dies (faulty's "exit" ends the actor's process): its run fails, the sweep goes on.
    dying = gradfail(
        "sweep", "--family", "faulty", "--grid", "fault=exit,none", "--steps", "60", "--workers", "2",
        "--ray", "--out", "dying", cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert dying.returncode == 1, dying.stdout + dying.stderr
    statuses = [r["status"] for r in sweep_json(tmp_path / "dying")["runs"]]
    assert statuses == ["failed", "completed"]
