import pytest

from engine.config import ConfigError, build_config, knobs, parse_assignments
from engine.families.parity import ParityConfig


def test_defaults_are_the_original_settings():
    config = build_config(ParityConfig, {})
    assert (config.d, config.lr, config.batch, config.steps, config.eval_every) == (30, 0.01, 128, 50_000, 100)
    assert config.optimizer == "sgd" and config.width_mult == 10 and config.depth == 1


def test_text_values_are_parsed_by_type():
    config = build_config(ParityConfig, parse_assignments(["d=12", "lr=0.05", "width_mult=20", "depth=3", "steps=1e4"]))
    assert (config.d, config.lr, config.width_mult, config.depth, config.steps) == (12, 0.05, 20, 3, 10_000)


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"d": "0"}, "d: got 0, expected an integer >= 1"),
        ({"lr": "0"}, "lr: got 0, expected a number > 0"),
        ({"lr": "-1"}, "lr: got -1, expected a number > 0"),
        ({"batch": "0"}, "batch: got 0, expected an integer >= 1"),
        ({"d": "1.5"}, "d: got '1.5', expected an integer"),
        ({"lr": "fast"}, "lr: got 'fast', expected a number"),
        ({"lr": "nan"}, "lr: got nan, expected a finite number"),
        ({"optimizer": "rmsprop"}, "optimizer: got 'rmsprop', expected one of sgd, adam"),
        ({"dd": "3"}, "dd: unknown setting (did you mean d?)"),
        ({"subset": "fixed", "subset_size": "40"}, "subset_size: got 40, expected 1..d (= 30) when subset = fixed"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(values, expected):
    with pytest.raises(ConfigError) as info:
        build_config(ParityConfig, values)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        build_config(ParityConfig, {"d": "0", "lr": "-1"})
    assert len(info.value.problems) == 2


def test_assignments_need_an_equals_sign():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignments(["d12"])


def test_every_knob_has_help_and_a_default_that_passes_its_own_check():
    for k in knobs(ParityConfig):
        assert k.help
        k.check(k.default)
