"""Sweeps: many runs over a grid of settings and seeds, and the phase diagram they map. Torch-free.

A sweep is a base (a family on its defaults, or a single-run preset, with overrides), a grid (one
axis per config key: a range `start:stop:step`, stop included when the steps land on it, or a list
`a,b,c`), a number of seeds, and what to map: a metric, a statistic of it over a step window (last,
max, mean, ... as a group's claims read them, engine/claims.py) and the two axes of the heatmap.
Every cell of the grid is one config, checked like `--set` (key, type, bounds, the family's
cross-field checks) before anything runs, so a bad grid is refused naming the key.

A sweep preset is a TOML file in the presets directories, told apart by its `[grid]` table:

    title = "Where parity stops being learnable"
    description = "one line: what the phase diagram shows"
    family = "parity"            # or preset = "parity30"
    seeds = 4
    [config]                     # overrides of the base, every cell
    steps = 2000
    [grid]
    d = "4:20:2"                 # a range, stop included
    width_mult = [2, 10]         # or a list
    [map]
    metric = "test_acc"
    stat = "max"                 # first, last, max, min, mean, median
    x = "d"
    y = "width_mult"
    [scales.large]               # a larger scale: replaces seeds, grid keys and config keys
    seeds = 16
    grid = { d = "4:40:2" }

sweep.json (engine/orchestration/sweep.py writes it) holds the resolved sweep (`SweepSpec.as_dict`)
so that `--resume`, the report and the explorer need neither the preset nor the command line.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.claims import STATS, Claim, read_value
from engine.config import BaseConfig, ConfigError, Knob, build_config, config_to_dict, knobs, unknown_key_message
from engine.presets import PresetError, check_keys, find_preset, read_single, read_toml
from engine.registry import FamilySpec, UnknownFamily, get_family
from engine.state import RunState

MAX_RUNS = (
    2000  # a grid with more runs than this is refused unless --force: a typo in a range should not start days of work
)
MAX_AXIS_POINTS = 10_000  # a range is expanded only up to this many points (its size is checked before)
DEFAULT_SCALE = "default"

SWEEP_KEYS = {
    "title": str,
    "description": str,
    "paper": str,
    "family": str,
    "preset": str,
    "seeds": int,
    "seed": int,
    "config": dict,
    "grid": dict,
    "map": dict,
    "scales": dict,
}
MAP_KEYS = {"metric": str, "stat": str, "from_step": int, "until_step": int, "x": str, "y": str}
SCALE_KEYS = {"seeds": int, "grid": dict, "config": dict}


class SweepError(ValueError):
    """A sweep that cannot run as given; `problems` holds one line each, naming the key."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class SweepPresetError(PresetError):
    pass


# ---- the grid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]


def parse_grid_option(text: str) -> tuple[str, str]:
    """`--grid d=4:32:2` -> ("d", "4:32:2")."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise SweepError(f"--grid {text!r}: expected key=start:stop:step or key=a,b,c (e.g. d=4:32:2)")
    return key.strip(), value.strip()


def expand_axis(knob: Knob, spec: Any, where: str = "--grid") -> Axis:
    """An axis's values from a range text, a list text, or a TOML list; each parsed and checked as the knob's type and bounds."""
    name = f"{where} {knob.name}"
    if isinstance(spec, list):
        raw = list(spec)
    elif isinstance(spec, str) and ":" in spec:
        raw = _range_values(knob, spec, name)
    elif isinstance(spec, str):
        raw = [part.strip() for part in spec.split(",") if part.strip()]
    else:
        raw = [spec]
    if not raw:
        raise SweepError(f"{name}={spec}: no values; expected start:stop:step or a,b,c")
    values = []
    for item in raw:
        try:
            value = knob.parse(item)
        except ValueError as exc:
            raise SweepError(f"{name}: {exc}") from None
        if value not in values:
            values.append(value)
    return Axis(knob.name, tuple(values))


def _range_values(knob: Knob, text: str, name: str) -> list[Any]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or knob.type not in (int, float):
        allowed = "a range start:stop or start:stop:step" if knob.type in (int, float) else "a list a,b,c"
        raise SweepError(f"{name}={text}: {knob.name} is {knob.allowed()}; expected {allowed}")
    numbers = []
    for label, part in zip(("start", "stop", "step"), parts + ["1"] * (3 - len(parts))):
        try:
            number = float(part.replace("_", ""))
        except ValueError:
            raise SweepError(f"{name}={text}: {label} {part!r} is not a number") from None
        if not math.isfinite(number):
            raise SweepError(f"{name}={text}: {label} {part!r} is not a finite number")
        numbers.append(number)
    start, stop, step = numbers
    if knob.type is int and not all(x.is_integer() for x in numbers):
        raise SweepError(f"{name}={text}: {knob.name} is an integer; start, stop and step must be integers")
    if step <= 0:
        raise SweepError(f"{name}={text}: the step must be > 0 (got {step:g})")
    if stop < start:
        raise SweepError(f"{name}={text}: empty range (stop {stop:g} is below start {start:g})")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_AXIS_POINTS:
        raise SweepError(f"{name}={text}: {count:,} points on one axis; at most {MAX_AXIS_POINTS:,}")
    if knob.type is int:
        return [int(start) + i * int(step) for i in range(count)]
    return [float(f"{start + i * step:.12g}") for i in range(count)]  # 0.1 + 2 * 0.1 is 0.30000000000000004


# ---- what a cell's value is -------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    metric: str
    stat: str = "last"
    x: str = ""
    y: str | None = None
    from_step: int | None = None
    until_step: int | None = None

    def claim(self) -> Claim:
        return Claim(
            says="", metric=self.metric, runs=(), stat=self.stat, from_step=self.from_step, until_step=self.until_step
        )

    def value(self, state: RunState) -> float | None:
        """The mapped value of one run (None when it has no such numbers)."""
        value = read_value(state, self.claim())
        return None if value is None or not math.isfinite(value.x) else value.x

    def describe(self) -> str:
        window = ""
        if self.from_step is not None or self.until_step is not None:
            end = "" if self.until_step is None else f"{self.until_step:,}"
            window = f" over steps {self.from_step or 0:,}..{end}"
        return f"{self.stat} {self.metric}{window}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def mapping_problems(mapping: Mapping, spec: FamilySpec, axes: list[str]) -> list[str]:
    problems = []
    if spec.metric(mapping.metric) is None:
        known = ", ".join(m.name for m in spec.metrics)
        problems.append(f"map metric: {mapping.metric!r} is not a metric of {spec.name}; known: {known}")
    if mapping.stat not in STATS:
        problems.append(f"map stat: got {mapping.stat!r}, expected one of {', '.join(STATS)}")
    for which in ("x", "y"):
        key = getattr(mapping, which)
        if key and key not in axes:
            problems.append(f"map {which}: {key!r} is not a grid key; the grid has {', '.join(axes) or 'no keys'}")
    if mapping.x and mapping.x == mapping.y:
        problems.append(f"map x and y: both are {mapping.x!r}; choose two different grid keys")
    return problems


# ---- the resolved sweep -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    index: int
    settings: dict[str, Any]  # grid key -> value
    config: BaseConfig

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())


@dataclass(frozen=True)
class SweepSpec:
    family: str
    preset: str | None  # the single-run preset the base is, if any
    base: dict[str, Any]  # the base's config values (the preset's, then overrides), as written
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    mapping: Mapping
    device: str = "cpu"
    title: str = ""
    name: str | None = None  # the sweep preset's name
    scale: str | None = None
    lanes: bool = True  # seeds of a cell trained as lanes of one model, where the family can
    cells: tuple[Cell, ...] = field(default=(), compare=False)

    @property
    def spec(self) -> FamilySpec:
        return get_family(self.family)

    @property
    def batched(self) -> bool:
        return self.lanes and self.spec.batched_seeds and len(self.seeds) > 1

    @property
    def run_count(self) -> int:
        return len(self.cells) * len(self.seeds)

    @property
    def label(self) -> str:
        return (self.name or f"sweep-{self.preset or self.family}") + (
            f"-{self.scale}" if self.scale and self.scale != DEFAULT_SCALE else ""
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "preset": self.preset,
            "base": self.base,
            "grid": [{"key": a.key, "values": list(a.values)} for a in self.axes],
            "seeds": list(self.seeds),
            "map": self.mapping.as_dict(),
            "device": self.device,
            "title": self.title,
            "name": self.name,
            "scale": self.scale,
            "lanes": self.lanes,
        }


def resolve(
    family: str | None,
    preset: str | None,
    overrides: dict[str, Any],
    grid: dict[str, Any],
    seeds: int | list[int],
    mapping: dict[str, Any] | None,
    device: str = "cpu",
    first_seed: int = 0,
    force: bool = False,
    **extra: Any,
) -> SweepSpec:
    """A sweep resolved and checked: every cell's config built; SweepError names each problem.
    `grid`: key -> a range or list text (--grid), or a TOML list/value; `mapping`: MAP_KEYS."""
    if (family is None) == (preset is None):
        raise SweepError("give exactly one of --family NAME or --preset NAME as the sweep's base")
    try:
        if preset is not None:
            path = find_preset(preset)
            data = read_toml(path)
            if "grid" in data:
                raise SweepError(
                    f"preset {preset} is a sweep preset; give it as the sweep (gradfail sweep --preset {preset})"
                )
            if "runs" in data:
                raise SweepError(
                    f"preset {preset} is a group preset; a sweep's base is a family or a single-run preset"
                )
            single = read_single(path, data)
            family, base = single.family, {**single.values}
            if first_seed == 0 and single.seed:
                first_seed = single.seed
            preset = single.name
        else:
            base = {}
        spec = get_family(family)
    except (PresetError, UnknownFamily) as exc:
        raise SweepError(str(exc).strip("'\"")) from None
    by_name = {k.name: k for k in knobs(spec.config_cls)}
    problems = []
    for key in overrides:
        if key not in by_name:
            problems.append(f"--set {unknown_key_message(key, list(by_name))}")
    axes: list[Axis] = []
    if not grid:
        problems.append("--grid: give at least one, e.g. --grid d=4:32:2")
    for key, values in grid.items():
        if key not in by_name:
            problems.append(f"--grid {unknown_key_message(key, list(by_name))}")
            continue
        try:
            axes.append(expand_axis(by_name[key], values))
        except SweepError as exc:
            problems += exc.problems
    seed_list = list(seeds) if isinstance(seeds, list) else list(range(first_seed, first_seed + seeds))
    if not seed_list:
        problems.append("seeds: at least one")
    mapping = dict(mapping or {})
    mapping.setdefault("metric", spec.metrics[0].name)
    keys = [a.key for a in axes]
    mapping.setdefault("x", keys[0] if keys else "")
    if len(keys) > 1:
        mapping.setdefault("y", next(k for k in keys if k != mapping["x"]) if mapping["x"] in keys else keys[1])
    chosen = Mapping(**mapping)
    problems += mapping_problems(chosen, spec, keys)
    if problems:
        raise SweepError(problems)
    count = math.prod(len(a.values) for a in axes) * len(seed_list)
    if count > MAX_RUNS and not force:
        raise SweepError(
            f"--grid: {count:,} runs ({' x '.join(f'{len(a.values)} {a.key}' for a in axes)} x {len(seed_list)} seeds); "
            f"more than {MAX_RUNS:,}: give --force to run them all"
        )
    values = {**base, **overrides}
    cells, problems = [], []
    for index, combo in enumerate(itertools.product(*(a.values for a in axes))):
        settings = dict(zip(keys, combo))
        try:
            config = build_config(spec.config_cls, {**values, **settings})
        except ConfigError as exc:
            problems += [f"cell {', '.join(f'{k}={v}' for k, v in settings.items())}: {p}" for p in exc.problems]
            continue
        cells.append(Cell(index, settings, config))
    if problems:
        raise SweepError(problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else []))
    return SweepSpec(
        family=spec.name,
        preset=preset,
        base=values,
        axes=tuple(axes),
        seeds=tuple(seed_list),
        mapping=chosen,
        device=device,
        cells=tuple(cells),
        **extra,
    )


def spec_from_dict(data: dict[str, Any]) -> SweepSpec:
    """The sweep sweep.json describes (for --resume); SweepError if it no longer resolves."""
    grid = {axis["key"]: list(axis["values"]) for axis in data["grid"]}
    return resolve(
        data["family"] if not data.get("preset") else None,
        data.get("preset"),
        {k: v for k, v in data.get("base", {}).items()},
        grid,
        list(data["seeds"]),
        data.get("map"),
        device=data.get("device", "cpu"),
        force=True,
        title=data.get("title", ""),
        name=data.get("name"),
        scale=data.get("scale"),
        lanes=data.get("lanes", True),
    )


# ---- cells' values and the heatmap's data ----------------------------------------------------


@dataclass(frozen=True)
class CellSummary:
    """A cell of the phase diagram: its runs' mapped values and how they ended."""

    settings: dict[str, Any]
    values: tuple[float, ...]  # one per run that has a value
    statuses: tuple[str, ...]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def done(self) -> int:
        return sum(1 for s in self.statuses if s in ("completed", "diverged", "failed", "stopped", "interrupted"))

    @property
    def failed(self) -> int:
        return sum(1 for s in self.statuses if s in ("failed", "diverged"))


@dataclass(frozen=True)
class Facet:
    """One heatmap: the two mapped axes, at fixed values of the other grid keys (if any)."""

    title: str
    x_key: str
    x_values: tuple[Any, ...]
    y_key: str | None
    y_values: tuple[Any, ...]
    cells: dict[tuple[Any, Any], CellSummary]  # (x, y) -> summary; y is None for one axis


def summarise(manifest: dict[str, Any]) -> list[CellSummary]:
    """Every cell of a sweep.json, with its runs' values and statuses."""
    runs = manifest.get("runs", [])
    out = []
    for cell in manifest.get("cells", []):
        mine = [runs[i] for i in cell.get("runs", []) if 0 <= i < len(runs)]
        values = tuple(float(r["value"]) for r in mine if isinstance(r.get("value"), (int, float)))
        out.append(CellSummary(dict(cell.get("settings", {})), values, tuple(str(r.get("status", "")) for r in mine)))
    return out


def facets(manifest: dict[str, Any]) -> list[Facet]:
    """The phase diagram(s) of a sweep.json: one heatmap per combination of the grid keys not mapped."""
    grid = [(a["key"], tuple(a["values"])) for a in manifest.get("spec", {}).get("grid", [])]
    mapping = manifest.get("spec", {}).get("map", {})
    if not grid:
        return []
    x_key = mapping.get("x") or grid[0][0]
    y_key = mapping.get("y")
    axis = dict(grid)
    others = [key for key, _ in grid if key not in (x_key, y_key)]
    summaries = summarise(manifest)
    result = []
    for fixed in itertools.product(*(axis[k] for k in others)):
        pinned = dict(zip(others, fixed))
        cells = {}
        for summary in summaries:
            if all(summary.settings.get(k) == v for k, v in pinned.items()):
                cells[(summary.settings.get(x_key), summary.settings.get(y_key) if y_key else None)] = summary
        title = ", ".join(f"{k}={v}" for k, v in pinned.items())
        result.append(Facet(title, x_key, axis[x_key], y_key, axis[y_key] if y_key else (None,), cells))
    return result


# ---- sweep presets ----------------------------------------------------------------------------


def is_sweep_data(data: dict[str, Any]) -> bool:
    return "grid" in data


@dataclass(frozen=True)
class SweepPreset:
    name: str
    path: Path
    title: str
    description: str
    paper: str
    family: str | None
    preset: str | None
    seeds: int
    seed: int
    config: dict[str, Any]
    grid: dict[str, Any]
    mapping: dict[str, Any]
    scales_table: dict[str, dict[str, Any]]
    kind: str = "sweep"

    @property
    def scales(self) -> list[str]:
        return [DEFAULT_SCALE] + sorted(s for s in self.scales_table if s != DEFAULT_SCALE)

    def resolve(
        self,
        scale: str = DEFAULT_SCALE,
        overrides: dict[str, Any] | None = None,
        grid: dict[str, Any] | None = None,
        seeds: int | None = None,
        device: str = "cpu",
        force: bool = False,
        lanes: bool = True,
    ) -> SweepSpec:
        """The sweep at `scale`, with command-line overrides (--set/--steps, --grid replacing an axis, --seeds)."""
        if scale not in self.scales:
            raise SweepError(f"--scale {scale}: {self.name} has the scales {', '.join(self.scales)}")
        at = self.scales_table.get(scale, {}) if scale != DEFAULT_SCALE else {}
        return resolve(
            self.family,
            self.preset,
            {**self.config, **at.get("config", {}), **(overrides or {})},
            {**self.grid, **at.get("grid", {}), **(grid or {})},
            seeds if seeds is not None else at.get("seeds", self.seeds),
            self.mapping,
            device=device,
            first_seed=self.seed,
            force=force,
            title=self.title,
            name=self.name,
            scale=scale,
            lanes=lanes,
        )


def parse_sweep_preset(path: Path, data: dict[str, Any]) -> SweepPreset:
    """A sweep preset from its parsed TOML, resolved at every scale; SweepPresetError names the file and key."""
    problems = check_keys(data, SWEEP_KEYS, "")
    problems += check_keys(data.get("map", {}), MAP_KEYS, "map.") if isinstance(data.get("map"), dict) else []
    for scale, table in (data.get("scales") or {}).items():
        if isinstance(table, dict):
            problems += check_keys(table, SCALE_KEYS, f"scales.{scale}.")
        else:
            problems.append(f"scales.{scale}: expected a table")
    if ("family" in data) == ("preset" in data):
        problems.append("family / preset: give exactly one, the sweep's base")
    if not data.get("description"):
        problems.append("description: missing (one line: what the phase diagram shows)")
    if problems:
        raise SweepPresetError(f"{path}: " + "; ".join(problems))
    preset = SweepPreset(
        name=path.stem,
        path=path,
        title=data.get("title", path.stem),
        description=data["description"],
        paper=data.get("paper", ""),
        family=data.get("family"),
        preset=data.get("preset"),
        seeds=data.get("seeds", 1),
        seed=data.get("seed", 0),
        config=dict(data.get("config", {})),
        grid=dict(data["grid"]),
        mapping=dict(data.get("map", {})),
        scales_table=dict(data.get("scales", {})),
    )
    for scale in preset.scales:  # every scale must resolve, so a broken preset is found when listed
        try:
            preset.resolve(scale, force=True)
        except SweepError as exc:
            where = "" if scale == DEFAULT_SCALE else f" at scale {scale}"
            raise SweepPresetError(f"{path}{where}: " + "; ".join(exc.problems)) from None
    return preset


def with_lanes(spec: SweepSpec, lanes: bool) -> SweepSpec:
    return replace(spec, lanes=lanes)


def config_values(config: BaseConfig) -> dict[str, Any]:
    return config_to_dict(config)
