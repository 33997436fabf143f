"""Settings changed mid-run: checked before they go, applied after their step, recorded, reproducible."""

from __future__ import annotations

import re
import time

import pytest
import torch

from engine.changes import Change, check_change, check_changes, live_settings, parse_at
from engine.config import ConfigError, build_config
from engine.events import Metrics, SettingChanged, from_json, to_json
from engine.loop import Control, run_lanes
from engine.registry import families, get_family, load_trainer_class
from engine.state import RunState

TINY = {"d": 8, "batch": 16, "eval_samples": 64, "steps": 240, "eval_every": 40}


def train(family: str, values: dict, changes=(), control: Control | None = None, on_event=None, seed: int = 3):
    """Train in this process through the real loop; returns the events."""
    torch.set_num_threads(1)
    spec = get_family(family)
    config = build_config(spec.config_cls, values)
    trainer = load_trainer_class(spec)(config, torch.device("cpu"), seed)
    events = []
    control = control or Control()

    def emit(event):
        events.append(event)
        if on_event is not None:
            on_event(event, control)

    run_lanes(
        trainer,
        config,
        ["run"],
        emit,
        control,
        time.perf_counter(),
        changes=list(changes),
        check=lambda key, value, current: check_change(spec, current, key, value),
    )
    return events


def evaluations(events) -> list[tuple[int, dict]]:
    """The evaluations (every metrics event but the training averages, whose windows follow the clock)."""
    return [(e.step, e.values) for e in events if isinstance(e, Metrics) and "train_loss" not in e.values]


def test_a_change_asked_for_live_at_step_n_trains_the_same_numbers_as_one_given_for_step_n():
    def raise_lr_at_120(event, control):  # as the explorer does: the parent asks while the run trains
        if isinstance(event, Metrics) and event.step == 120 and "test_acc" in event.values:
            control.change("lr", 0.3)

    live = train("parity", TINY, on_event=raise_lr_at_120)
    changed = [e for e in live if isinstance(e, SettingChanged)]
    assert [(e.step, e.setting, e.old, e.new) for e in changed] == [(120, "lr", 0.01, 0.3)]
    given = train("parity", TINY, changes=[Change(120, "lr", 0.3)])
    assert evaluations(live) == evaluations(given)
    unchanged = train("parity", TINY)
    assert evaluations(unchanged)[:4] == evaluations(given)[:4]  # the same up to the change ...
    assert evaluations(unchanged)[4:] != evaluations(given)[4:]  # ... and not after it


@pytest.mark.parametrize("family", ["periodic", "flat", "stocks"])
def test_each_family_with_an_optimizer_changes_its_learning_rate_mid_run(family):
    spec = get_family(family)
    assert "lr" in live_settings(spec)
    values = {"steps": 60, "eval_every": 20, "batch": 8, "eval_samples": 16}
    if family == "periodic":
        values.update(d=4, variance_every=0)
    if family == "stocks":
        values.update(d=4, k=3)
    if family == "flat":
        values.update(d=4)
    base = train(family, values)
    events = train(family, values, changes=[Change(20, "lr", 0.5)])
    assert [(e.step, e.setting) for e in events if isinstance(e, SettingChanged)] == [(20, "lr")]
    assert evaluations(base)[:2] == evaluations(events)[:2] and evaluations(base)[2:] != evaluations(events)[2:]


def test_eval_every_changes_the_loops_schedule():
    events = train("parity", TINY, changes=[Change(80, "eval_every", 20)])
    assert [step for step, _ in evaluations(events)] == [0, 40, 80, 100, 120, 140, 160, 180, 200, 220, 240]


def test_a_change_is_checked_before_it_is_sent():
    spec, config = get_family("parity"), build_config(get_family("parity").config_cls, TINY)
    assert check_change(spec, config, "lr", "0.5") == 0.5
    for key, value, why in [
        ("lrr", "1", "unknown setting (did you mean lr?)"),
        ("d", "12", "d: cannot change during a run of the parity family; it can change eval_every, lr"),
        ("lr", "0", "lr: got 0, expected a number > 0"),
        ("lr", "1e39", "beyond float32's range"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(why)):
            check_change(spec, config, key, value)
    with pytest.raises(ConfigError, match="the step must be 0..239"):
        check_changes(spec, config, [Change(240, "lr", "0.1")])
    assert parse_at("1_000:lr=0.1") == Change(1000, "lr", "0.1")
    with pytest.raises(ConfigError, match="expected STEP:KEY=VALUE"):
        parse_at("lr=0.1")


def test_every_live_setting_is_a_field_of_its_family():
    for spec in families().values():
        names = {f for f in spec.config_cls.__dataclass_fields__}
        assert set(spec.live) <= names, spec.name


def test_the_event_round_trips_and_folds_into_the_state():
    event = SettingChanged(run_id="r", t=1.0, step=5, setting="lr", old=0.01, new=0.1)
    assert from_json(to_json(event)) == event
    state = RunState(run_id="r", label="x", config={"lr": 0.01, "d": 3})
    state.apply(event)
    assert state.current_config() == {"lr": 0.1, "d": 3} and state.change_markers() == [(5, "lr 0.01→0.1")]


def test_lr_1e38_is_refused_before_training_where_adam_would_overflow():
    with pytest.raises(ConfigError, match="Adam's first step"):
        build_config(get_family("flat").config_cls, {"lr": "1e38"})
    with pytest.raises(ConfigError, match="float32"):
        build_config(get_family("parity").config_cls, {"lr": "1e39"})
    build_config(get_family("flat").config_cls, {"lr": "1e37"})  # within range: allowed (it may diverge)
