"""Divergence in every family: the run ends `diverged` at the first step whose number is not finite.

Training families are given real configs that blow up (a learning rate far too large), and the
test records every step's scalars itself, so the step the run loop names (it reads the scalars in
batches of CHECK_EVERY) is checked against the step where the first NaN or inf really appeared.
The flat family's sigmoid learner cannot be made to diverge by any learning rate (its output is a
sum of sigmoids, bounded, and its gradient vanishes as they saturate), so a NaN is put into its
weights. The measurement families (parity_variance, tuple_snr, pwl_condition) train nothing: for
them a divergence is a measurement that comes out NaN or infinite, injected into the diagnostic
they call, and reported at the step that measured it. (Through the CLI and the engine process:
tests/cli/test_faults.py.)
"""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
import torch

from engine.config import build_config
from engine.events import Metrics, RunFinished
from engine.loop import CHECK_EVERY, Control, run_lanes
from engine.registry import families, load_trainer_class
from tests.conftest import train_in_process

CPU = torch.device("cpu")

# (family, config): small, and each blows up on its own. SGD's blow-up is exponential and lands
# somewhere in the first window or past it; Adam's steps are about lr long whatever the gradient.
BLOW_UPS = {
    "parity": ("parity", {"d": 6, "optimizer": "sgd", "lr": 200.0, "steps": 300, "eval_every": 50}),
    "parity-adam": ("parity", {"d": 6, "lr": 1e30, "steps": 100, "eval_every": 50}),
    "periodic": (
        "periodic",
        {
            "d": 4,
            "optimizer": "sgd",
            "lr": 1.0,
            "batch": 16,
            "eval_samples": 64,
            "variance_every": 0,
            "steps": 300,
            "eval_every": 50,
        },
    ),
    "stocks": ("stocks", {"d": 20, "k": 5, "lr": 1e38, "batch": 8, "eval_samples": 16, "steps": 100, "eval_every": 50}),
    "tuples": (
        "tuples",
        {
            "k": 1,
            "lr": 1e6,
            "batch": 4,
            "eval_samples": 8,
            "snr_every": 0,
            "show_tuples": 0,
            "steps": 100,
            "eval_every": 10,
        },
    ),
    **{
        f"pwl-{trainer}": (
            "pwl",
            {
                "trainer": trainer,
                "optimizer": "sgd",
                "lr": lr,
                "n": 9,
                "train_size": 16,
                "val_size": 4,
                "batch": 4,
                "steps": 300,
                "eval_every": 50,
            },
        )
        for trainer, lr in (("linear", 0.03), ("conv", 1.0), ("conv_cond", 10.0), ("autoencoder", 1.0))
    },
    **{
        f"flat-{learner}": (
            "flat",
            {
                "learner": learner,
                "lr": lr,
                "d": 4,
                "width": 8,
                "batch": 16,
                "eval_samples": 64,
                "steps": 300,
                "eval_every": 50,
            },
        )
        for learner, lr in (("e2e", 1e6), ("multiclass", 1e30), ("forward", 1e37))
    },
}


def make(family: str, values: dict, seed: int | list[int] = 0):
    spec = families()[family]
    config = build_config(spec.config_cls, values, source="test")
    return load_trainer_class(spec)(config, CPU, seed), config


def record_step_scalars(trainer) -> list[tuple[int, torch.Tensor]]:
    """Keep a copy of what every train_step returns: the truth the loop's report is checked against."""
    seen: list[tuple[int, torch.Tensor]] = []
    step_fn = trainer.train_step

    def train_step(step):
        scalars = step_fn(step)
        trainer.settle()  # what the loop does before it reads them
        lanes = getattr(trainer, "lanes", 1)
        seen.append((step, torch.stack([v.detach().float().reshape(lanes) for v in scalars.values()])))
        return scalars

    trainer.train_step = train_step
    return seen


def first_bad_step(seen, lane: int = 0) -> int | None:
    return next((step for step, values in seen if not torch.isfinite(values[:, lane]).all()), None)


def assert_diverged_at(finished: RunFinished, events: list, step: int, what: str) -> None:
    assert (finished.status, finished.step, finished.error_kind) == ("diverged", step, "nan"), finished
    assert what in finished.message and f"NaN or infinite at step {step}" in finished.message, finished.message
    assert events[-1] is finished  # nothing after the end
    for event in events:
        if isinstance(event, Metrics) and event.step < step:
            assert all(math.isfinite(v) for v in event.values.values()), event  # all finite before it


@pytest.mark.parametrize("case", list(BLOW_UPS))
def test_a_config_that_blows_up_diverges_at_its_first_non_finite_step(case):
    family, values = BLOW_UPS[case]
    trainer, config = make(family, values)
    seen = record_step_scalars(trainer)
    finished, events = train_in_process(trainer, config)
    bad = first_bad_step(seen)
    assert bad is not None, f"{case}: the config no longer blows up within {config.steps} steps"
    assert_diverged_at(finished, events, bad, "the training")
    assert seen[-1][0] <= bad + CHECK_EVERY  # it stopped within one window of the bad step


def test_the_sigmoid_learner_diverges_when_a_weight_turns_nan():
    trainer, config = make(
        "flat", {"learner": "sigmoid", "d": 4, "batch": 16, "eval_samples": 64, "steps": 300, "eval_every": 50}
    )
    seen = record_step_scalars(trainer)
    step_fn = trainer.train_step
    poison_at = 45  # inside the loop's second window of CHECK_EVERY steps

    def train_step(step):
        if step == poison_at:
            with torch.no_grad():
                trainer.learner.model.weight[0, 0] = math.nan
        return step_fn(step)

    trainer.train_step = train_step
    finished, events = train_in_process(trainer, config)
    assert first_bad_step(seen) == poison_at
    assert_diverged_at(finished, events, poison_at, "the training train loss")


def test_each_seed_trained_together_diverges_alone_at_its_own_step():
    trainer, config = make(
        "parity", {"d": 6, "optimizer": "sgd", "lr": 200.0, "steps": 300, "eval_every": 50}, seed=[0, 1, 2, 3]
    )
    seen = record_step_scalars(trainer)
    ends = run_lanes(trainer, config, ["a", "b", "c", "d"], lambda event: None, Control(), time.perf_counter())
    for lane, end in enumerate(ends):
        bad = first_bad_step(seen, lane)
        if bad is None:
            assert end.status == "completed" and end.step == 300
        else:
            assert (end.status, end.step) == ("diverged", bad), (lane, end)
    assert len({end.step for end in ends}) > 1, "the lanes should end at different steps"


# -- the measurement families: a non-finite measurement ---------------------------------------


def test_parity_variance_a_non_finite_variance_is_a_divergence_at_its_d(monkeypatch):
    import engine.families.parity_variance.trainer as module

    measure = module.parity_target_variance

    def broken_at_d5(model, d, loss, **kwargs):
        result = measure(model, d, loss, **kwargs)
        return dataclasses.replace(result, variance=math.inf) if d == 5 else result

    monkeypatch.setattr(module, "parity_target_variance", broken_at_d5)
    trainer, config = make("parity_variance", {"d_min": 2, "d_max": 7, "steps": 6, "inits": 1, "width_mult": 2})
    finished, events = train_in_process(trainer, config)
    assert_diverged_at(finished, events, 4, "the measured target var")  # step 4 measures d = 2 + 4 - 1 = 5
    assert [e.values["d"] for e in events if isinstance(e, Metrics)] == [2, 3, 4, 5]


def test_pwl_condition_a_nan_condition_number_is_a_divergence_at_its_n(monkeypatch):
    from engine.diagnostics import conditioning

    condition_number = conditioning.condition_number
    monkeypatch.setattr(
        conditioning, "condition_number", lambda m: math.nan if m.shape[0] == 40 else condition_number(m)
    )
    trainer, config = make("pwl_condition", {"n_min": 10, "n_step": 10, "steps": 6})
    finished, events = train_in_process(trainer, config)
    assert_diverged_at(finished, events, 4, "the measured cond")  # n = 10, 20, 30, 40


def test_tuple_snr_a_nan_gradient_is_a_divergence_not_an_upper_bound(monkeypatch):
    import engine.families.tuple_snr.trainer as module
    from tests.engine.reference import estimate_snr

    calls = []

    def nan_on_the_second_initialisation(net, lines, **kwargs):
        calls.append(1)
        grads = torch.randn(lines.theta.shape[0], 3)
        if len(calls) > 3:  # three estimates (e2e, dec, dec_full) per k per step: step 2 onwards is broken
            grads[0, 0] = math.nan
        return estimate_snr(grads)

    monkeypatch.setattr(module, "measure_snr", nan_on_the_second_initialisation)
    trainer, config = make("tuple_snr", {"k_max": 1, "samples": 16, "steps": 4})
    finished, events = train_in_process(trainer, config)
    assert_diverged_at(finished, events, 2, "the measured e2e k1")
