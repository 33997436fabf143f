"""The catalog: the one place that reads a preset file of either kind.

A preset file holds a single-run preset (engine/presets.py) or a group preset (engine/groups.py);
which one is decided here, by its content (a group names `[[runs]]`), so that neither of those
modules needs the other's reader: groups build on single presets, and this module on both.
`gradfail run --preset`, `gradfail presets show`, the explorer and the report load presets through it.
Torch-free.
"""

from __future__ import annotations

from pathlib import Path

from engine.groups import GroupPreset, is_group_data, read_group
from engine.presets import Preset, find_preset, read_single, read_toml


def read_any(path: Path) -> Preset | GroupPreset:
    """The preset a file holds, single or group; PresetError (GroupError for a group) says what is wrong."""
    data = read_toml(path)
    return read_group(path, data) if is_group_data(data) else read_single(path, data)


def load_preset(name_or_path: str) -> Preset | GroupPreset:
    """A preset (single or group) by name, or by the path of a .toml file; PresetError says what was wrong."""
    return read_any(find_preset(name_or_path))
