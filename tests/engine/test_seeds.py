"""`--seeds N`: N seeds trained together in one batched model, each the same run it would be alone.

(The command and its records: tests/cli/test_seeds.py.)
"""

import torch

from engine.config import build_config
from engine.families.parity import ParityConfig
from engine.families.parity.trainer import ParityTrainer


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
