"""`--seeds N`: N seeds trained together in one batched model, each the same run it would be alone."""

import torch

from engine.config import build_config
from engine.families.parity import ParityConfig
from engine.families.parity.trainer import ParityTrainer
from tests.conftest import gradfail, read_events, read_manifest


def step_losses(trainer: ParityTrainer, steps: int) -> list[torch.Tensor]:
    """Each step's (lanes,) train losses, read as the run loop reads them: once settled."""
    losses = []
    for step in range(1, steps + 1):
        loss = trainer.train_step(step)["train_loss"]
        trainer.settle()
        losses.append(loss.clone())
    return losses


def test_each_lane_matches_the_single_run_with_its_seed_over_100_steps():
    torch.set_num_threads(1)
    config = build_config(ParityConfig, {"d": 12})
    seeds = [5, 6, 7]
    batched = ParityTrainer(config, torch.device("cpu"), seeds)
    singles = [ParityTrainer(config, torch.device("cpu"), s) for s in seeds]
    batched_losses = torch.stack(step_losses(batched, 100))
    for lane, single in enumerate(singles):
        single_losses = torch.cat(step_losses(single, 100))  # (1,) each
        assert torch.allclose(batched_losses[:, lane], single_losses, rtol=1e-4, atol=1e-5)
        assert torch.equal(batched.subset_mask[lane, 0].nonzero().flatten(), single.subset)
    evaluated = batched.evaluate(100)["test_acc"]
    assert evaluated == [s.evaluate(100)["test_acc"] for s in singles]


def test_seeds_are_recorded_as_runs_of_one_group(tmp_path):
    result = gradfail("run", "--preset", "parity5", "--steps", "300", "--seed", "10", "--seeds", "3", "--out", "g",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mean ± sd" in result.stdout
    for seed in (10, 11, 12):
        manifest = read_manifest(tmp_path / "g" / f"seed-{seed}")
        assert manifest["status"] == "completed" and manifest["seed"] == seed
        evals = [e for e in read_events(tmp_path / "g" / f"seed-{seed}") if "test_acc" in e.get("values", {})]
        assert [e["step"] for e in evals] == [0, 100, 200, 300]


def test_a_diverging_seed_ends_alone(tmp_path):
    result = gradfail("run", "--preset", "parity5", "--steps", "300", "--seeds", "2", "--set", "lr=1e6", "--out", "g",
                      cwd=tmp_path)
    assert result.returncode == 3
    assert {read_manifest(tmp_path / "g" / f"seed-{s}")["status"] for s in (0, 1)} == {"diverged"}


def test_families_that_cannot_batch_say_so(tmp_path):
    result = gradfail("run", "--family", "faulty", "--seeds", "2", cwd=tmp_path)
    assert result.returncode == 2 and "cannot train several seeds in one model" in " ".join(result.stderr.split())
