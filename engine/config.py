"""Typed family configs: defaults, bounds and help text per field, and their validation.

A family's config is a frozen dataclass whose fields are declared with `knob(...)`. The CLI
(`--set key=value`), preset files and the TUI's form are all generated from, and checked
against, these declarations, so an error always names the field and what it allows.

This module must not import torch: the UI process validates input before any engine exists.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import typing
from dataclasses import dataclass, field
from typing import Any

# Every family trains in float32: a number beyond its range cannot even be given to the model
# (lr = 1e38 times a gradient overflows; 1e39 "cannot be converted to float"), so a float setting
# is refused beyond it before anything trains.
FLOAT32_MAX = 3.4028234663852886e38


class ConfigError(ValueError):
    """Bad input for a config. `problems` holds one line per field, already worded for a person."""

    def __init__(self, problems: list[str], source: str = ""):
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))


@dataclass(frozen=True)
class Knob:
    """What the UI needs to know about one config field."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None  # inclusive lower bound, unless low_open
    high: float | None = None  # inclusive upper bound
    low_open: bool = False  # "> low" rather than ">= low" (lr > 0)
    choices: tuple[str, ...] | None = None

    def allowed(self) -> str:
        """The allowed values, in words: 'an integer >= 1', 'one of sgd, adam'."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.type]
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_fmt(self.high)}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def parse(self, value: Any) -> Any:
        """Convert a value from text (CLI, form) or TOML to the field's type, or raise ValueError."""
        converted = _convert(self.type, value)
        self.check(converted)
        return converted

    def check(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            raise ValueError(f"got {value!r}, expected {self.allowed()}")
        if self.type in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"got {value}, expected a finite number")
            if self.type is float and abs(value) > FLOAT32_MAX:
                raise ValueError(f"got {_fmt(value)}, beyond float32's range (at most {FLOAT32_MAX:.4g})")
            too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and value > self.high
            if too_low or too_high:
                raise ValueError(f"got {_fmt(value)}, expected {self.allowed()}")


def knob(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """Declare a config field with its default, help text and bounds (see `Knob`)."""
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "choices": choices}
    return field(default=default, metadata={"knob": meta})


@dataclass(frozen=True)
class BaseConfig:
    """Fields every family has. Families subclass it and may redeclare a field to change its default."""

    steps: int = knob(1000, "training steps", low=1, high=10**9)
    eval_every: int = knob(100, "evaluate every this many steps", low=1)

    def problems(self) -> list[str]:
        """Cross-field checks a family adds (each a line naming the fields); none by default."""
        return []


def knobs(config_cls: type[BaseConfig]) -> list[Knob]:
    """The declared fields of a config class, in declaration order."""
    return list(_knobs(config_cls))


@functools.cache  # resolving type hints is slow, and every preset read and form check asks
def _knobs(config_cls: type[BaseConfig]) -> tuple[Knob, ...]:
    hints = typing.get_type_hints(config_cls)
    return tuple(
        Knob(name=f.name, type=hints[f.name], default=f.default, **f.metadata["knob"])
        for f in dataclasses.fields(config_cls)
        if "knob" in f.metadata
    )


def build_config(config_cls: type[BaseConfig], values: dict[str, Any], source: str = "") -> BaseConfig:
    """Defaults overridden by `values`, each parsed and checked; raise ConfigError listing every problem."""
    by_name = {k.name: k for k in knobs(config_cls)}
    problems, parsed = [], {}
    for key, value in values.items():
        spec = by_name.get(key)
        if spec is None:
            problems.append(unknown_key_message(key, list(by_name)))
            continue
        try:
            parsed[key] = spec.parse(value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    if problems:
        raise ConfigError(problems, source)
    config = config_cls(**parsed)
    cross = config.problems() + float32_problems(config)
    if cross:
        raise ConfigError(cross, source)
    return config


def uses_torch_adam(config: BaseConfig) -> bool:
    """Whether the run's optimizer is torch's Adam: `optimizer = adam`, or a family that always uses
    Adam (it has `beta1`) unless it asks for TF1's form (`adam = tf1`, which scales its step otherwise)."""
    optimizer = getattr(config, "optimizer", None)
    if optimizer is not None:
        return optimizer == "adam"
    return hasattr(config, "beta1") and getattr(config, "adam", "torch") == "torch"


def float32_problems(config: BaseConfig) -> list[str]:
    """A learning rate whose first update cannot be a float32: torch's Adam divides it by
    1 - beta1 (0.1 by default), so lr = 1e38 asks for a step of 1e39, which torch refuses
    mid-step ("cannot be converted to float"). Refused here, before anything trains."""
    lr = getattr(config, "lr", None)
    if not isinstance(lr, float) or not uses_torch_adam(config):
        return []
    beta1 = float(getattr(config, "beta1", 0.9))
    step = lr / (1 - beta1)
    if step <= FLOAT32_MAX:
        return []
    return [
        f"lr: got {_fmt(lr)}; Adam's first step lr / (1 - beta1) = {step:.3g} is beyond float32's range "
        f"(at most {FLOAT32_MAX:.4g}), so lr must be at most {FLOAT32_MAX * (1 - beta1):.3g}"
    ]


def config_to_dict(config: BaseConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def differences(values: dict[str, Any] | BaseConfig, base: BaseConfig) -> dict[str, Any]:
    """The settings of `values` (a config, or one as a record stores it) that differ from `base`
    (a family's defaults, or a preset's config), in `values`' order."""
    if isinstance(values, BaseConfig):
        values = config_to_dict(values)
    reference = config_to_dict(base)
    return {key: value for key, value in values.items() if reference.get(key) != value}


def unknown_key_message(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{key}: unknown setting{hint}; known: {', '.join(known)}"


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """`["d=12", "lr=0.05"]` -> `{"d": "12", "lr": "0.05"}`; values stay text for `Knob.parse`."""
    result = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError([f"{item!r}: expected key=value, e.g. d=12"], "--set")
        result[key.strip()] = value.strip()
    return result


def _convert(kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ValueError(f"got {value!r}, expected true or false")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(f"got {value!r}, expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            try:
                return int(text)
            except ValueError:
                try:  # "1e4" is a fine way to write 10000
                    number = float(text)
                except ValueError:
                    number = math.nan
                if math.isfinite(number) and number.is_integer():
                    return int(number)
        raise ValueError(f"got {value!r}, expected an integer")
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(f"got {value!r}, expected a number")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise ValueError(f"got {value!r}, expected a number")
    if kind is str:
        if isinstance(value, str):
            return value.strip()
        raise ValueError(f"got {value!r}, expected a string")
    raise TypeError(f"unsupported knob type {kind}")


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
