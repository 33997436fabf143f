"""The torch side of a family: what the run loop (engine/loop.py) calls.

A family's trainer subclasses `Trainer` and is named in its FamilySpec as "module:Class":

    class ParityTrainer(Trainer):
        def __init__(self, config, device, seed): ...   # build model, data and optimizer
        def train_step(self, step): ...                  # one update; scalar tensors, no .item()
        def evaluate(self, step): ...                    # {"test_acc": 0.97, ...} as floats
        def snapshots(self, step): ...                   # optional: curves, images, tables

`train_step` must not synchronise with the device (no `.item()`, no `float(...)`): the loop reads
its scalars in batches, checks them for NaN/inf there and averages them for the event stream.
Any non-finite value it returns marks the run `diverged` at that step. A trainer may leave the last
reduction of its scalars to `settle()`, which the loop calls before it reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from engine.config import BaseConfig


@dataclass
class SnapshotData:
    """A non-scalar picture of the run; see engine.events.Snapshot for the kinds. Its "title" leaves
    the step out: every view (the explorer, the headless summary, the report) adds it."""

    name: str
    kind: str  # "lines", "images" or "table"
    data: dict[str, Any]


class Trainer:
    def __init__(self, config: BaseConfig, device: torch.device, seed: int):
        self.config = config
        self.device = device
        self.seed = seed

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def settle(self) -> None:
        """Write the values of the step scalars returned so far, where train_step left them pending
        (engine.fastmlp reduces many steps' losses in one operation); most trainers have none."""

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        return {}

    def snapshots(self, step: int) -> list[SnapshotData]:
        return []

    def parameter_count(self) -> int:
        return 0

    # The optimizer's constants, as torch's optimizers keep them in each parameter group.
    OPTIMIZER_SETTINGS = ("lr", "beta1", "beta2", "eps")

    def change(self, key: str, value: Any) -> None:
        """Change a setting the family declares live (`FamilySpec.live`, checked by engine/changes.py)
        from the next step on. By default: the config (which a trainer reads at each step, e.g. its
        batch size), and the optimizer's constants in `self.optimizer`'s parameter groups."""
        self.config = dataclasses.replace(self.config, **{key: value})
        optimizer = getattr(self, "optimizer", None)
        if key in self.OPTIMIZER_SETTINGS and optimizer is not None:
            for group in optimizer.param_groups:
                if key in ("beta1", "beta2"):
                    betas = list(group["betas"])
                    betas[key == "beta2"] = value
                    group["betas"] = tuple(betas)
                else:
                    group[key] = value


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    """One update of `optimizer` on `loss`; returns the loss, detached (no device sync)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()
