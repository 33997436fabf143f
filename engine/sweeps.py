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
    success = "test_acc >= 0.95" # optional: map the share of seeds that pass (METRIC[:STAT] >= or <= VALUE)
    [scales.large]               # a larger scale: replaces seeds, grid keys and config keys
    seeds = 16
    grid = { d = "4:40:2" }

sweep.json (engine/orchestration/sweep.py writes it) holds the resolved sweep (`SweepSpec.as_dict`)
so that `--resume`, the report and the explorer need neither the preset nor the command line.

Seeds are replicates. With a success test (`--success "test_acc:max >= 0.95"`, or `success` in the
preset's `[map]`) a cell's outcome is not the mean of its seeds' values but how many of them passed,
k of n, with the 95% Wilson interval of that rate (engine/stats.py): one seed of four that learned
reads 1 of 4 (0.05 to 0.70), not a mean of 0.66. A completed seed is judged by the test, a diverged one
counts as not passing (divergence is a result), and one that failed, was interrupted or stopped is left
out of n (said beside the count). The test sits in the map (`spec.map.success` in sweep.json), once;
each run records `passed`, each cell its `success` (k, n, the interval, how many were left out).

Where that share crosses one half between neighbouring cells along x is a boundary (`boundaries`);
`--refine N` bisects them with new cells (`refine_plan`, `next_cells`; the job adds them), and
`--stop-when-decided` sends the test to the engine so that a run stops once it has passed (`early_stop`).
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from engine.claims import STATS, Claim, Value, read_value
from engine.config import BaseConfig, ConfigError, Knob, build_config, config_to_dict, knobs, unknown_key_message
from engine.presets import (
    DEFAULT_SCALE,
    PresetError,
    PresetKind,
    check_keys,
    find_preset,
    preset_kind,
    read_single,
    read_toml,
)
from engine.record import SWEEP_MANIFEST, read_json_object
from engine.registry import FamilySpec, UnknownFamily, get_family
from engine.state import RunState
from engine.stats import wilson_interval
from engine.status import RunStatus, is_final

MAX_RUNS = (
    2000  # a grid with more runs than this is refused unless --force: a typo in a range should not start days of work
)
MAX_AXIS_POINTS = 10_000  # a range is expanded only up to this many points (its size is checked before)

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
MAP_KEYS = {"metric": str, "stat": str, "from_step": int, "until_step": int, "x": str, "y": str, "success": str}
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


def finite_number(text: str) -> float:
    """A finite number as a grid or a test writes it ("1_000" too); ValueError saying what it is not."""
    try:
        number = float(text.replace("_", ""))
    except ValueError:
        raise ValueError("is not a number") from None
    if not math.isfinite(number):
        raise ValueError("is not a finite number")
    return number


def _range_values(knob: Knob, text: str, name: str) -> list[Any]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3) or knob.type not in (int, float):
        allowed = "a range start:stop or start:stop:step" if knob.type in (int, float) else "a list a,b,c"
        raise SweepError(f"{name}={text}: {knob.name} is {knob.allowed()}; expected {allowed}")
    numbers = []
    for label, part in zip(("start", "stop", "step"), parts + ["1"] * (3 - len(parts))):
        try:
            numbers.append(finite_number(part))
        except ValueError as exc:
            raise SweepError(f"{name}={text}: {label} {part!r} {exc}") from None
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

SUCCESS_FORM = "METRIC[:STAT] >= VALUE (or <= VALUE), e.g. test_acc:max >= 0.95"
SUCCESS_OPS = (">=", "<=")
CONFIDENCE = 0.95  # of a cell's success interval
_COMPARISON = re.compile(r"^(?P<lhs>[^<>=!]*?)\s*(?P<op>=[<>]|[<>=!]=?)\s*(?P<rhs>.*)$", re.DOTALL)


@dataclass(frozen=True)
class SuccessTest:
    """What makes one seed a success: a statistic of a metric at least (>=) or at most (<=) a threshold.
    `stat` None stands for the map's statistic until the sweep is resolved; the window is the map's."""

    metric: str
    op: str  # one of SUCCESS_OPS
    threshold: float
    stat: str | None = None

    @property
    def text(self) -> str:
        """As it is written: `test_acc:max >= 0.95`."""
        return f"{self.metric}{':' + self.stat if self.stat else ''} {self.op} {self.threshold:.10g}"

    def judge(self, value: Value) -> bool | None:
        """Whether a seed's value passes; None when it is a bound that cannot say (an upper bound above a `>=`)."""
        passes = value.x >= self.threshold if self.op == ">=" else value.x <= self.threshold
        if value.bound == "exact":
            return passes
        # a bound decides only from its own side: "at least x" can pass a >=, "at most x" can fail it
        helps = "lower" if self.op == ">=" else "upper"
        if value.bound == helps:
            return True if passes else None
        if value.bound in ("lower", "upper"):
            return False if not passes else None
        return None  # a ratio of two bounds says nothing for sure

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "stat": self.stat, "op": self.op, "value": self.threshold, "text": self.text}


def parse_success(text: str, where: str = "--success") -> SuccessTest:
    """`test_acc:max>=0.95` (spaces optional) -> SuccessTest; SweepError in one line naming what is wrong."""

    def bad(why: str) -> SweepError:
        return SweepError(f"{where} {text!r}: {why}; expected {SUCCESS_FORM}")

    found = _COMPARISON.match(text.strip())
    if found is None:
        raise bad("no comparison")
    lhs, op, rhs = found["lhs"].strip(), found["op"], found["rhs"].strip()
    if op not in SUCCESS_OPS:
        raise bad(f"the comparison {op!r} is not one it takes (>= or <=)")
    metric, colon, stat = (part.strip() for part in lhs.partition(":"))
    if not metric:
        raise bad(f"no metric before {op}")
    if colon and not stat:
        raise bad("no statistic after ':'")
    if colon and stat not in STATS:
        raise bad(f"the statistic {stat!r} is not one of {', '.join(STATS)}")
    if not rhs:
        raise bad(f"no value after {op}")
    try:
        threshold = finite_number(rhs)
    except ValueError as exc:
        raise bad(f"the value {rhs!r} {exc}") from None
    return SuccessTest(metric, op, threshold, stat or None)


def success_test(given: Any, where: str = "map success") -> SuccessTest | None:
    """A success test as a sweep is given it: its text (a preset, the command line), the dict sweep.json
    holds (`SuccessTest.as_dict`; --resume), or one already parsed. SweepError if it is none of these."""
    if given is None or isinstance(given, SuccessTest):
        return given
    if isinstance(given, str):
        return parse_success(given, where)
    if isinstance(given, dict):
        test = _success_from_dict(given)
        if test is not None:
            return test
    raise SweepError(f"{where}: expected text of the form {SUCCESS_FORM}")


def _success_from_dict(data: dict[str, Any]) -> SuccessTest | None:
    """The test sweep.json records, or None when it is not one (read forgivingly)."""
    metric, op, stat, value = data.get("metric"), data.get("op"), data.get("stat"), _number(data.get("value"))
    if not isinstance(metric, str) or not metric or op not in SUCCESS_OPS or value is None:
        return None
    return SuccessTest(metric, op, value, stat if stat in STATS else None)


@dataclass(frozen=True)
class Mapping:
    metric: str
    stat: str = "last"
    x: str = ""
    y: str | None = None
    from_step: int | None = None
    until_step: int | None = None
    success: SuccessTest | None = None  # map the share of seeds that pass it, not the mean of their values

    def claim(self, metric: str | None = None, stat: str | None = None) -> Claim:
        return Claim(
            says="",
            metric=metric or self.metric,
            runs=(),
            stat=stat or self.stat,
            from_step=self.from_step,
            until_step=self.until_step,
        )

    def value(self, state: RunState) -> float | None:
        """The mapped value of one run (None when it has no such numbers)."""
        value = read_value(state, self.claim())
        return None if value is None or not math.isfinite(value.x) else value.x

    def passed(self, state: RunState) -> bool | None:
        """Whether one run passed the success test: a completed run as its numbers say, a diverged one
        did not; None without a test, for a run that did not complete, or numbers that cannot say."""
        test = self.success
        if test is None or state.status not in (RunStatus.COMPLETED, RunStatus.DIVERGED):
            return None
        if state.status == RunStatus.DIVERGED:
            return False
        value = read_value(state, self.claim(test.metric, test.stat))
        return None if value is None or not math.isfinite(value.x) else test.judge(value)

    def window(self) -> str:
        if self.from_step is None and self.until_step is None:
            return ""
        end = "" if self.until_step is None else f"{self.until_step:,}"
        return f" over steps {self.from_step or 0:,}..{end}"

    def describe(self) -> str:
        return f"{self.stat} {self.metric}{self.window()}"

    def describe_success(self) -> str:
        """The success test in words: `max test_acc >= 0.95` (the map's window, if any)."""
        test = self.success
        if test is None:
            return ""
        return f"{test.stat or self.stat} {test.metric}{self.window()} {test.op} {test.threshold:.10g}"

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.success is not None:
            data["success"] = self.success.as_dict()
        return data


def mapping_problems(mapping: Mapping, spec: FamilySpec, axes: list[str]) -> list[str]:
    problems = []
    known = ", ".join(m.name for m in spec.metrics)
    if spec.metric(mapping.metric) is None:
        problems.append(f"map metric: {mapping.metric!r} is not a metric of {spec.name}; known: {known}")
    if mapping.stat not in STATS:
        problems.append(f"map stat: got {mapping.stat!r}, expected one of {', '.join(STATS)}")
    if mapping.success is not None and spec.metric(mapping.success.metric) is None:
        problems.append(f"success metric: {mapping.success.metric!r} is not a metric of {spec.name}; known: {known}")
    for which in ("x", "y"):
        key = getattr(mapping, which)
        if key and key not in axes:
            problems.append(f"map {which}: {key!r} is not a grid key; the grid has {', '.join(axes) or 'no keys'}")
    if mapping.x and mapping.x == mapping.y:
        problems.append(f"map x and y: both are {mapping.x!r}; choose two different grid keys")
    return problems


# Which tests a run can meet before it ends, and so stop early (`--stop-when-decided`): a maximum only
# grows and a minimum only falls as evaluations come, and the first value in the window never changes.
# Last, mean and median can still move at the last evaluation; and `max <= v` or `min >= v` can be
# decided early only as failing, which does not stop a run (a failing run runs its full budget).
DECIDED_EARLY = {("max", ">="), ("min", "<="), ("first", ">="), ("first", "<=")}


def early_stop(mapping: Mapping) -> dict[str, Any]:
    """The `stop_when` a sweep's start commands carry under `--stop-when-decided` (engine/loop.py's
    `StopWhen` reads it): the success test on the map's window, for a test a run can meet before it
    ends; SweepError, one line, for any other."""
    test = mapping.success
    if test is None:
        raise SweepError(
            "--stop-when-decided needs a success test (--success, or the preset's map success): "
            "a run stops once it has passed it"
        )
    stat = test.stat or mapping.stat
    if (stat, test.op) not in DECIDED_EARLY:
        why = (
            f"a later evaluation can still change a run's {stat}"
            if stat in ("last", "mean", "median")
            else f"{stat} {test.op} {test.threshold:.10g} can be decided early only as failing, and a failing run runs to its end"
        )
        raise SweepError(
            f"--stop-when-decided: {test.text!r} is decided only when a run ends ({why}); "
            "it takes max >= VALUE, min <= VALUE or first"
        )
    return {
        "metric": test.metric,
        "stat": stat,
        "op": test.op,
        "value": test.threshold,
        "from_step": mapping.from_step,
        "until_step": mapping.until_step,
        "text": test.text,
    }


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
    *,
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
            kind = preset_kind(data)
            if kind is PresetKind.SWEEP:
                raise SweepError(
                    f"preset {preset} is a sweep preset; give it as the sweep (gradfail sweep --preset {preset})"
                )
            if kind is PresetKind.GROUP:
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
        raise SweepError(str(exc)) from None
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
    try:
        mapping["success"] = success_test(mapping.get("success"))
    except SweepError as exc:
        problems += exc.problems
        mapping["success"] = None
    mapping.setdefault("metric", spec.metrics[0].name)
    keys = [a.key for a in axes]
    mapping.setdefault("x", keys[0] if keys else "")
    if len(keys) > 1:
        mapping.setdefault("y", next(k for k in keys if k != mapping["x"]) if mapping["x"] in keys else keys[1])
    chosen = Mapping(**mapping)
    if chosen.success is not None and chosen.success.stat is None:  # the map's statistic, written down
        chosen = replace(chosen, success=replace(chosen.success, stat=chosen.stat))
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


def cell_config(spec: SweepSpec, settings: dict[str, Any]) -> BaseConfig:
    """The config of a cell at `settings` (grid key -> value) on the sweep's base: a refined cell's, which
    the grid does not list; SweepError naming the cell if the family refuses it."""
    label = ", ".join(f"{k}={v}" for k, v in settings.items())
    try:
        return build_config(spec.spec.config_cls, {**spec.base, **settings})
    except ConfigError as exc:
        raise SweepError([f"cell {label}: {p}" for p in exc.problems]) from None


# ---- a sweep's record, read back, and the heatmap's data --------------------------------------


@dataclass(frozen=True)
class SweepRunRecord:
    """One run as sweep.json lists it (docs/run-record.md)."""

    label: str
    cell: int  # its cell's index
    seed: int | None
    dir: str | None  # its record's directory in the sweep's, None until it starts
    status: RunStatus
    steps: int
    value: float | None  # the mapped statistic (a completed run's only)
    message: str = ""  # why it failed
    passed: bool | None = None  # whether it passed the sweep's success test; None: none, or not judged
    stopped_early: str = ""  # `--stop-when-decided`: the test met and where ("test_acc:max >= 0.95 met at step 1,200")


@dataclass(frozen=True)
class Successes:
    """A cell's seeds against the success test: `k` of `n` judged passed; `left_out` ended without a
    verdict (failed, interrupted, stopped, or numbers that cannot say); `pending` have not ended yet."""

    k: int
    n: int
    left_out: int = 0
    pending: int = 0

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the rate (None before a seed is judged)."""
        return wilson_interval(self.k, self.n, CONFIDENCE) if self.n else None

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval or (None, None)
        return {"k": self.k, "n": self.n, "low": low, "high": high, "left_out": self.left_out}


def count_successes(runs: Iterable[tuple[str, bool | None]]) -> Successes:
    """Successes of runs given as (status, passed): judged ones count in n, ended unjudged ones are left out."""
    k = n = left_out = pending = 0
    for status, passed in runs:
        if passed is not None:
            n += 1
            k += passed is True
        elif is_final(status):
            left_out += 1
        else:
            pending += 1
    return Successes(k, n, left_out, pending)


@dataclass(frozen=True)
class SweepCell:
    """A cell of the phase diagram: its settings, and its runs with their mapped values and endings."""

    index: int
    label: str
    settings: dict[str, Any]  # grid key -> value
    runs: tuple[SweepRunRecord, ...]
    refined: bool = False  # added by refinement (`--refine`), between two cells of the grid

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(run.value for run in self.runs if run.value is not None)

    @property
    def statuses(self) -> tuple[RunStatus, ...]:
        return tuple(run.status for run in self.runs)

    # The mean and spread are computed from the runs, not read from the record's "mean" and "sd" (the
    # writer computes them the same way), so a cell and its runs never disagree on screen.
    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def successes(self) -> Successes:
        """Its seeds against the success test, counted from the runs' `passed` (as the mean is from their values)."""
        return count_successes((run.status, run.passed) for run in self.runs)

    @property
    def done(self) -> int:
        return sum(1 for s in self.statuses if is_final(s))

    @property
    def failed(self) -> int:
        return sum(1 for s in self.statuses if s in (RunStatus.FAILED, RunStatus.DIVERGED))


@dataclass(frozen=True)
class SweepRecord:
    """A sweep.json read once into types, for every display (the report, the explorer, `gradfail sweep`).

    Read as forgivingly as a run's record: an entry that is not what the format says is left out, and
    `problems` names it; nothing in a damaged record raises. The writer (engine/orchestration/sweep.py)
    keeps its manifest as a dict; a display drawing a sweep as it runs reads that dict with
    `from_manifest`."""

    title: str
    status: RunStatus
    family: str
    preset: str | None  # the base single-run preset
    base: dict[str, Any]  # the config values every cell shares
    grid: tuple[Axis, ...]
    seeds: tuple[int, ...]
    mapping: Mapping
    device: str
    batched: bool
    wall_s: float
    cells: tuple[SweepCell, ...]
    runs: tuple[SweepRunRecord, ...]
    problems: tuple[str, ...] = ()
    refinement: RefinePlan | None = None  # `--refine`: its budget and resolution, as sweep.json keeps them

    @property
    def keys(self) -> list[str]:
        return [axis.key for axis in self.grid]

    @property
    def ended(self) -> int:
        return sum(1 for run in self.runs if is_final(run.status))

    @classmethod
    def read(cls, path: Path) -> SweepRecord:
        """The sweep.json in directory `path`; a missing or unreadable one reads as an empty sweep, said in `problems`."""
        problems: list[str] = []
        manifest = read_json_object(path / SWEEP_MANIFEST, problems, "nothing of the sweep can be shown")
        record = cls.from_manifest(manifest)
        return replace(record, problems=(*problems, *record.problems))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> SweepRecord:
        """A sweep.json's parsed object (or the writer's manifest), read into types."""
        problems: list[str] = []
        spec = _table(manifest.get("spec"), "spec", problems)
        runs: dict[int, SweepRunRecord] = {}
        for number, item in enumerate(_list(manifest.get("runs"), "runs", problems)):
            if isinstance(item, dict):
                runs[number] = _run_record(item, number, problems)
            else:
                problems.append(f"{SWEEP_MANIFEST}: run {number} is not an object; left out")
        cells = []
        for position, item in enumerate(_list(manifest.get("cells"), "cells", problems)):
            if not isinstance(item, dict):
                problems.append(f"{SWEEP_MANIFEST}: cell {position} is not an object; left out")
                continue
            numbers = item.get("runs") if isinstance(item.get("runs"), list) else []
            mine = tuple(runs[n] for n in numbers if isinstance(n, int) and n in runs)
            if len(mine) < len(numbers):
                problems.append(f"{SWEEP_MANIFEST}: cell {position} names runs it does not list; left out of it")
            settings = _table(item.get("settings"), f"cell {position} settings", problems)
            label = item.get("label") or ", ".join(f"{k}={v}" for k, v in settings.items())
            refined = item.get("refined") is True
            cells.append(SweepCell(_int(item.get("index"), position), str(label), settings, mine, refined))
        return cls(
            title=str(manifest.get("title") or ""),
            status=_status(manifest.get("status"), "the sweep", problems),
            family=str(spec.get("family") or ""),
            preset=spec.get("preset") if isinstance(spec.get("preset"), str) else None,
            base=_table(spec.get("base"), "spec base", problems),
            grid=_axes(spec.get("grid"), problems),
            seeds=tuple(s for s in _list(spec.get("seeds"), "spec seeds", problems) if isinstance(s, int)),
            mapping=_mapping(_table(spec.get("map"), "spec map", problems), problems),
            device=str(spec.get("device") or ""),
            batched=bool(manifest.get("batched")),
            wall_s=_number(manifest.get("wall_s")) or 0.0,
            cells=tuple(cells),
            runs=tuple(runs.values()),
            problems=tuple(problems),
            refinement=RefinePlan.from_dict(manifest.get("refine"), problems),
        )


def _list(value: Any, what: str, problems: list[str]) -> list[Any]:
    if isinstance(value, list):
        return value
    if value is not None:
        problems.append(f"{SWEEP_MANIFEST}: {what} is not a list; left out")
    return []


def _table(value: Any, what: str, problems: list[str]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if value is not None:
        problems.append(f"{SWEEP_MANIFEST}: {what} is not an object; left out")
    return {}


T = TypeVar("T")


def _int(value: Any, default: T) -> int | T:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _number(value: Any) -> float | None:
    """A finite number, else None (a bool is not one, though JSON's reader makes it an int)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _status(value: Any, whose: str, problems: list[str]) -> RunStatus:
    """The status a record names; UNKNOWN for none, and for a word this version does not know (said)."""
    status = RunStatus.parse(value)
    if status is None and value is not None:
        problems.append(f"{SWEEP_MANIFEST}: {whose}'s status {value!r} is not one this version knows")
    return status or RunStatus.UNKNOWN


def _run_record(item: dict[str, Any], number: int, problems: list[str]) -> SweepRunRecord:
    label = str(item.get("label") or f"run {number}")
    return SweepRunRecord(
        label=label,
        cell=_int(item.get("cell"), -1),
        seed=_int(item.get("seed"), None),
        dir=item.get("dir") if isinstance(item.get("dir"), str) and item.get("dir") else None,
        status=_status(item.get("status"), label, problems),
        steps=_int(item.get("steps"), 0),
        value=_number(item.get("value")),
        message=str(item.get("message") or ""),
        passed=item.get("passed") if isinstance(item.get("passed"), bool) else None,
        stopped_early=str(item.get("stopped_early") or ""),
    )


def _axes(value: Any, problems: list[str]) -> tuple[Axis, ...]:
    axes = []
    for item in _list(value, "spec grid", problems):
        if isinstance(item, dict) and isinstance(item.get("key"), str) and isinstance(item.get("values"), list):
            axes.append(Axis(item["key"], tuple(item["values"])))
        else:
            problems.append(f"{SWEEP_MANIFEST}: a grid axis is not a key and its values; left out")
    return tuple(axes)


def _mapping(table: dict[str, Any], problems: list[str]) -> Mapping:
    """The map as written, each key only if it has its type (MAP_KEYS); the success test as its dict."""
    fields = {
        key: table[key] for key, kind in MAP_KEYS.items() if key != "success" and isinstance(table.get(key), kind)
    }
    success = table.get("success")
    test = _success_from_dict(success) if isinstance(success, dict) else None
    if success is not None and test is None:
        problems.append(f"{SWEEP_MANIFEST}: the map's success test is not a metric, op and value; left out")
    return Mapping(**{"metric": "", **fields}, success=test)


@dataclass(frozen=True)
class Facet:
    """One heatmap: the two mapped axes, at fixed values of the other grid keys (if any)."""

    title: str
    x_key: str
    x_values: tuple[Any, ...]  # the grid's, and the values refinement added between them (sorted then)
    y_key: str | None
    y_values: tuple[Any, ...]
    cells: dict[tuple[Any, Any], SweepCell]  # (x, y) -> cell; y is None for one axis
    pinned: dict[str, Any] = field(default_factory=dict)  # the other grid keys' values here

    @property
    def refined_x(self) -> tuple[Any, ...]:
        """The x values only refined cells have (a column that is empty in the rows refinement left alone)."""
        return tuple(x for x in self.x_values if all(c.refined for (cx, _), c in self.cells.items() if cx == x))


def facets(record: SweepRecord) -> list[Facet]:
    """The phase diagram(s) of a sweep: one heatmap per combination of the grid keys not mapped (a
    running sweep's manifest is read with SweepRecord.from_manifest)."""
    if not record.grid:
        return []
    axis = {a.key: a.values for a in record.grid}
    x_key = record.mapping.x if record.mapping.x in axis else record.grid[0].key
    y_key = record.mapping.y if record.mapping.y in axis and record.mapping.y != x_key else None
    added = tuple(dict.fromkeys(c.settings.get(x_key) for c in record.cells if c.refined))
    added = tuple(x for x in added if x not in axis[x_key] and _is_number(x))
    if added and all(_is_number(x) for x in axis[x_key]):  # refined values sit between the grid's
        axis[x_key] = tuple(sorted((*axis[x_key], *added)))
    others = [key for key in axis if key not in (x_key, y_key)]
    result = []
    for fixed in itertools.product(*(axis[k] for k in others)):
        pinned = dict(zip(others, fixed))
        cells = {}
        for cell in record.cells:
            if all(cell.settings.get(k) == v for k, v in pinned.items()):
                cells[(cell.settings.get(x_key), cell.settings.get(y_key) if y_key else None)] = cell
        title = ", ".join(f"{k}={v}" for k, v in pinned.items())
        result.append(Facet(title, x_key, axis[x_key], y_key, axis[y_key] if y_key else (None,), cells, pinned))
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- boundaries: where the share of seeds that pass crosses one half ---------------------------
#
# Along the map's x axis, in each row (each y value, in each facet): the cells of a row in x order,
# those with at least one seed judged, each on one side of one half (k/n >= 1/2: it passes at least
# half the time). A boundary is a pair of neighbours on opposite sides. Refinement (`--refine N`)
# bisects each boundary not yet located to the axis' resolution: one new cell at its midpoint, the
# widest first, in rounds (the next round is chosen when the last has ended, so that the cells
# chosen do not depend on which engine was faster), until N extra cells are spent or every boundary
# is located. x is the axis refined because the boundary is named as x*(y), "d* between 12 and 14 at
# steps = 8,000", and drawn as a curve against y; to refine along the other axis, swap --x and --y.

HALF = 0.5
FLOAT_DIVISIONS = 64  # a float axis is located to 1/64 of its grid's smallest spacing, unless --resolution


@dataclass(frozen=True)
class Side:
    """A cell on one side of a boundary: its x and its seeds' count."""

    x: Any
    counted: Successes

    @property
    def passes(self) -> bool:
        """It passes at least half the time."""
        return (self.counted.rate or 0.0) >= HALF

    def describe(self) -> str:
        return f"{_number_text(self.x)} ({self.counted.k} of {self.counted.n})"


@dataclass(frozen=True)
class Boundary:
    """One row's boundary along x: every crossing of one half between neighbouring judged cells (in x order)."""

    x_key: str
    y_key: str | None
    y: Any
    pinned: dict[str, Any]  # the facet's other keys
    judged: tuple[Side, ...]  # the row's cells with a seed judged, in x order
    crossings: tuple[tuple[Side, Side], ...]

    @property
    def where(self) -> str:
        """`steps = 8,000` (and the facet's keys); "" for a single row."""
        parts = ([f"{self.y_key} = {_number_text(self.y)}"] if self.y_key else []) + [
            f"{k} = {_number_text(v)}" for k, v in self.pinned.items()
        ]
        return ", ".join(parts)

    def located(self, resolution: float) -> bool:
        """Every crossing is between two values at most `resolution` apart."""
        return all(abs(b.x - a.x) <= resolution + 1e-12 for a, b in self.crossings)

    def describe(self, resolution: float | None = None) -> str:
        """One line: `d* between 12 (2 of 4) and 14 (0 of 4) at steps = 8,000`, the first crossing in x
        (and how many others); or that every judged value is on one side."""
        x, at = f"{self.x_key}*", f" at {self.where}" if self.where else ""
        if not self.judged:
            return f"{x}{at}: no seed judged yet"
        if not self.crossings:
            low, high = self.judged[0], self.judged[-1]
            return (
                f"{x}{at}: {'every' if low.passes else 'no'} {self.x_key} from {_number_text(low.x)} to "
                f"{_number_text(high.x)} passes at least half the time (no boundary within the grid)"
            )
        a, b = self.crossings[0]
        text = f"{x} between {a.describe()} and {b.describe()}{at}"
        if resolution is not None:
            text += " (located)" if abs(b.x - a.x) <= resolution + 1e-12 else f" (±{_number_text(abs(b.x - a.x) / 2)})"
        more = self.crossings[1:]
        if more:
            spans = ", ".join(f"{_number_text(c.x)}–{_number_text(d.x)}" for c, d in more)
            text += f"; it crosses one half again at {spans}"
        return text


def boundaries(record: SweepRecord) -> list[Boundary]:
    """Every row's boundary along x, for a success map whose x is numeric (else [])."""
    if record.mapping.success is None:
        return []
    result = []
    for facet in facets(record):
        if not facet.x_values or not all(_is_number(x) for x in facet.x_values):
            return []
        for y in facet.y_values:
            judged = tuple(
                Side(x, cell.successes)
                for x in facet.x_values
                if (cell := facet.cells.get((x, y))) is not None and cell.successes.n
            )
            crossings = tuple((a, b) for a, b in itertools.pairwise(judged) if a.passes != b.passes)
            result.append(Boundary(facet.x_key, facet.y_key, y, facet.pinned, judged, crossings))
    return result


def _number_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class RefinePlan:
    """`--refine N` as sweep.json keeps it (`refine`): the axis refined, the extra cells asked for and
    still allowed, the resolution it stops at, the rounds so far, and why it stopped (once it has)."""

    axis: str
    cells: int
    left: int
    resolution: float
    integer: bool
    rounds: int = 0
    ended: str = ""  # "located" (every boundary to the resolution) or "spent" (no cell left to add)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Any, problems: list[str] | None = None) -> RefinePlan | None:
        if data is None:
            return None
        try:
            plan = cls(
                axis=str(data["axis"]),
                cells=int(data["cells"]),
                left=int(data["left"]),
                resolution=float(data["resolution"]),
                integer=bool(data["integer"]),
                rounds=int(data.get("rounds", 0)),
                ended=str(data.get("ended") or ""),
            )
        except (TypeError, KeyError, ValueError):
            if problems is not None:
                problems.append(
                    f"{SWEEP_MANIFEST}: its refinement is not an axis, cells, left and resolution; left out"
                )
            return None
        return plan


def refine_plan(spec: SweepSpec, cells: int, resolution: float | None = None) -> RefinePlan:
    """`--refine N` checked against the sweep: a success test, a numeric x axis, a resolution > 0
    (default: adjacent integers; 1/64 of the smallest spacing of a float axis's grid). SweepError, one line."""
    mapping = spec.mapping
    if mapping.success is None:
        raise SweepError(
            "--refine needs a success test (--success, or the preset's map success): "
            "it looks for where the share of seeds that pass crosses one half"
        )
    knob = {k.name: k for k in knobs(spec.spec.config_cls)}.get(mapping.x)
    if knob is None or knob.type not in (int, float):
        raise SweepError(f"--refine: the map's x axis, {mapping.x!r}, is not a number; refinement bisects along x")
    if resolution is not None and not (math.isfinite(resolution) and resolution > 0):
        raise SweepError(f"--resolution {resolution:g}: expected a number > 0")
    values = sorted(next(a.values for a in spec.axes if a.key == mapping.x))
    if knob.type is int:
        resolution = max(1, math.ceil(resolution)) if resolution is not None else 1
    elif resolution is None:
        spacing = min((b - a for a, b in itertools.pairwise(values)), default=0.0)
        resolution = spacing / FLOAT_DIVISIONS if spacing > 0 else 1.0
    return RefinePlan(mapping.x, cells, cells, float(resolution), knob.type is int)


def next_cells(record: SweepRecord, plan: RefinePlan) -> list[dict[str, Any]]:
    """The next round of refinement: for each boundary not located to the resolution, the settings of a
    cell at its midpoint (an integer axis: rounded down), widest first, then in row order; [] when
    every boundary is located (or waits for a cell there whose seeds all failed to be run again)."""
    found, keys = [], record.keys
    taken = {tuple(cell.settings.get(k) for k in keys) for cell in record.cells}
    for order, boundary in enumerate(boundaries(record)):
        for a, b in boundary.crossings:
            low, high = sorted((a.x, b.x))
            gap = high - low
            if gap <= plan.resolution + 1e-12:
                continue
            middle = (low + high) // 2 if plan.integer else float(f"{(low + high) / 2:.12g}")
            if not low < middle < high:
                continue
            at = {**boundary.pinned, plan.axis: middle}
            if boundary.y_key:
                at[boundary.y_key] = boundary.y
            settings = {k: at[k] for k in keys if k in at}
            if tuple(settings.get(k) for k in keys) in taken:
                continue  # a cell there already, none of its seeds judged (failed): --resume runs it again
            found.append((-gap, order, settings))
    found.sort(key=lambda item: item[:2])
    return [settings for _, _, settings in found]


# ---- sweep presets ----------------------------------------------------------------------------


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
    kind: ClassVar[PresetKind] = PresetKind.SWEEP

    @property
    def scales(self) -> list[str]:
        return [DEFAULT_SCALE] + sorted(s for s in self.scales_table if s != DEFAULT_SCALE)

    def resolve(
        self,
        scale: str = DEFAULT_SCALE,
        overrides: dict[str, Any] | None = None,
        grid: dict[str, Any] | None = None,
        seeds: int | None = None,
        *,
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
