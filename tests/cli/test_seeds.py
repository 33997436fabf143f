"""`gradfail run --seeds N`: N seeds trained together in one batched model, recorded as runs of one group.

(Each lane the same run it would be alone: tests/engine/test_seeds.py.)
"""

from tests.conftest import gradfail, read_events, read_manifest


def test_seeds_are_recorded_as_runs_of_one_group(tmp_path):
    result = gradfail(
        "run", "--preset", "parity5", "--steps", "300", "--seed", "10", "--seeds", "3", "--out", "g", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mean ± sd" in result.stdout
    for seed in (10, 11, 12):
        manifest = read_manifest(tmp_path / "g" / f"seed-{seed}")
        assert manifest["status"] == "completed" and manifest["seed"] == seed
        evals = [e for e in read_events(tmp_path / "g" / f"seed-{seed}") if "test_acc" in e.get("values", {})]
        assert [e["step"] for e in evals] == [0, 100, 200, 300]


def test_a_diverging_seed_ends_alone(tmp_path):
    result = gradfail(
        "run", "--preset", "parity5", "--steps", "300", "--seeds", "2", "--set", "lr=1e6", "--out", "g", cwd=tmp_path
    )
    assert result.returncode == 3
    assert {read_manifest(tmp_path / "g" / f"seed-{s}")["status"] for s in (0, 1)} == {"diverged"}


def test_families_that_cannot_batch_say_so(tmp_path):
    result = gradfail("run", "--family", "faulty", "--seeds", "2", cwd=tmp_path)
    assert result.returncode == 2 and "cannot train several seeds in one model" in " ".join(result.stderr.split())
