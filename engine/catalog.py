"""The catalog: the one place that reads a preset file of either kind, and lists them all.

A preset file holds a single-run preset (engine/presets.py), a group preset (engine/groups.py) or a
sweep preset (engine/sweeps.py); `presets.preset_kind` tells which by its content, and the reader is
chosen here, so that none of those modules needs another's reader: groups and sweeps build on
single presets, and this module on all three.
`gradfail presets`, `gradfail run --preset`, the explorer and the report load presets through it.
Torch-free.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from engine.figures import Figure
from engine.groups import GroupPreset, parse_group
from engine.presets import (
    Preset,
    PresetError,
    PresetKind,
    find_preset,
    preset_kind,
    preset_paths,
    read_single,
    read_toml,
)
from engine.sweeps import SweepPreset, parse_sweep_preset


def read_any(path: Path) -> Preset | GroupPreset | SweepPreset:
    """The preset a file holds, single, group or sweep (a `[grid]` table); PresetError (GroupError for a
    group, SweepPresetError for a sweep) says what is wrong."""
    data = read_toml(path)
    read = {PresetKind.SINGLE: read_single, PresetKind.GROUP: parse_group, PresetKind.SWEEP: parse_sweep_preset}
    return read[preset_kind(data)](path, data)


def load_preset(name_or_path: str) -> Preset | GroupPreset | SweepPreset:
    """A preset (single or group) by name, or by the path of a .toml file; PresetError says what was wrong."""
    return read_any(find_preset(name_or_path))


@dataclass(frozen=True)
class Catalog:
    """Every preset found in the search directories, and what was wrong with those that did not load."""

    entries: tuple[Preset | GroupPreset | SweepPreset, ...]  # in name order, singles, groups and sweeps together
    problems: tuple[str, ...]  # one line for each file that did not load, naming it

    @property
    def presets(self) -> list[Preset]:
        return [entry for entry in self.entries if isinstance(entry, Preset)]

    @property
    def groups(self) -> list[GroupPreset]:
        return [entry for entry in self.entries if isinstance(entry, GroupPreset)]

    @property
    def sweeps(self) -> list[SweepPreset]:
        return [entry for entry in self.entries if isinstance(entry, SweepPreset)]

    def offered(self, families: Container[str]) -> tuple[list[Preset], list[GroupPreset]]:
        """The presets and groups an app that knows only `families` can run.

        A group is offered when every family it runs is known, at every scale (a scale may swap a
        run's preset, and so its family)."""
        family_of = {preset.name: preset.family for preset in self.presets}  # for the groups' runs

        def runs_known(group: GroupPreset) -> bool:
            names = [run.get("family") or family_of.get(run.get("preset", "")) for run in group.runs]
            names += [
                family_of.get(s.get("preset", ""))
                for run in group.runs
                for s in run.get("scales", {}).values()
                if isinstance(s, dict) and "preset" in s
            ]
            return all(name in families for name in names)

        return ([p for p in self.presets if p.family in families], [g for g in self.groups if runs_known(g)])


def group_figure(preset: object) -> Figure | None:
    """The figure the group preset named `preset` draws (declared in its [figure], else made from its
    `plot`); None if the name is not a group's or cannot be read any more (renamed since a record was
    made: the record's own metrics are drawn instead). The talk, the report and the explorer ask here."""
    if not isinstance(preset, str) or not preset:
        return None
    try:
        group = load_preset(preset)
    except PresetError:
        return None
    return group.figure if isinstance(group, GroupPreset) else None


def scan() -> Catalog:
    """Read every preset file that wins its name in the search directories (presets.preset_paths)."""
    entries, problems = [], []
    for path in preset_paths().values():
        try:
            entries.append(read_any(path))
        except PresetError as exc:  # GroupError included
            problems.append(str(exc))
    return Catalog(tuple(entries), tuple(problems))
