"""Group presets: one result of the paper as several runs, shown together, with its claim checked.

A group preset is a TOML file among the presets (fig-parity.toml, ...) with `[[runs]]` instead of
`family`. Each run names a single preset (or a family) and what it changes; a run may say how it
differs at another scale (`--scale paper` swaps in the original's schedule):

    title = "Figure 1: parities of growing dimension"
    description = "d = 5, 10 and 30, test accuracy against the step"
    paper = "Fig. 1: d = 5 and d = 10 reach ~100% ..."
    plot = ["test_acc"]               # the metrics drawn, every run overlaid

    [[runs]]
    label = "d = 30"
    preset = "parity30"
    config = { steps = 20000 }        # at the default scale (a 2-core CPU, minutes)
    scales.paper = { config = { steps = 50000 } }

    [[claims]]
    says = "d = 30 stays at chance"
    runs = ["d = 30"]
    metric = "test_acc"
    stat = "max"                      # first, last, max, min, mean or median of the run's values
    at_most = 0.6                     # and/or at_least; or lowest = / highest = a run's label
    # tail = 0.2                      # only the last 20% of each run's steps (with stat = "median": its typical end)

A run may say `seeds = 3` (or `scales.cpu = { seeds = 4 }` at one scale): it trains seeds seed ..
seed + 2, one after another, labelled "d = 30 (seed 0)", ...; a claim that names "d = 30" judges the
median of the seeds' values, so one seed's luck does not decide the verdict (or, saying so, their
max or min: `over_seeds` in engine/claims.py).

How long each scale takes is measured, not written here: presets/measured/walltimes.toml
(engine/walltimes.py, written by benchmarks/walltimes.py) is the one place wall times are kept.

A claim is a check on recorded numbers, so `gradfail report` can judge a run long after it ended;
engine/claims.py reads and judges them. A run's preset is read through engine/presets.py, which
knows nothing of groups; engine/catalog.py, above this module, tells a group file from a single
preset's and lists both. Torch-free.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from engine.claims import Claim, Verdict, base_label, judge, parse_claims
from engine.config import BaseConfig, ConfigError, build_config, config_to_dict
from engine.figures import Figure, parse_figure
from engine.presets import (
    DEFAULT_SCALE,
    Preset,
    PresetError,
    PresetKind,
    check_keys,
    find_preset,
    preset_kind,
    read_single,
    read_toml,
)
from engine.registry import UnknownFamily, get_family
from engine.state import RunState

if TYPE_CHECKING:
    from engine.record import RecordedGroup

GROUP_KEYS = {
    "title": str,
    "description": str,
    "paper": str,
    "plot": list,
    "log_y": bool,
    "seed": int,
    "runs": list,
    "claims": list,
    "figure": dict,  # engine/figures.py reads it
}
RUN_KEYS = {
    "label": str,
    "preset": str,
    "family": str,
    "config": dict,
    "seed": int,
    "seeds": int,
    "scales": dict,
    "snapshots": bool,
}
# Each seed is a run of its own: a bound against a typo that would start a thousand (fig-tuples' cpu scale trains 20).
MAX_RUN_SEEDS = 64
SCALE_KEYS = {"preset": str, "config": dict, "seeds": int}


class GroupError(PresetError):
    pass


@dataclass(frozen=True)
class MemberRun:
    """One run of a group at one scale, resolved: what `gradfail run` would start for it."""

    label: str
    family: str
    preset: str | None
    config: BaseConfig
    seed: int
    of: str = ""  # the run's label as declared, when `seeds = N` made it one of N runs (else "")


def seed_label(label: str, seed: int) -> str:
    """The label of one of a run's seeds (`seeds = N` in its [[runs]] table); claims.seed_members reads it back."""
    return f"{label} (seed {seed})"


@dataclass(frozen=True)
class GroupPreset:
    name: str
    path: Path
    title: str
    description: str
    paper: str
    plot: tuple[str, ...]
    log_y: bool
    runs: tuple[dict[str, Any], ...]  # as written; `members(scale)` resolves them
    claims: tuple[Claim, ...]
    seed: int = 0
    figure: Figure | None = None  # its [figure] (engine/figures.py), else one made from `plot`
    kind: ClassVar[PresetKind] = PresetKind.GROUP

    @property
    def scales(self) -> list[str]:
        named = sorted({scale for run in self.runs for scale in run.get("scales", {})})
        return [DEFAULT_SCALE] + [s for s in named if s != DEFAULT_SCALE]

    def shows_snapshots(self, label: str | None) -> bool:
        """Whether run `label`'s snapshots are shown beside the figure: as its TOML says, else only
        in a group that overlays no metric."""
        declared = next((run.get("snapshots") for run in self.runs if run["label"] == label), None)
        return declared if declared is not None else not self.plot

    def record_label(self, scale: str) -> str:
        """How the group's directories are named: fig-parity, fig-parity-paper."""
        return self.name + ("" if scale == DEFAULT_SCALE else f"-{scale}")

    @property
    def labels(self) -> list[str]:
        return [run["label"] for run in self.runs]

    def members(
        self,
        scale: str = DEFAULT_SCALE,
        overrides: dict[str, Any] | None = None,
        source: str = "--set",
        load: Callable[[str], Preset] | None = None,
        seed: int | None = None,
    ) -> list[MemberRun]:
        """The runs at `scale`, with `overrides` (--set, --steps) applied to every run that has the field.
        `load` reads the single preset a run names (default `load_single`). `seed` (--seed) replaces
        every run's seed; a run of `seeds = N` then trains seed .. seed + N - 1.

        Raises GroupError for an unknown scale, ConfigError for overrides no run accepts or a run rejects.
        """
        if scale not in self.scales:
            raise GroupError(f"--scale {scale}: {self.name} has the scales {', '.join(self.scales)}")
        overrides = overrides or {}
        members = []
        for run in self.runs:
            member = resolve_member(self, run, scale, load or load_single)
            if seed is not None:
                member = dataclasses.replace(member, seed=seed)
            count = run_seeds(run, scale)
            members += (
                [member]
                if count == 1
                else [
                    MemberRun(seed_label(member.label, s), member.family, member.preset, member.config, s, member.label)
                    for s in range(member.seed, member.seed + count)
                ]
            )
        unused = [
            key
            for key in overrides
            if not any(key in get_family(m.family).config_cls.__dataclass_fields__ for m in members)
        ]
        if unused:
            raise ConfigError([f"{key}: no run of {self.name} has this setting" for key in unused], source)
        resolved = []
        for member in members:
            fields = get_family(member.family).config_cls.__dataclass_fields__
            mine = {k: v for k, v in overrides.items() if k in fields}
            config = build_config(type(member.config), {**config_to_dict(member.config), **mine}, source=source)
            resolved.append(MemberRun(member.label, member.family, member.preset, config, member.seed, member.of))
        return resolved


def setup_of(says: list[str], runs: list[tuple[str, Any]]) -> str:
    """A group's setup as a fingerprint, 12 hex digits of a SHA-256: its claims' words in order and, per
    run as declared, its settings and how many seeds train it; `runs` is (label, config as a dict) per run,
    "conv (seed 2)" counted as one seed of "conv". The seeds themselves are left out, so every seed block
    of an audit has one setup; a --set or --steps, an edited claim, another scale's settings change it.
    What an audit measured is kept this way (engine/audit_figures.py) and said only of the same setup."""
    declared: dict[str, dict[str, Any]] = {}
    for label, config in runs:
        entry = declared.setdefault(base_label(label), {"configs": [], "seeds": 0})
        entry["seeds"] += 1
        if config not in entry["configs"]:  # one, unless a record's seeds were trained apart
            entry["configs"].append(config)
    text = json.dumps({"says": list(says), "runs": declared}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def members_runs(members: list[MemberRun]) -> list[tuple[str, Any]]:
    """Each resolved run as setup_of takes it: (label, its config as a record keeps it in run.json)."""
    return [(m.label, json.loads(json.dumps(config_to_dict(m.config)))) for m in members]


def members_setup(group: GroupPreset, members: list[MemberRun]) -> str:
    """setup_of a group's claims and its resolved runs."""
    return setup_of([claim.says for claim in group.claims], members_runs(members))


def run_seeds(run: dict[str, Any], scale: str) -> int:
    """How many seeds a group's run trains at `scale`: its scale's `seeds`, else its own, else one."""
    at_scale = run.get("scales", {}).get(scale, {}) if scale != DEFAULT_SCALE else {}
    return at_scale.get("seeds", run.get("seeds", 1))


def load_single(name_or_path: str) -> Preset:
    """The single-run preset a group's run names, by name or path.

    A group there is refused by its file's content alone: its own runs are not resolved, so a group
    naming itself, or another naming it back, cannot recurse."""
    path = find_preset(name_or_path)
    data = read_toml(path)
    kind = preset_kind(data)
    if kind is not PresetKind.SINGLE:
        raise GroupError(f"preset {name_or_path} is itself a {kind}; name a single-run preset")
    return read_single(path, data)


def resolve_member(
    group: GroupPreset, run: dict[str, Any], scale: str, load: Callable[[str], Preset] = load_single
) -> MemberRun:
    at_scale = run.get("scales", {}).get(scale, {}) if scale != DEFAULT_SCALE else {}
    preset_name = at_scale.get("preset", run.get("preset"))
    where = f"{group.path}: run {run['label']!r}" + (f" at scale {scale}" if scale != DEFAULT_SCALE else "")
    values = {**run.get("config", {}), **at_scale.get("config", {})}
    seed = run.get("seed", group.seed)
    if preset_name is not None:
        try:
            preset = load(preset_name)
        except GroupError as exc:  # only `load` refusing a group: a single preset's errors are PresetErrors
            raise GroupError(f"{where}: {exc}") from None
        except PresetError as exc:
            raise GroupError(f"{where}: preset: {exc}") from None
        family, values = preset.family, {**preset.values, **values}
        seed = run.get("seed", preset.seed if preset.seed is not None else group.seed)
    else:
        family = run["family"]
    try:
        config = build_config(get_family(family).config_cls, values, source=where)
    except UnknownFamily as exc:
        raise GroupError(f"{where}: family: {exc}") from None
    return MemberRun(run["label"], family, preset_name, config, seed)


# ---- reading ---------------------------------------------------------------------------------


def parse_group(path: Path, data: dict[str, Any]) -> GroupPreset:
    """A group preset from its parsed TOML; GroupError names the file, the run or claim, and the key."""
    problems = check_keys(data, GROUP_KEYS, "")
    runs = data.get("runs", [])
    if not runs or not all(isinstance(r, dict) for r in runs):
        problems.append("runs: expected one or more [[runs]] tables")
        runs = []
    labels: list[str] = []
    for number, run in enumerate(runs, 1):
        where = f"run {number}: "
        problems += check_keys(run, RUN_KEYS, where)
        label = run.get("label")
        if not isinstance(label, str) or not label:
            problems.append(f"{where}label: missing (each run needs a unique label)")
        elif label in labels:
            problems.append(f"{where}label: {label!r} is used twice")
        labels.append(label if isinstance(label, str) else f"run {number}")
        problems += seeds_problems(run, where)
        if ("preset" in run) == ("family" in run):
            problems.append(f'{where}give exactly one of preset = "NAME" or family = "NAME"')
        for scale, table in run.get("scales", {}).items():
            if not isinstance(table, dict):
                problems.append(f"{where}scales.{scale}: expected a table with preset, config and/or seeds")
            else:
                problems += check_keys(table, SCALE_KEYS, f"{where}scales.{scale}.")
                problems += seeds_problems(table, f"{where}scales.{scale}.")
    for key in ("plot",):
        if not all(isinstance(m, str) for m in data.get(key, [])):
            problems.append(f"{key}: expected a list of metric names")
    if problems:
        raise GroupError(f"{path}: " + "; ".join(problems))

    group = GroupPreset(
        name=path.stem,
        path=path,
        title=data.get("title", path.stem),
        description=data.get("description", ""),
        paper=data.get("paper", ""),
        plot=tuple(data.get("plot", ())),
        log_y=data.get("log_y", False),
        runs=tuple(runs),
        claims=(),
        seed=data.get("seed", 0),
    )
    load = functools.cache(load_single)  # each scale names mostly the same presets
    try:
        families = {}
        for scale in group.scales:
            for member in group.members(scale, load=load):
                families[member.of or member.label] = get_family(member.family)  # claims name the declared label
    except ConfigError as exc:
        raise GroupError(str(exc)) from None
    claims, problems = parse_claims(data.get("claims", []), families)
    problems += [
        f"claims: needs_scale {claim.needs_scale!r}: {group.name} has no such scale (the scales: {', '.join(group.scales)})"
        for claim in claims
        if claim.needs_scale is not None and claim.needs_scale not in group.scales
    ]
    for metric in group.plot:  # drawn for the runs that have it, so one run having it is enough
        if all(spec.metric(metric) is None for spec in families.values()):
            problems.append(f"plot: {metric!r} is not a metric of any run's family")
    figure, figure_problems = parse_figure(data.get("figure"), families, group.plot, group.log_y)
    problems += figure_problems
    if problems:
        raise GroupError(f"{path}: " + "; ".join(problems))
    return GroupPreset(**{**group.__dict__, "claims": tuple(claims), "figure": figure})


def seeds_problems(table: dict[str, Any], where: str) -> list[str]:
    seeds = table.get("seeds", 1)
    if isinstance(seeds, int) and not 1 <= seeds <= MAX_RUN_SEEDS:
        return [f"{where}seeds: got {seeds}, expected 1 to {MAX_RUN_SEEDS} (each seed is a run of its own)"]
    return []


# ---- judging a record ------------------------------------------------------------------------


def judge_record(group: RecordedGroup) -> Verdict:
    """Judge a recorded group again, from its manifest's claims and its runs' events alone.

    The stored claims are checked by the rules a preset's are (a group.json edited by hand may hold
    anything); GroupError lists what is wrong with them."""
    states = recorded_states(group)
    listed = {
        str(r.get("label")): str(r.get("family") or "") for r in group.manifest.get("runs", []) if isinstance(r, dict)
    }  # runs that never recorded are listed here, not in `states`
    families = {}
    for label in {**listed, **states}:
        try:
            families[base_label(label)] = get_family(states[label].family if label in states else listed[label])
        except UnknownFamily:
            pass  # its claims say "no run is labelled ...": nothing about it can be judged
    stored = group.manifest.get("claims", [])
    claims, problems = parse_claims(stored, families) if isinstance(stored, list) else ([], ["claims: expected a list"])
    if problems:
        raise GroupError(f"{group.path / 'group.json'}: " + "; ".join(problems))
    scale = group.manifest.get("scale")  # a claim that needs a larger scale says so (claims.judge)
    return judge(claims, states, scale if isinstance(scale, str) else None)


def recorded_states(group: RecordedGroup) -> dict[str, RunState]:
    return {label: RunState.from_record(run.events, run.manifest, label=label) for label, run in group.runs}
