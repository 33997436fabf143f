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
    stat = "max"                      # first, last, max, min or mean of the run's values
    at_most = 0.6                     # and/or at_least; or lowest = / highest = a run's label

A claim is a check on recorded numbers, so `gradfail report` can judge a run long after it ended.
`over = "metric"` makes the value a ratio of two of the run's metrics. When a metric was below
what its estimator can resolve the family records `<metric>_upper` instead, and a claim uses it
as an upper bound: a bound can prove "at most" but never "at least" (see `Value`). Torch-free.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import BaseConfig, ConfigError, build_config, unknown_key_message
from engine.presets import PresetError, load_preset
from engine.registry import FamilySpec, UnknownFamily, get_family
from engine.state import RunState

if TYPE_CHECKING:
    from engine.record import RecordedGroup

DEFAULT_SCALE = "default"
STATS = ("first", "last", "max", "min", "mean")
REPRODUCED, NOT_REPRODUCED, INCOMPLETE = "reproduced", "not reproduced", "incomplete"
GROUP_KEYS = {"title": str, "description": str, "paper": str, "plot": list, "log_y": bool, "seed": int,
              "runs": list, "claims": list}
RUN_KEYS = {"label": str, "preset": str, "family": str, "config": dict, "seed": int, "scales": dict,
            "snapshots": bool}
SCALE_KEYS = {"preset": str, "config": dict}
CLAIM_KEYS = {"says": str, "runs": list, "metric": str, "over": str, "stat": str, "at_least": (int, float),
              "at_most": (int, float), "lowest": str, "highest": str, "from_step": int, "until_step": int}


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


@dataclass(frozen=True)
class Claim:
    says: str
    metric: str
    runs: tuple[str, ...]
    stat: str = "last"
    over: str | None = None
    at_least: float | None = None
    at_most: float | None = None
    lowest: str | None = None
    highest: str | None = None
    from_step: int | None = None
    until_step: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The claim as written in TOML (stored in the group's record, so a report needs no preset)."""
        data = {"says": self.says, "metric": self.metric, "runs": list(self.runs), "stat": self.stat}
        for key in ("over", "at_least", "at_most", "lowest", "highest", "from_step", "until_step"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


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

    def members(self, scale: str = DEFAULT_SCALE, overrides: dict[str, Any] | None = None,
                source: str = "--set", load=load_preset) -> list[MemberRun]:
        """The runs at `scale`, with `overrides` (--set, --steps) applied to every run that has the field.

        Raises GroupError for an unknown scale, ConfigError for overrides no run accepts or a run rejects.
        """
        if scale not in self.scales:
            raise GroupError(f"--scale {scale}: {self.name} has the scales {', '.join(self.scales)}")
        overrides = overrides or {}
        members = [resolve_member(self, run, scale, load) for run in self.runs]
        unused = [key for key in overrides
                  if not any(key in get_family(m.family).config_cls.__dataclass_fields__ for m in members)]
        if unused:
            raise ConfigError([f"{key}: no run of {self.name} has this setting" for key in unused], source)
        resolved = []
        for member in members:
            fields = get_family(member.family).config_cls.__dataclass_fields__
            mine = {k: v for k, v in overrides.items() if k in fields}
            config = build_config(type(member.config), {**_values(member.config), **mine}, source=source)
            resolved.append(MemberRun(member.label, member.family, member.preset, config, member.seed))
        return resolved


def _values(config: BaseConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def resolve_member(group: GroupPreset, run: dict[str, Any], scale: str, load=load_preset) -> MemberRun:
    at_scale = run.get("scales", {}).get(scale, {}) if scale != DEFAULT_SCALE else {}
    preset_name = at_scale.get("preset", run.get("preset"))
    where = f"{group.path}: run {run['label']!r}" + (f" at scale {scale}" if scale != DEFAULT_SCALE else "")
    values = {**run.get("config", {}), **at_scale.get("config", {})}
    seed = run.get("seed", group.seed)
    if preset_name is not None:
        try:
            preset = load(preset_name)
        except PresetError as exc:
            raise GroupError(f"{where}: preset: {exc}") from None
        if isinstance(preset, GroupPreset):
            raise GroupError(f"{where}: preset {preset_name} is itself a group; name a single-run preset")
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

def is_group_data(data: dict[str, Any]) -> bool:
    """A group names runs; a file with a group's keys but no runs is a group missing them."""
    return "runs" in data or ("family" not in data and bool({"title", "claims", "plot"} & data.keys()))


def read_group(path: Path, data: dict[str, Any]) -> GroupPreset:
    """A group preset from its parsed TOML; GroupError names the file, the run or claim, and the key."""
    problems = _check_keys(data, GROUP_KEYS, "")
    runs = data.get("runs", [])
    if not runs or not all(isinstance(r, dict) for r in runs):
        problems.append("runs: expected one or more [[runs]] tables")
        runs = []
    labels: list[str] = []
    for number, run in enumerate(runs, 1):
        where = f"run {number}: "
        problems += _check_keys(run, RUN_KEYS, where)
        label = run.get("label")
        if not isinstance(label, str) or not label:
            problems.append(f"{where}label: missing (each run needs a unique label)")
        elif label in labels:
            problems.append(f"{where}label: {label!r} is used twice")
        labels.append(label if isinstance(label, str) else f"run {number}")
        if ("preset" in run) == ("family" in run):
            problems.append(f"{where}give exactly one of preset = \"NAME\" or family = \"NAME\"")
        for scale, table in run.get("scales", {}).items():
            if not isinstance(table, dict):
                problems.append(f"{where}scales.{scale}: expected a table with preset and/or config")
            else:
                problems += _check_keys(table, SCALE_KEYS, f"{where}scales.{scale}.")
    for key in ("plot",):
        if not all(isinstance(m, str) for m in data.get(key, [])):
            problems.append(f"{key}: expected a list of metric names")
    if problems:
        raise GroupError(f"{path}: " + "; ".join(problems))

    group = GroupPreset(name=path.stem, path=path, title=data.get("title", path.stem),
                        description=data.get("description", ""), paper=data.get("paper", ""),
                        plot=tuple(data.get("plot", ())), log_y=data.get("log_y", False), runs=tuple(runs),
                        claims=(), seed=data.get("seed", 0))
    load = functools.cache(load_preset)  # each scale names mostly the same presets
    try:
        families = {}
        for scale in group.scales:
            for member in group.members(scale, load=load):
                families[member.label] = get_family(member.family)
    except ConfigError as exc:
        raise GroupError(str(exc)) from None
    claims, problems = parse_claims(data.get("claims", []), families)
    for metric in group.plot:  # drawn for the runs that have it, so one run having it is enough
        if all(spec.metric(metric) is None for spec in families.values()):
            problems.append(f"plot: {metric!r} is not a metric of any run's family")
    if problems:
        raise GroupError(f"{path}: " + "; ".join(problems))
    return GroupPreset(**{**group.__dict__, "claims": tuple(claims)})


def parse_claims(raw: list[Any], families: dict[str, FamilySpec]) -> tuple[list[Claim], list[str]]:
    """Claims as declared, checked against the group's run labels and their families' metrics."""
    claims, problems = [], []
    for number, item in enumerate(raw, 1):
        where = f"claim {number}: "
        if not isinstance(item, dict):
            problems.append(f"{where}expected a [[claims]] table")
            continue
        found = _check_keys(item, CLAIM_KEYS, where)
        runs = tuple(item.get("runs", list(families)))
        if not runs:
            found.append(f"{where}runs: names no run")
        for label in runs:
            if label not in families:
                found.append(f"{where}runs: no run is labelled {label!r} (the runs: {', '.join(families)})")
        for key in ("says", "metric"):
            if key not in item:
                found.append(f"{where}{key}: missing")
        if item.get("stat", "last") not in STATS:
            found.append(f"{where}stat: got {item.get('stat')!r}, expected one of {', '.join(STATS)}")
        kinds = [k for k in ("at_least", "at_most", "lowest", "highest") if k in item]
        if not kinds or ({"lowest", "highest"} & set(kinds) and len(kinds) > 1):
            found.append(f"{where}say what is expected: at_least and/or at_most = a number, "
                         "or lowest / highest = a run's label")
        for key in ("lowest", "highest"):
            if key in item and item[key] not in runs:
                found.append(f"{where}{key}: {item[key]!r} is not one of this claim's runs")
        known = [families[label] for label in runs if label in families]
        for key in ("metric", "over"):
            if isinstance(item.get(key), str):
                found += [f"{where}{key}: {p}" for p in _metric_problems(item[key], known)]
        if found:
            problems += found
            continue
        claims.append(Claim(runs=runs, **{k: v for k, v in item.items() if k != "runs"}))
    return claims, problems


def _check_keys(table: dict[str, Any], allowed: dict[str, Any], where: str) -> list[str]:
    problems = []
    for key, value in table.items():
        expected = allowed.get(key)
        if expected is None:
            problems.append(where + unknown_key_message(key, list(allowed)))
        elif not isinstance(value, expected) or (isinstance(value, bool) and expected in (int, (int, float))):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            problems.append(f"{where}{key}: expected {names}, got {type(value).__name__}")
    return problems


def _metric_problems(metric: str, specs) -> list[str]:
    return [f"{metric!r} is not a metric of the {spec.name} family (it has {', '.join(m.name for m in spec.metrics)})"
            for spec in set(specs) if spec.metric(metric) is None]


# ---- judging ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """A number a claim reads from a run: exact, or only a bound ("upper": the truth is <= x)."""

    x: float
    bound: str = "exact"  # exact, upper, lower, or unknown (a ratio of two bounds)

    def __str__(self) -> str:
        text = f"{self.x:.3g}"
        return {"upper": f"<= {text}", "lower": f">= {text}", "unknown": f"~{text}"}.get(self.bound, text)

    def __truediv__(self, other: "Value") -> "Value":
        x = self.x / other.x if other.x else math.inf
        flip = {"upper": "lower", "lower": "upper", "exact": "exact"}
        kinds = {self.bound, flip[other.bound]} - {"exact"}
        return Value(x, kinds.pop() if len(kinds) == 1 else ("exact" if not kinds else "unknown"))


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: str  # reproduced, not reproduced or incomplete
    detail: str  # the numbers it was judged on


@dataclass
class Verdict:
    outcome: str
    results: list[ClaimResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome,
                "claims": [{"says": r.claim.says, "outcome": r.outcome, "detail": r.detail} for r in self.results]}


def judge(claims: list[Claim] | tuple[Claim, ...], runs: dict[str, RunState]) -> Verdict:
    """Judge every claim on the runs' recorded numbers; the group is reproduced when all claims are."""
    results = [judge_claim(claim, runs) for claim in claims]
    outcomes = {r.outcome for r in results}
    if not results:
        overall = INCOMPLETE
    elif NOT_REPRODUCED in outcomes:
        overall = NOT_REPRODUCED
    elif INCOMPLETE in outcomes:
        overall = INCOMPLETE
    else:
        overall = REPRODUCED
    return Verdict(overall, results)


def judge_claim(claim: Claim, runs: dict[str, RunState]) -> ClaimResult:
    missing = [label for label in claim.runs if label not in runs]
    unfinished = [f"{label} {runs[label].status} at step {runs[label].step:,}"
                  for label in claim.runs if label in runs and runs[label].status != "completed"]
    if missing or unfinished:
        why = [f"{label} did not run" for label in missing] + unfinished
        return ClaimResult(claim, INCOMPLETE, "; ".join(why))
    values: dict[str, Value] = {}
    for label in claim.runs:
        value = read_value(runs[label], claim)
        if value is None:
            return ClaimResult(claim, INCOMPLETE, f"{label}: no {describe_value(claim)} recorded")
        values[label] = value
    numbers = ", ".join(f"{label}: {value}" for label, value in values.items())
    if claim.lowest or claim.highest:
        target = claim.lowest or claim.highest
        others = [v for label, v in values.items() if label != target]
        if any(v.bound != "exact" for v in values.values()):
            return ClaimResult(claim, INCOMPLETE, f"{describe_value(claim)} only bounded: {numbers}")
        wins = all(values[target].x < v.x for v in others) if claim.lowest else \
            all(values[target].x > v.x for v in others)
        return ClaimResult(claim, REPRODUCED if wins else NOT_REPRODUCED, f"{describe_value(claim)}: {numbers}")
    outcome = REPRODUCED
    for value in values.values():
        for result in (_at_least(value, claim.at_least), _at_most(value, claim.at_most)):
            if result == NOT_REPRODUCED or (result == INCOMPLETE and outcome == REPRODUCED):
                outcome = result
    expected = " and ".join(part for part in (
        f">= {claim.at_least:g}" if claim.at_least is not None else "",
        f"<= {claim.at_most:g}" if claim.at_most is not None else "") if part)
    return ClaimResult(claim, outcome, f"{describe_value(claim)} {expected}: {numbers}")


def _at_least(value: Value, bound: float | None) -> str:
    if bound is None:
        return REPRODUCED
    if value.bound in ("exact", "lower"):
        return REPRODUCED if value.x >= bound else (NOT_REPRODUCED if value.bound == "exact" else INCOMPLETE)
    return NOT_REPRODUCED if value.bound == "upper" and value.x < bound else INCOMPLETE


def _at_most(value: Value, bound: float | None) -> str:
    if bound is None:
        return REPRODUCED
    if value.bound in ("exact", "upper"):
        return REPRODUCED if value.x <= bound else (NOT_REPRODUCED if value.bound == "exact" else INCOMPLETE)
    return NOT_REPRODUCED if value.bound == "lower" and value.x > bound else INCOMPLETE


def describe_value(claim: Claim) -> str:
    what = claim.metric + (f" / {claim.over}" if claim.over else "")
    window = ""
    if claim.from_step is not None or claim.until_step is not None:
        window = f" (steps {claim.from_step or 0:,}..{'' if claim.until_step is None else f'{claim.until_step:,}'})"
    return f"{claim.stat} {what}{window}"


def read_value(state: RunState, claim: Claim) -> Value | None:
    value = _stat(state, claim.metric, claim)
    if value is None or claim.over is None:
        return value
    over = _stat(state, claim.over, claim)
    return None if over is None else value / over


def _stat(state: RunState, metric: str, claim: Claim) -> Value | None:
    """The claim's statistic of a metric over its window.

    Where the family could not resolve the metric it recorded `<metric>_upper` (the truth is at most
    that) instead; those points join the series as upper bounds, and any statistic that used one is
    itself only an upper bound (max, min and mean are monotone in each point).
    """
    points = [(s, y, "exact") for s, y in _window(state.series.get(metric, []), claim)]
    points += [(s, y, "upper") for s, y in _window(state.series.get(metric + "_upper", []), claim)]
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    if claim.stat in ("first", "last"):
        _, x, bound = points[0] if claim.stat == "first" else points[-1]
        return Value(x, bound)
    ys = [y for _, y, _ in points]
    x = {"max": max(ys), "min": min(ys), "mean": statistics.fmean(ys)}[claim.stat]
    return Value(x, "upper" if any(b == "upper" for _, _, b in points) else "exact")


def _window(points: list[tuple[int, float]], claim: Claim) -> list[tuple[int, float]]:
    low = claim.from_step if claim.from_step is not None else -math.inf
    high = claim.until_step if claim.until_step is not None else math.inf
    return [(s, y) for s, y in points if low <= s <= high]


def judge_record(group: "RecordedGroup") -> Verdict:
    """Judge a recorded group again, from its manifest's claims and its runs' events alone.

    The stored claims are checked by the rules a preset's are (a group.json edited by hand may hold
    anything); GroupError lists what is wrong with them."""
    states = recorded_states(group)
    listed = {str(r.get("label")): str(r.get("family") or "") for r in group.manifest.get("runs", [])
              if isinstance(r, dict)}  # runs that never recorded are listed here, not in `states`
    families = {}
    for label in {**listed, **states}:
        try:
            families[label] = get_family(states[label].family if label in states else listed[label])
        except UnknownFamily:
            pass  # its claims say "no run is labelled ...": nothing about it can be judged
    stored = group.manifest.get("claims", [])
    claims, problems = parse_claims(stored, families) if isinstance(stored, list) else ([], ["claims: expected a list"])
    if problems:
        raise GroupError(f"{group.path / 'group.json'}: " + "; ".join(problems))
    return judge(claims, states)


def recorded_states(group: "RecordedGroup") -> dict[str, RunState]:
    return {label: RunState.from_record(run.events, run.manifest, label=label) for label, run in group.runs}
