"""Family 4, flat activations (Sec. 5): the staircase, the four learners, and forward-only winning."""

import pytest
import torch

from engine.catalog import load_preset
from engine.config import ConfigError, build_config
from engine.events import Metrics, Snapshot
from engine.families.flat import LEARNERS, ORIGINAL_SCHEDULES, FlatConfig, step_offsets
from engine.families.flat.trainer import FlatTrainer, Staircase
from tests.conftest import train_in_process


def make(seed=0, **values):
    torch.set_num_threads(1)
    config = build_config(FlatConfig, values)
    return FlatTrainer(config, torch.device("cpu"), seed), config


def train(seed=0, **values):
    trainer, config = make(seed, **values)
    finished, events = train_in_process(trainer, config)
    assert finished.status == "completed", finished.message
    return trainer, [e for e in events if isinstance(e, Metrics) and "step_acc" in e.values], events


def test_the_levels_are_the_originals():
    offsets = step_offsets()
    assert len(offsets) == 52 and offsets == sorted(set(offsets))
    assert offsets[0] == -100 and offsets[-1] == 95 and {-0.2, 0.1, 0.15, 0.175} <= set(offsets)


def test_u_rounds_down_and_nearest_picks_the_closest_level():
    stairs = Staircase(torch.tensor(step_offsets(), dtype=torch.float64) + 0.3, sharpness=5.0)
    r = torch.linspace(-99.6, 95.2, 20_001, dtype=torch.float64)
    u = stairs.u(r)
    assert (u <= r).all()
    above = stairs.levels[(stairs.index(r) + 1).clamp_max(51)]
    assert ((above > r) | (stairs.index(r) == 51)).all()  # the next level up is above r
    nearest = stairs.levels[stairs.nearest(r)]
    assert ((nearest - r).abs()[:, None] <= (stairs.levels - r[:, None]).abs() + 1e-12).all()


def test_the_non_flat_approximation_and_its_derivative():
    stairs = Staircase(torch.tensor(step_offsets(), dtype=torch.float64), sharpness=5.0)
    middles = (stairs.levels[:-1] + stairs.levels[1:]) / 2  # halfway along each step: flat and close to u
    # (within 0.01: the narrowest step, [0.15, 0.175), is 0.025 wide)
    assert torch.allclose(stairs.smooth(middles), stairs.u(middles), atol=0.01)
    p = torch.linspace(-3, 3, 301, dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(stairs.smooth(p).sum(), p)
    assert torch.allclose(stairs.smooth_derivative(p.detach()), auto)
    # In the middle of the unit-wide step [1, 2) the approximation is flat for float32 and Adam.
    assert stairs.smooth_derivative(torch.tensor([1.5], dtype=torch.float64)).item() < 1e-8


def test_forward_only_learns_the_steps_and_beats_the_non_flat_approximation():
    # Forward-only on its original schedule (5,000 steps, lr 1e-3); the non-flat approximation
    # (its original lr 0.01) over the same 5,000 steps; same seed, hence the same w*, b* and data.
    forward, forward_metrics, _ = train(learner="forward", lr=1e-3, steps=5000, eval_every=2500)
    sigmoid, sigmoid_metrics, _ = train(learner="sigmoid", lr=0.01, steps=5000, eval_every=2500)
    assert forward.b_star == sigmoid.b_star
    final_forward, final_sigmoid = forward_metrics[-1].values, sigmoid_metrics[-1].values
    assert final_forward["step_acc"] >= 0.9
    assert final_forward["step_acc"] > final_sigmoid["step_acc"] + 0.3
    assert final_forward["sq_error"] < final_sigmoid["sq_error"] / 10
    assert final_forward["flatness"] == 1.0  # u passes no gradient: the identity backward does the work


@pytest.mark.parametrize("learner", ["e2e", "multiclass"])
def test_the_mlp_learners_train(learner):
    _, metrics, _ = train(learner=learner, steps=300, eval_every=300)
    first, final = metrics[0].values, metrics[-1].values
    assert final["sq_error"] < first["sq_error"] / 2
    assert 0 < final["flatness"] < 1  # the share of ReLU activations that are off


def test_the_staircase_snapshot_is_zoomed_sorted_and_bounded():
    trainer, _, events = train(learner="sigmoid", steps=20, eval_every=20, plot_points=50, zoom=1.0)
    snap = [e for e in events if isinstance(e, Snapshot) and e.name == "staircase"][-1]
    series = snap.data["series"]
    assert [s["label"] for s in series] == ["label u(r)", "prediction (sigmoid)", "non-flat approximation u~(r)"]
    xs = series[0]["x"]
    assert len(xs) == 50 and xs == sorted(xs)
    assert all(abs(x - trainer.b_star) < 0.5 for x in xs)  # r = b* + N(0, ~0.1^2), within one std
    assert series[0]["y"] == trainer.stairs.u(torch.tensor(xs)).tolist()


def test_presets_carry_the_original_schedules():
    for learner in LEARNERS:
        config = load_preset(f"flat-{learner}").config()
        assert (config.learner, config.lr, config.steps) == (learner, *ORIGINAL_SCHEDULES[learner])


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError) as info:
        build_config(FlatConfig, {"learner": "backprop", "lr": -1})
    assert any(p.startswith("learner:") and "forward" in p for p in info.value.problems)
    assert any(p.startswith("lr:") for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        build_config(FlatConfig, {"beta2": 1})
    assert info.value.problems[0].startswith("beta2:")


@pytest.mark.parametrize(
    ("learner", "params"), [("forward", 101), ("sigmoid", 101), ("e2e", 30401), ("multiclass", 25452)]
)
def test_each_learner_records_its_parameter_count_its_test_time_cost(learner, params):
    """fig-flat's cost claim (Sec. 5.3, 5.5): forward-only's 101 against the MLPs' tens of thousands."""
    _, metrics, _ = train(learner=learner, steps=2, eval_every=1)
    assert {m.values["params"] for m in metrics} == {params}
