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


def interrupt_when_running(proc, path, running: int, failed: int = 0) -> None:
    """Wait until `running` runs of the sweep in `path` are training (metrics recorded) and `failed` have
    failed, then Ctrl-C it."""
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if (path / "sweep.json").exists():
            runs = sweep_json(path)["runs"]
            going = [r for r in runs if r["status"] == "running"]
            if (
                sum(r["status"] == "failed" for r in runs) == failed
                and len(going) == running
                and all('"type":"metrics"' in (path / r["dir"] / "events.jsonl").read_text() for r in going)
            ):
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)


def assert_nothing_left(mark: str) -> None:
    deadline = time.time() + 15  # Ray's own processes end a moment after its driver
    while processes_with_env("GRADFAIL_TEST_MARK", mark) and time.time() < deadline:
        time.sleep(0.2)
    assert processes_with_env("GRADFAIL_TEST_MARK", mark) == []


def test_ctrl_c_leaves_sweep_json_consistent_and_nothing_running(tmp_path):
    mark = f"ctrl-c-{time.monotonic_ns()}"  # every process the sweep starts inherits it
    proc = start_gradfail(
        "sweep", "--family", "faulty", "--set", "step_sleep=0.01", "--set", "steps=100000",
        "--grid", "at_step=1000,2000,3000", "--workers", "2", "--out", "s", cwd=tmp_path, GRADFAIL_TEST_MARK=mark,
    )  # fmt: skip
    interrupt_when_running(proc, tmp_path / "s", running=2)
    assert len(processes_with_env("GRADFAIL_TEST_MARK", mark)) == 3  # the driver and its two engines
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in out + err, (out, err)
    manifest = sweep_json(tmp_path / "s")
    assert manifest["status"] == "interrupted"
    assert sorted(r["status"] for r in manifest["runs"]) == ["interrupted", "interrupted", "waiting"]
    for run in manifest["runs"]:
        if run["dir"]:
            assert read_manifest(tmp_path / "s" / run["dir"])["status"] == "interrupted"
    assert_nothing_left(mark)
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


def test_ray_gives_the_same_numbers_as_the_local_pool(tmp_path):
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


def test_a_dead_ray_worker_fails_its_run_and_ctrl_c_leaves_no_ray_process(tmp_path):
    if not HAS_RAY:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")
    # faulty's "exit" ends the actor's process: at step 5 for the first run (it fails, and a new actor
    # takes the third), never for the other two.
    mark = f"ray-{time.monotonic_ns()}"  # every process the sweep starts (Ray's own too) inherits it
    proc = start_gradfail(
        "sweep", "--family", "faulty", "--set", "fault=exit", "--grid", "at_step=5,90000,90001",
        "--set", "step_sleep=0.01", "--set", "steps=100000", "--workers", "2", "--ray", "--out", "s",
        cwd=tmp_path, GRADFAIL_TEST_MARK=mark,
    )  # fmt: skip
    interrupt_when_running(proc, tmp_path / "s", running=2, failed=1)
    assert len(processes_with_env("GRADFAIL_TEST_MARK", mark)) > 3  # the driver, Ray's processes, two actors
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in out + err, (out, err)
    manifest = sweep_json(tmp_path / "s")
    assert [r["status"] for r in manifest["runs"]] == ["failed", "interrupted", "interrupted"]
    assert manifest["status"] == "interrupted"
    for run in manifest["runs"]:
        assert read_manifest(tmp_path / "s" / run["dir"])["status"] == run["status"]
    assert_nothing_left(mark)
