"""Presets: named TOML files that override a family's defaults.

A preset says only what differs from the family's defaults (like a Flax example config):

    family = "parity"
    description = "d = 30: the gradient carries no information; SGD stays at chance"
    paper = "Fig. 1: d = 5 and 10 reach ~100% accuracy, d = 30 stays at 50%."
    [config]
    d = 30
    steps = 50000

They are searched in the directories named by $GRADFAIL_PRESETS (separated like PATH), then
~/.config/gradfail/presets, then the presets shipped with gradfail; the first file with a name
wins, so a user's own `parity30.toml` shadows ours. A path to a .toml file works anywhere a name
does. Every error names the file, the key and what was expected.

This module reads single-run presets, and tells a file's kind (`preset_kind`: single, group or
sweep, by its content) for every reader. Group presets (engine/groups.py) and sweep presets
(engine/sweeps.py) are built on these, and engine/catalog.py, above them, is what reads a preset
file of any kind and lists them all.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from engine.config import BaseConfig, ConfigError, build_config, unknown_key_message
from engine.registry import UnknownFamily, get_family

TOP_LEVEL_KEYS = {"family": str, "description": str, "paper": str, "seed": int, "config": dict}
DEFAULT_SCALE = "default"  # the scale a group or sweep preset runs at unless --scale names another
GROUP_ONLY_KEYS = {"title", "claims", "plot"}  # keys a group has and a single-run preset never does


class PresetKind(StrEnum):
    SINGLE = "single"  # one run: a family and its [config]
    GROUP = "group"  # [[runs]] and the paper's [[claims]] (engine/groups.py)
    SWEEP = "sweep"  # a [grid] of settings (engine/sweeps.py)


def preset_kind(data: dict[str, Any]) -> PresetKind:
    """The kind of preset a file's parsed TOML holds, by its content: the one rule every reader uses.

    A sweep names a `[grid]`; a group names `[[runs]]`, and a file with a group's keys but neither
    runs nor a family is a group missing its runs (refused as a group, saying so)."""
    if "grid" in data:
        return PresetKind.SWEEP
    if "runs" in data or ("family" not in data and bool(GROUP_ONLY_KEYS & data.keys())):
        return PresetKind.GROUP
    return PresetKind.SINGLE


class PresetError(ValueError):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    family: str
    description: str
    paper: str
    seed: int | None
    values: dict[str, Any]  # the [config] table as written, already validated
    kind: ClassVar[PresetKind] = PresetKind.SINGLE

    def config(self, overrides: dict[str, Any] | None = None, source: str = "--set") -> BaseConfig:
        """The resolved config: family defaults, then this preset, then `overrides`."""
        spec = get_family(self.family)
        build_config(spec.config_cls, self.values, source=str(self.path))  # the preset alone is valid
        return build_config(spec.config_cls, {**self.values, **(overrides or {})}, source=source)


def shipped_presets_dir() -> Path:
    """presets/ at the top of a source checkout, or engine/presets inside an installed wheel."""
    installed = Path(__file__).parent / "presets"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "presets"


def search_dirs() -> list[Path]:
    dirs = [Path(p).expanduser() for p in os.environ.get("GRADFAIL_PRESETS", "").split(os.pathsep) if p]
    dirs.append(Path.home() / ".config" / "gradfail" / "presets")
    dirs.append(shipped_presets_dir())
    return dirs


def preset_paths() -> dict[str, Path]:
    """Every preset name found, with the file that wins for it."""
    found: dict[str, Path] = {}
    for directory in search_dirs():
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                found.setdefault(path.stem, path)
    return dict(sorted(found.items(), key=lambda item: natural_key(item[0])))


def natural_key(name: str) -> list:
    """parity5 before parity10: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_preset(name_or_path: str) -> Path:
    """The file of a preset named, or the .toml file given by its path; PresetError if there is none."""
    candidate = Path(name_or_path).expanduser()
    if name_or_path.endswith(".toml") or os.sep in name_or_path:
        if not candidate.is_file():
            raise PresetError(f"preset file {name_or_path} does not exist")
        return candidate
    paths = preset_paths()
    if name_or_path not in paths:
        close = difflib.get_close_matches(name_or_path, list(paths), n=4, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise PresetError(f"unknown preset {name_or_path!r}.{hint} `gradfail presets` lists all {len(paths)}.")
    return paths[name_or_path]


def read_toml(path: Path) -> dict[str, Any]:
    """A preset file's parsed TOML, whichever kind of preset it holds."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read: {exc}") from None


def read_single(path: Path, data: dict[str, Any]) -> Preset:
    """A single-run preset from its parsed TOML; PresetError names the file, the key and the problem."""
    problems = check_keys(data, TOP_LEVEL_KEYS, "")
    if "family" not in data:
        problems.append("family: missing (which family does this preset configure?)")
    if problems:
        raise PresetError(f"{path}: " + "; ".join(problems))
    try:
        spec = get_family(data["family"])
    except UnknownFamily as exc:
        raise PresetError(f"{path}: family: {exc}") from None
    values = data.get("config", {})
    try:
        build_config(spec.config_cls, values, source=str(path))
    except ConfigError as exc:
        raise PresetError(f"{path}: [config] " + "; ".join(exc.problems)) from None
    return Preset(
        name=path.stem,
        path=path,
        family=spec.name,
        description=data.get("description", ""),
        paper=data.get("paper", ""),
        seed=data.get("seed"),
        values=values,
    )


def check_keys(table: dict[str, Any], allowed: dict[str, Any], where: str) -> list[str]:
    """What is wrong with a table's keys and their types, one line each, prefixed with `where`.

    `allowed` maps each key to its type (or a tuple of types); a bool is not taken for a number,
    though Python's bool is an int. Shared by every table of a preset file: a preset's top level,
    a group's, its runs', its claims'."""
    problems = []
    for key, value in table.items():
        expected = allowed.get(key)
        if expected is None:
            problems.append(where + unknown_key_message(key, list(allowed)))
        elif not isinstance(value, expected) or (isinstance(value, bool) and expected in (int, (int, float))):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            problems.append(f"{where}{key}: expected {names}, got {type(value).__name__}")
    return problems
