"""`gradfail` as a person runs it: real processes, real run records."""

import re
import uuid

import pytest

from tests.conftest import gradfail, processes_with_env, read_events, read_manifest


def test_help_and_version(tmp_path):
    result = gradfail("--help", cwd=tmp_path)
    assert result.returncode == 0 and "run" in result.stdout and "presets" in result.stdout
    for command in ("run", "presets", "families"):
        assert gradfail(command, "--help", cwd=tmp_path).returncode == 0
    version = gradfail("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("gradfail ")


def test_presets_list_and_show(tmp_path):
    listing = gradfail("presets", cwd=tmp_path)
    assert listing.returncode == 0
    assert listing.stdout.index("parity5") < listing.stdout.index("parity10") < listing.stdout.index("parity30")
    shown = gradfail("presets", "show", "parity30", cwd=tmp_path)
    assert shown.returncode == 0 and "50000" in shown.stdout and "The paper:" in shown.stdout


def test_presets_show_a_group_with_its_wall_time_audit_and_the_papers_words(tmp_path):
    from engine import audit_figures, walltimes

    shown = " ".join(gradfail("presets", "show", "fig-flat", cwd=tmp_path).stdout.split())
    audited = audit_figures.lookup("fig-flat")
    assert f"default: {walltimes.clock(walltimes.seconds('fig-flat'))}" in shown
    assert f"default: {audited.reproduced} of {audited.blocks} seed blocks (95% interval {audited.interval()})" in shown
    assert "the paper: Sec. 5.5, Fig. 7" in shown  # each claim cites where the paper says it


def test_presets_show_lists_a_run_of_several_seeds_once(tmp_path):
    """Figure 3's cpu scale trains 20 seeds of k = 2 and k = 3 end-to-end and 2 of k = 4: one row each."""
    shown = " ".join(gradfail("presets", "show", "fig-tuples", cwd=tmp_path).stdout.split())
    assert "(seed 3)" not in shown
    for run in (
        "k = 2, end-to-end (seeds 0 to 19)",
        "k = 3, end-to-end (seeds 0 to 19)",
        "k = 4, end-to-end (seeds 0 and 1)",
    ):
        assert run in shown, run


def test_an_audit_figure_is_not_said_of_a_preset_changed_since(tmp_path, monkeypatch):
    """A fig-flat whose first claim is reworded (a copy found first on $GRADFAIL_PRESETS) is another
    setup: `presets show` marks the shipped figure as measured before the change, and no verdict says it."""
    from engine import audit_figures
    from engine.presets import shipped_presets_dir

    text = (shipped_presets_dir() / "fig-flat.toml").read_text(encoding="utf-8")
    audited = audit_figures.lookup("fig-flat")
    assert audit_figures.held_for("fig-flat", "default") == audited.held()  # as shipped: said
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "fig-flat.toml").write_text(text.replace('says = "', 'says = "reworded: ', 1))
    shown = " ".join(gradfail("presets", "show", "fig-flat", cwd=tmp_path, GRADFAIL_PRESETS="mine").stdout.split())
    assert f"default: {audited.reproduced} of {audited.blocks} seed blocks" in shown
    assert "measured before this preset's claims or settings last changed: audit it again" in shown
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path / "mine"))
    assert audit_figures.held_for("fig-flat", "default") == ""


def test_a_wall_time_is_not_said_of_runs_changed_since(tmp_path, monkeypatch):
    """A wall time timed fig-flat's runs: a copy whose runs are evaluated on fewer samples is other runs,
    so `presets show` marks the time and nothing else says it; a reworded claim costs nothing, so the
    time still holds there."""
    from engine import walltimes
    from engine.presets import shipped_presets_dir

    text = (shipped_presets_dir() / "fig-flat.toml").read_text(encoding="utf-8")
    timed = walltimes.lookup("fig-flat")
    assert timed is not None and walltimes.is_current(timed)  # as shipped: said
    (tmp_path / "fewer").mkdir()
    (tmp_path / "fewer" / "fig-flat.toml").write_text(text.replace("eval_samples = 20000", "eval_samples = 2000", 1))
    shown = " ".join(gradfail("presets", "show", "fig-flat", cwd=tmp_path, GRADFAIL_PRESETS="fewer").stdout.split())
    assert f"default: {timed.describe()}; timed before this preset's runs at this scale last changed" in shown
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path / "fewer"))
    assert walltimes.lookup("fig-flat") is None and walltimes.seconds("fig-flat") is None
    (tmp_path / "reworded").mkdir()
    (tmp_path / "reworded" / "fig-flat.toml").write_text(text.replace('says = "', 'says = "reworded: ', 1))
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path / "reworded"))
    assert walltimes.lookup("fig-flat") == timed


def test_a_run_writes_a_complete_record(tmp_path):
    result = gradfail("run", "--preset", "parity5", "--steps", "1200", "--seed", "2", "--out", "r", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout and "run record: r" in result.stdout
    manifest = read_manifest(tmp_path / "r")
    assert manifest["schema_version"] == 1 and manifest["status"] == "completed"
    assert manifest["family"] == "parity" and manifest["preset"] == "parity5" and manifest["seed"] == 2
    assert manifest["config"]["d"] == 5 and manifest["config"]["steps"] == 1200
    assert manifest["device"] == "cpu" and manifest["versions"]["torch"] and manifest["versions"]["gradfail"]
    assert manifest["started_at"] and manifest["ended_at"] and manifest["steps_done"] == 1200
    assert {"test_acc", "train_loss", "test_loss"} <= set(manifest["summary"])
    events = read_events(tmp_path / "r")
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    evals = [e for e in events if e["type"] == "metrics" and "test_acc" in e["values"]]
    assert [e["step"] for e in evals] == list(range(0, 1201, 100))
    assert manifest["summary"]["test_acc"] == evals[-1]["values"]["test_acc"]


def test_runs_go_under_runs_with_unique_names_and_family_runs_work(tmp_path):
    for _ in range(2):
        result = gradfail("run", "--family", "parity", "--set", "d=4", "--set", "steps=50", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(read_manifest(r)["status"] == "completed" for r in runs)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--preset", "party30"], "unknown preset 'party30'. Did you mean parity30"),
        (["run", "--family", "partiy"], "unknown family 'partiy'. Did you mean parity"),
        (
            ["run", "--preset", "parity30", "--set", "widht_mult=3"],
            "widht_mult: unknown setting (did you mean width_mult?)",
        ),
        (["run", "--preset", "parity30", "--set", "d=abc"], "d: got 'abc', expected an integer"),
        (["run", "--preset", "parity30", "--set", "d=0"], "d: got 0, expected an integer >= 1"),
        (["run", "--preset", "parity30", "--set", "lr=0"], "lr: got 0, expected a number > 0"),
        (["run", "--preset", "parity30", "--set", "batch=0"], "batch: got 0, expected an integer >= 1"),
        (["run", "--preset", "parity30", "--set", "d"], "expected key=value"),
        (
            ["run", "--preset", "parity30", "--device", "tpu"],
            "Invalid value for '--device': tpu: expected auto, cpu, cuda or cuda:N",
        ),
        (
            ["run", "--preset", "parity30", "--seed", "-1"],
            "Invalid value for '--seed': Input should be greater than or equal to 0",
        ),
        (
            ["run", "--preset", "parity30", "--seeds", "2000"],
            "Invalid value for '--seeds': Input should be less than or equal to 1024",
        ),
        (["bench", "--device", "cuda:x"], "Invalid value for '--device': cuda:x: expected auto, cpu, cuda or cuda:N"),
        (["run", "--preset", "parity30", "--steps", "abc"], "Invalid value for '--steps'"),
        (["run", "--preset", "parity30", "--family", "parity"], "give exactly one of --preset"),
        (["run"], "give exactly one of --preset"),
        (["presets", "show", "nope"], "unknown preset 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    mark = uuid.uuid4().hex  # in the environment of the command and of any engine process it starts
    result = gradfail(*args, cwd=tmp_path, GRADFAIL_TEST_MARK=mark)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "runs").exists()  # nothing was started
    assert processes_with_env("GRADFAIL_TEST_MARK", mark) == []  # `run` starts its engine first: it was ended


def test_a_broken_preset_file_is_named(tmp_path):
    (tmp_path / "bad.toml").write_text('family = "parity"\n[config]\nd = = 3\nsteps = 5\n')
    result = gradfail("run", "--preset", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2 and "bad.toml: not valid TOML" in result.stderr
    assert "line 3" in " ".join(result.stderr.split())


def test_out_never_overwrites_a_recorded_run(tmp_path):
    assert (
        gradfail("run", "--family", "parity", "--set", "d=4", "--steps", "20", "--out", "r", cwd=tmp_path).returncode
        == 0
    )
    before = (tmp_path / "r" / "events.jsonl").read_text()
    result = gradfail("run", "--family", "parity", "--steps", "20", "--out", "r", cwd=tmp_path)
    assert result.returncode == 2 and "directory is not empty" in " ".join(result.stderr.split())
    assert (tmp_path / "r" / "events.jsonl").read_text() == before


def test_cuda_asked_for_without_cuda_is_a_clear_error(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path needs a machine without it")
    result = gradfail("run", "--preset", "parity5", "--device", "cuda", "--out", "r", cwd=tmp_path)
    assert result.returncode == 2
    assert "--device cuda: this torch is a CPU-only build" in " ".join(result.stdout.split())
    assert read_manifest(tmp_path / "r")["status"] == "failed"


def test_bench_on_a_gpu_that_is_not_there_says_so_without_a_traceback(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path needs a machine without it")
    result = gradfail("bench", "--device", "cuda", "--steps", "100", "--reps", "1", "--tuple-steps", "0", cwd=tmp_path)
    assert result.returncode == 1
    said = " ".join((result.stdout + result.stderr).split())
    assert "a timed run failed" in said and "--device cuda: this torch is a CPU-only build" in said, said
    assert "Traceback" not in said and 'File "' not in said, said


@pytest.mark.slow  # a minute of engine starts and timed loops: the bench's own check, not every commit's
def test_bench_prints_its_figures(tmp_path):
    # 100 columns: the narrow layout, one paragraph a workload (a table that wide would squeeze its numbers away)
    result = gradfail(
        "bench",
        "--steps",
        "200",
        "--reps",
        "1",
        "--seeds",
        "2",
        "--tuple-steps",
        "2",
        cwd=tmp_path,
        timeout=400,
        COLUMNS="100",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for row in (
        "parity30: baseline loop (torch's default threads)",
        "parity30: baseline loop (1 thread)",
        "gradfail run --preset parity30",
        "--seeds 2 (seed-steps/s)",
        "tuples k=4: baseline loop (1 thread)",
        "gradfail run --preset tuple4-e2e-paper",
        "GFLOP/s on one thread",
        "4.84 MFLOP",
        "7.24 GFLOP",
    ):
        assert row in result.stdout, row
    assert re.search(
        r"repetition 1: baseline [\d.]+ s, baseline1 [\d.]+ s \([\d.]+x\), engine [\d.]+ s \([\d.]+x\)", result.stdout
    ), result.stdout
    engine = result.stdout.split("gradfail run --preset parity30\n", 1)[1].splitlines()[0]
    assert re.search(r"steps/s: [\d,.]+ +ms/step: [\d.]+ +baseline: [\d,.]+ +vs baseline: [\d.]+x", engine), engine


def test_bench_times_the_one_thread_baselines_on_a_cpu_only():
    from gradfail_tui.bench import workloads

    cpu, gpu = workloads(200, 2, 2, "cpu"), workloads(200, 2, 2, "cuda:0")
    assert {"baseline1", "tuples_baseline1"} <= set(cpu)
    assert set(gpu) == set(cpu) - {"baseline1", "tuples_baseline1"}
    assert all(chosen[w.baseline] for chosen in (cpu, gpu) for w in chosen.values())  # every ratio has its baseline


def test_a_bad_preset_message_keeps_its_closing_quote(tmp_path):
    """A message that ends with a quoted name ("... not one of 'mean', 'each'") is printed whole."""
    from engine.presets import shipped_presets_dir

    text = (shipped_presets_dir() / "fig-tuples.toml").read_text(encoding="utf-8")
    (tmp_path / "bad.toml").write_text(text.replace('seeds = "each"', 'seeds = "every"', 1))
    result = gradfail("run", "--preset", "bad.toml", "--steps", "10", cwd=tmp_path)
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2 and "figure.seeds: 'every' is not one of 'mean', 'each'" in said, said
