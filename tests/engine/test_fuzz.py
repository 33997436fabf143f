"""Fuzzed input for every family: a config and a preset are either accepted or refused with a clear
message naming what was wrong; never any other exception (which would reach the user as a traceback)."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.catalog import read_any
from engine.config import ConfigError, build_config, knobs, parse_assignments
from engine.presets import PresetError
from engine.registry import families

FAMILIES = sorted(families())
values = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["1e3", "0", "-1", "nan", "inf", "sgd", "adam", "true", "1.5", ""]),
)


def keys_for(family):
    names = [k.name for k in knobs(families()[family].config_cls)]
    return st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=10))


@st.composite
def family_and_values(draw):
    family = draw(st.sampled_from(FAMILIES))
    return family, draw(st.dictionaries(keys_for(family), values, max_size=5))


def check_accepted(config_cls, config):
    for k in knobs(config_cls):
        k.check(getattr(config, k.name))  # every accepted value is within its declared bounds


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family_and_values())
def test_config_values_are_accepted_or_refused_by_name(case):
    family, given_values = case
    config_cls = families()[family].config_cls
    try:
        config = build_config(config_cls, given_values)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.split(":")[0] in given_values or any(k.name in problem for k in knobs(config_cls)), problem
        return
    check_accepted(config_cls, config)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=15), max_size=4))
def test_set_assignments_parse_or_say_what_is_expected(items):
    try:
        parsed = parse_assignments(items)
    except ConfigError as exc:
        assert "expected key=value" in str(exc)
        return
    assert all(isinstance(k, str) and k for k in parsed)


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a JSON string is a valid TOML basic string


@st.composite
def preset_documents(draw):
    family, config = draw(family_and_values())
    family = draw(st.one_of(st.just(family), st.text(max_size=8)))
    lines = [f"family = {json.dumps(family)}"]
    if draw(st.booleans()):
        lines.append(
            f"{draw(st.sampled_from(['description', 'paper', 'seed', 'colour']))} = {toml_value(draw(values))}"
        )
    lines.append("[config]")
    lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in config.items()]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):  # and sometimes damage it
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=5)) + text[cut:]
    return text


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(preset_documents())
def test_preset_files_are_accepted_or_refused_naming_the_file(tmp_path, text):
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(text.encode("utf-8", errors="replace"))  # hypothesis text may hold lone surrogates
    try:
        preset = read_any(path)
    except PresetError as exc:
        assert str(path) in str(exc)
        return
    check_accepted(families()[preset.family].config_cls, preset.config())
