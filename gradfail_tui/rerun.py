"""`gradfail run --at STEP:KEY=VALUE` and `gradfail run --from RUN_DIR`: what to train, read and checked.

`--from` takes a recorded run's family, preset, config, seed and the settings it changed mid-run
(its `setting_changed` events), so training it again on the same device gives the same numbers;
`--set` and `--at` apply on top. Every problem is found here, before anything trains.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.changes import Change, check_changes, parse_at
from engine.config import BaseConfig, ConfigError
from engine.events import SettingChanged
from engine.record import NotARecord, is_run_dir, read_run
from engine.registry import get_family


@dataclass
class Recorded:
    """What `--from RUN_DIR` trains again."""

    family: str
    preset: str | None
    config: dict[str, Any]
    seed: int
    changes: list[Change] = field(default_factory=list)


def read_recorded(path: Path) -> Recorded:
    """A run record's config, seed and changes; ConfigError saying why it cannot be rerun."""
    if not path.is_dir() or not is_run_dir(path):
        hint = " (a group's directory: give one of its runs' directories)" if (path / "group.json").is_file() else ""
        raise ConfigError([f"--from {path}: not a run directory (no run.json or events.jsonl in it){hint}"])
    try:
        record = read_run(path)
    except (NotARecord, OSError) as exc:
        raise ConfigError([f"--from {path}: {exc}"]) from None
    manifest = record.manifest
    if not manifest.get("family") or not isinstance(manifest.get("config"), dict):
        raise ConfigError([f"--from {path}: the record does not say what ran (no family or config)"])
    changes = [Change(e.step, e.setting, e.new) for e in record.events if isinstance(e, SettingChanged)]
    return Recorded(
        family=str(manifest["family"]),
        preset=manifest.get("preset"),
        config=dict(manifest["config"]),
        seed=int(manifest.get("seed") or 0),
        changes=changes,
    )


def changes_for(family: str, config: BaseConfig, recorded: list[Change], at: list[str]) -> list[Change]:
    """The recorded changes and those given with --at, each checked (ConfigError lists every problem).
    A --at change at the step of a recorded one of the same setting replaces it."""
    given = [parse_at(text) for text in at]
    replaced = {(c.step, c.key) for c in given}
    kept = [c for c in recorded if (c.step, c.key) not in replaced]
    return check_changes(get_family(family), config, kept + given)
