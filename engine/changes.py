"""Settings changed while a run trains: which may change, and checking a change before it is sent.

A family declares the settings that may change during a run (`FamilySpec.live`); every family may
also change `eval_every`, which the run loop itself reads. A change given at step N (`gradfail run
--at N:lr=0.1`, or made in the explorer when the run had finished step N) applies from step N + 1,
and the engine records it as a `SettingChanged` event, so the same config, seed, device and changes
give the same numbers, and `gradfail run --from RUN_DIR` can train a recorded run again.

Torch-free: the UI process checks a change here before any engine sees it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engine.config import BaseConfig, ConfigError, build_config, config_to_dict, knobs, unknown_key_message
from engine.registry import FamilySpec

LOOP_SETTINGS = ("eval_every",)  # read by the run loop, so every family can change them


@dataclass(frozen=True)
class Change:
    """Set `key` to `value` after step `step` (so from step `step` + 1 on)."""

    step: int
    key: str
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        return f"{self.step}:{self.key}={self.value}"


def live_settings(spec: FamilySpec) -> tuple[str, ...]:
    """The settings of `spec`'s runs that may change while they train, in the config's order."""
    allowed = set(spec.live) | set(LOOP_SETTINGS)
    return tuple(k.name for k in knobs(spec.config_cls) if k.name in allowed)


def check_change(spec: FamilySpec, config: BaseConfig | dict[str, Any], key: str, value: Any) -> Any:
    """The value `key` takes if changed to `value` in a run of `config`, parsed and checked; ConfigError
    (one line saying why) for an unknown setting, one that cannot change during a run, or a value out of
    bounds (the field's own bounds, and the checks across fields the config makes)."""
    names = [k.name for k in knobs(spec.config_cls)]
    live = live_settings(spec)
    if key not in names:
        raise ConfigError([unknown_key_message(key, names)])
    if key not in live:
        raise ConfigError(
            [f"{key}: cannot change during a run of the {spec.name} family; it can change {', '.join(live)}"]
        )
    values = config_to_dict(config) if isinstance(config, BaseConfig) else dict(config)
    values[key] = value
    # build_config parses the value, checks its bounds and the config's checks across fields.
    return getattr(build_config(spec.config_cls, values), key)


def check_changes(spec: FamilySpec, config: BaseConfig, changes: list[Change]) -> list[Change]:
    """Each change checked in step order against the config as the earlier ones left it; the changes
    with their values parsed. ConfigError lists every problem, each naming its change."""
    problems, checked = [], []
    current = config_to_dict(config)
    for change in sorted(changes, key=lambda c: c.step):
        where = f"--at {change.describe()}"
        if not 0 <= change.step < config.steps:
            problems.append(f"{where}: the step must be 0..{config.steps - 1} (the run trains {config.steps} steps)")
            continue
        try:
            value = check_change(spec, current, change.key, change.value)
        except ConfigError as exc:
            problems += [f"{where}: {problem}" for problem in exc.problems]
            continue
        current[change.key] = value
        checked.append(Change(change.step, change.key, value))
    if problems:
        raise ConfigError(problems)
    return checked


def parse_at(text: str) -> Change:
    """`"5000:lr=0.1"` -> Change(5000, "lr", "0.1") (the value is parsed by `check_changes`)."""
    step_text, colon, assignment = text.partition(":")
    key, equals, value = assignment.partition("=")
    if not colon or not equals or not key.strip():
        raise ConfigError([f"--at {text!r}: expected STEP:KEY=VALUE, e.g. --at 5000:lr=0.1"])
    try:
        step = int(step_text.strip().replace("_", ""))
    except ValueError:
        raise ConfigError([f"--at {text!r}: the step {step_text.strip()!r} is not a whole number"]) from None
    return Change(step, key.strip(), value.strip())


def changes_from_dicts(items: Any) -> list[Change]:
    """The changes of a "start" command (a list of {"step", "key", "value"}); ValueError if malformed."""
    if not items:
        return []
    try:
        return [Change(int(item["step"]), str(item["key"]), item["value"]) for item in items]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"malformed changes: {exc}") from None
