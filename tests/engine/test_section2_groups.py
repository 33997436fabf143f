"""The groups of Section 2 beyond Figure 1: parity-wider-deeper (a wider or deeper network does not
help at d = 30) and thm2-periodic (Theorem 2's linear-periodic targets), their place in the paper,
and their claims judged on tiny configurations trained in this process."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.catalog import load_preset
from engine.claims import Outcome, judge
from engine.groups import GroupPreset
from engine.paper import RESULTS
from engine.registry import get_family, load_trainer_class
from engine.state import RunState
from tests.conftest import train_in_process


def train_group(group: GroupPreset, changes: dict[str, dict]) -> dict[str, RunState]:
    """Every run of `group` at its default scale with `changes[label]` applied, trained here."""
    torch.set_num_threads(1)
    states = {}
    for member in group.members():
        config = dataclasses.replace(member.config, **changes.get(member.label, {}))
        trainer = load_trainer_class(get_family(member.family))(config, torch.device("cpu"), member.seed)
        finished, events = train_in_process(trainer, config)
        assert finished.status == "completed", (member.label, finished)
        states[member.label] = RunState.from_events([*events, finished], label=member.label)
    return states


def test_the_new_groups_stand_in_the_paper_in_its_order():
    order = [r.preset for r in RESULTS]
    assert order.index("fig-parity") < order.index("parity-wider-deeper") < order.index("thm-variance")
    assert order.index("thm-variance") < order.index("thm2-periodic") < order.index("fig-tuples")
    for name in ("parity-wider-deeper", "thm2-periodic"):
        group = load_preset(name)
        assert isinstance(group, GroupPreset) and group.scales == ["default", "paper"]
        assert all(claim.paper for claim in group.claims)  # each claim cites the paper
        for scale in group.scales:
            assert len(group.members(scale)) == len(group.runs)


def test_parity_wider_deeper_architectures_and_claims_on_tiny_runs():
    group = load_preset("parity-wider-deeper")
    configs = {m.label: m.config for m in group.members()}
    assert configs["d = 30, 4x wider"].width_mult == 40 and configs["d = 30, 3 layers"].depth == 3
    assert configs["d = 10, 4x wider"].width_mult == 40 and configs["d = 10, 3 layers"].depth == 3
    # d = 10 is learned within about 2,000 steps by both networks; d = 30 needs no long run to be at chance.
    small = {"steps": 3000, "eval_every": 250}
    states = train_group(
        group,
        {
            "d = 10, 4x wider": small,
            "d = 10, 3 layers": small,
            **dict.fromkeys(("d = 30, 4x wider", "d = 30, 3 layers"), {"steps": 400, "eval_every": 100}),
        },
    )
    verdict = judge(group.claims, states)
    assert [r.outcome for r in verdict.results] == [Outcome.REPRODUCED] * 2, verdict
    # The claims judge what they say: d = 10 cut short of learning is not "learned".
    short = train_group(
        group,
        {
            "d = 10, 4x wider": {"steps": 100, "eval_every": 50},
            **dict.fromkeys(
                ("d = 10, 3 layers", "d = 30, 4x wider", "d = 30, 3 layers"), {"steps": 100, "eval_every": 50}
            ),
        },
    )
    assert judge(group.claims, short).results[0].outcome == Outcome.NOT_REPRODUCED


def test_thm2_periodic_claims_on_tiny_runs():
    group = load_preset("thm2-periodic")
    configs = {m.label: m.config for m in group.members()}
    assert configs["r = 2, d = 10"].r == 2 and configs["r = 8, d = 10"].r == 8 and configs["r = 2, d = 30"].d == 30
    # Faster than the group (lr 3e-3, 3,000 steps) for r = 2; r = 8 keeps the group's 20,000 samples of
    # x for its variance, whose resolution (about 2e-6 of G^2) the claim's 1e-5 needs.
    states = train_group(
        group,
        {
            "r = 2, d = 10": {"steps": 3000, "lr": 3e-3, "eval_every": 250, "variance_every": 3000},
            "r = 8, d = 10": {"steps": 1000, "eval_every": 250, "variance_every": 1000},
            "r = 2, d = 30": {"variance_samples": 5000, "variance_directions": 100},
        },
    )
    verdict = judge(group.claims, states)
    assert [r.outcome for r in verdict.results] == [Outcome.REPRODUCED] * len(group.claims), [
        (r.outcome, r.detail) for r in verdict.results
    ]
    hard = states["r = 8, d = 10"].series
    assert "target_var_rel_upper" in hard and "target_var_rel" not in hard  # below resolution: a bound


@pytest.mark.parametrize("r", [2.0, 8.0])
def test_the_relative_variance_is_the_variance_over_g2(r):
    group = load_preset("thm2-periodic")
    member = next(m for m in group.members() if m.config.r == r and m.config.d == 10)
    config = dataclasses.replace(member.config, steps=1, eval_every=1, variance_samples=2000, variance_directions=50)
    trainer = load_trainer_class(get_family(member.family))(config, torch.device("cpu"), 0)
    values = trainer.evaluate(0)
    measured = trainer.variance_rows[-1][1]
    if "target_var_rel" in values:
        assert values["target_var_rel"] == pytest.approx(measured.variance / measured.g2)
    else:
        resolution = values["target_var_resolution"]
        assert values["target_var_rel_upper"] == pytest.approx(
            max(resolution, measured.variance + resolution) / measured.g2
        )
