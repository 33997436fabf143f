"""Claims: the paper's results as checks on recorded numbers, and the verdict they give.

A claim (a group preset's `[[claims]]` table: see engine/groups.py for the format) says which runs,
which metric, which statistic of it and what is expected of it. It is judged on the runs' recorded
series alone, so `gradfail report` can judge a run long after it ended, and a group's record keeps
its claims (`Claim.as_dict`) to be judged again without its preset.

`over = "metric"` makes the value a ratio of two of the run's metrics. When a metric was below
what its estimator can resolve the family records `<metric>_upper` instead, and a claim uses it
as an upper bound: a bound can prove "at most" but never "at least" (see `Value`).

A claim about a typical run must not hang on one seed's luck: a group's run may train several seeds
(`seeds = N`, labelled "conv (seed 1)", ...), and a claim naming it judges the median of their
values; `stat = "median"` with `tail = 0.2` reads the last 20% of each run instead of its last step.
`over_seeds = "max"` judges the best seed and `over_seeds = "min"` the worst; the claim's words must
say so.

Where the paper's result is itself a matter of luck (end-to-end at k = 2 on the tuples: some seeds
learn, others never leave chance), a claim judges a rate: `over_seeds = "count"` with `seed_at_least`
(or `seed_at_most`) makes a run's value the number of its seeds whose value passes that threshold
("learns"), and `at_least` / `at_most` then apply to that count: `at_least = 1` says "at least one of
the N seeds", `at_most = 0` "none of them". The detail states each run's count as k of N with the
observed rate and its 95% Wilson interval (engine/stats.py), so a verdict says how much luck it saw.
Runs a rate claim compares should train the same number of seeds (fig-tuples' k = 2 and k = 3).

Each claim may cite the paper (`paper = "Sec. 5, Fig. 7: ... its words"`): where the paper says it and
what it says; `gradfail presets show`, the report and the talk show it.

A claim that only a larger scale can show says so: `needs_scale = "cpu"` (one of SCALES after the
default: cpu < paper < large). Judged at a smaller scale (`judge(..., scale=)`, the group's scale) it
comes out `needs --scale cpu` (Outcome.NEEDS_CPU), which is not "not reproduced": a group whose only
unmet claims need a larger scale reads so, and the paper's summary counts it apart.

A claim that no smaller scale could even approach (Fig. 5's "below float32's precision" needs an
estimator that resolves 1e-7: about 1e7 tuples, a GPU's or a cluster's work) adds `claimed_below = false`:
below its `needs_scale` it is not made at all (Outcome.NOT_CLAIMED), its detail says how far down this
scale's numbers got, and it holds the group's verdict neither up nor back. Torch-free.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.presets import DEFAULT_SCALE, check_keys
from engine.registry import FamilySpec, get_family
from engine.state import RunState
from engine.stats import wilson_interval
from engine.status import RunStatus

STATS = ("first", "last", "max", "min", "mean", "median")
# how a run's seeds make one value: their median unless a claim says; "count": how many pass seed_at_least/most
OVER_SEEDS = ("median", "max", "min", "count")
# the scales in the order of what they can show: a claim's `needs_scale` is judged only at it or above
SCALES = (DEFAULT_SCALE, "cpu", "paper", "large")
CLAIM_KEYS = {
    "says": str,
    "runs": list,
    "metric": str,
    "over": str,
    "stat": str,
    "at_least": (int, float),
    "at_most": (int, float),
    "lowest": str,
    "highest": str,
    "from_step": int,
    "until_step": int,
    "tail": (int, float),
    "over_seeds": str,
    "seed_at_least": (int, float),
    "seed_at_most": (int, float),
    "needs_scale": str,
    "claimed_below": bool,
    "paper": str,
}


class Outcome(StrEnum):
    """A claim's outcome, and a group's. Strings, so records and reports hold the words themselves."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCOMPLETE = "incomplete"  # a run did not complete, lacks the numbers, or they are only bounds
    # judged at a scale too small for the claim (its `needs_scale`): not a failure, a pointer
    NEEDS_CPU = "needs --scale cpu"
    NEEDS_PAPER = "needs --scale paper"
    NEEDS_LARGE = "needs --scale large"
    # below its needs_scale, a claim with claimed_below = false is not made: it counts for nothing
    NOT_CLAIMED = "not claimed at this scale"

    @classmethod
    def needs(cls, scale: str) -> Outcome:
        """The outcome of a claim judged below `scale` (one of SCALES after the default)."""
        return cls(f"needs --scale {scale}")

    @property
    def needs_scale(self) -> bool:
        """Whether this outcome says only that a larger scale is needed."""
        return self in NEEDS


def scale_rank(scale: str | None) -> int | None:
    """A scale's place in SCALES (default 0, cpu 1, ...); None for a scale not in the order."""
    return SCALES.index(scale) if scale in SCALES else None


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
    tail: float | None = (
        None  # only the last fraction of each run's recorded steps (a typical ending, not one step's luck)
    )
    over_seeds: str = "median"  # a run's seeds: their median, the best (max) or worst (min), or a count
    seed_at_least: float | None = None  # over_seeds = "count": a seed counts when its value is at least this
    seed_at_most: float | None = None  # ... or at most this
    needs_scale: str | None = None  # the smallest scale that can show it (SCALES); below it: NEEDS_* outcome
    claimed_below: bool = True  # False: below needs_scale the claim is not made (NOT_CLAIMED), not pending
    paper: str = ""  # where the paper says it, and its words ("Sec. 5, Fig. 7: ...")

    def as_dict(self) -> dict[str, Any]:
        """The claim as written in TOML (stored in the group's record, so a report needs no preset)."""
        data = {"says": self.says, "metric": self.metric, "runs": list(self.runs), "stat": self.stat}
        if self.over_seeds != "median":
            data["over_seeds"] = self.over_seeds
        for key in (
            "over",
            "at_least",
            "at_most",
            "lowest",
            "highest",
            "from_step",
            "until_step",
            "tail",
            "seed_at_least",
            "seed_at_most",
            "needs_scale",
        ):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if not self.claimed_below:
            data["claimed_below"] = False
        if self.paper:
            data["paper"] = self.paper
        return data


def parse_claims(raw: list[Any], families: dict[str, FamilySpec]) -> tuple[list[Claim], list[str]]:
    """Claims as declared, checked against the group's run labels and their families' metrics."""
    claims, problems = [], []
    for number, item in enumerate(raw, 1):
        where = f"claim {number}: "
        if not isinstance(item, dict):
            problems.append(f"{where}expected a [[claims]] table")
            continue
        found = check_keys(item, CLAIM_KEYS, where)
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
            found.append(
                f"{where}say what is expected: at_least and/or at_most = a number, or lowest / highest = a run's label"
            )
        if item.get("over_seeds", "median") not in OVER_SEEDS:
            found.append(
                f"{where}over_seeds: got {item.get('over_seeds')!r}, expected one of {', '.join(OVER_SEEDS)} "
                "(how the values of a run's seeds make one)"
            )
        per_seed = [k for k in ("seed_at_least", "seed_at_most") if k in item]
        if item.get("over_seeds") == "count" and len(per_seed) != 1:
            found.append(
                f'{where}over_seeds = "count" counts the seeds that pass one threshold: give seed_at_least '
                "or seed_at_most (a seed's value that counts as the phenomenon), not both"
            )
        elif item.get("over_seeds") != "count" and per_seed:
            found.append(f'{where}{per_seed[0]}: only with over_seeds = "count" (how many seeds pass it)')
        needs = item.get("needs_scale")
        if isinstance(needs, str) and needs not in SCALES[1:]:
            found.append(
                f"{where}needs_scale: got {needs!r}, expected one of {', '.join(SCALES[1:])} "
                "(the smallest scale that can show the claim)"
            )
        if "claimed_below" in item and "needs_scale" not in item:
            found.append(f"{where}claimed_below: only with needs_scale (the scale below which the claim is not made)")
        tail = item.get("tail")
        if isinstance(tail, int | float) and not 0 < tail <= 1:
            found.append(f"{where}tail: got {tail}, expected a fraction of the run in (0, 1] (0.2: its last 20%)")
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


def _metric_problems(metric: str, specs) -> list[str]:
    return [
        f"{metric!r} is not a metric of the {spec.name} family (it has {', '.join(m.name for m in spec.metrics)})"
        for spec in set(specs)
        if spec.metric(metric) is None
    ]


# ---- judging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A number a claim reads from a run: exact, or only a bound ("upper": the truth is <= x)."""

    x: float
    bound: str = "exact"  # exact, upper, lower, or unknown (a ratio of two bounds)

    def __str__(self) -> str:
        text = f"{self.x:.3g}"
        return {"upper": f"<= {text}", "lower": f">= {text}", "unknown": f"~{text}"}.get(self.bound, text)

    def __truediv__(self, other: Value) -> Value:
        x = self.x / other.x if other.x else math.inf
        flip = {"upper": "lower", "lower": "upper", "exact": "exact"}
        kinds = {self.bound, flip[other.bound]} - {"exact"}
        return Value(x, kinds.pop() if len(kinds) == 1 else ("exact" if not kinds else "unknown"))


@dataclass(frozen=True)
class Margin:
    """How far a judged claim is from flipping: `gap` > 0 holds with room, < 0 fails by that much.

    `value` is the number that came closest to flipping it (of the claim's runs, the worst placed)
    and `against` what it was held against: the claim's threshold (at_least, at_most), or for
    lowest / highest the nearest rival's value. The gap is value - against, signed so that positive
    means "holds" (against - value for at_most and lowest); in decades, log10(value / against)
    signed alike, when `log`: for a ratio (`over`) or a metric drawn on a log axis, where a
    difference in units would say nothing across scales. A bound (`<metric>_upper`) gives the gap of
    the bound itself. gradfail audit shows its spread over seed blocks (docs/audit.md)."""

    value: float
    against: float
    gap: float
    log: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "against": self.against, "gap": self.gap, "log": self.log}


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: Outcome
    detail: str  # the numbers it was judged on
    margin: Margin | None = None  # once judged reproduced or not; None when incomplete or needing a scale
    seeds: tuple[tuple[str, int, int], ...] = ()  # a count claim's: (run, k seeds counted, of n), per run


@dataclass
class Verdict:
    outcome: Outcome
    results: list[ClaimResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "claims": [
                {"says": r.claim.says, "outcome": r.outcome, "detail": r.detail}
                | ({"margin": r.margin.as_dict()} if r.margin is not None else {})
                | ({"seeds": {label: [k, n] for label, k, n in r.seeds}} if r.seeds else {})
                for r in self.results
            ],
        }


NEEDS = (Outcome.NEEDS_CPU, Outcome.NEEDS_PAPER, Outcome.NEEDS_LARGE)  # in the order of SCALES[1:]


def judge(claims: list[Claim] | tuple[Claim, ...], runs: dict[str, RunState], scale: str | None = None) -> Verdict:
    """Judge every claim on the runs' recorded numbers; the group is reproduced when all claims are.

    `scale`, the group's (None: unknown, every claim judged): a claim whose `needs_scale` is larger
    comes out `needs --scale X` with the numbers it would have been judged on, and a group whose only
    unmet claims are such reads so too (the largest scale they need)."""
    results = [judge_at_scale(claim, runs, scale) for claim in claims]
    return Verdict(combine([r.outcome for r in results]), results)


def combine(outcomes: list[str]) -> Outcome:
    """Several outcomes as one (a group's from its claims', the paper's from its groups'): not reproduced
    if one is; else incomplete if one is; else the largest scale one needs; else reproduced. None:
    incomplete."""
    outcomes = [o for o in outcomes if o != Outcome.NOT_CLAIMED]  # a claim not made says nothing either way
    if not outcomes:
        return Outcome.INCOMPLETE
    for outcome in (Outcome.NOT_REPRODUCED, Outcome.INCOMPLETE, *reversed(NEEDS)):
        if outcome in outcomes:
            return outcome
    if all(o == Outcome.REPRODUCED for o in outcomes):
        return Outcome.REPRODUCED
    return Outcome.INCOMPLETE  # words no version wrote


def judge_at_scale(claim: Claim, runs: dict[str, RunState], scale: str | None) -> ClaimResult:
    """`judge_claim`, unless the claim needs a larger scale than `scale`: then NEEDS_* with the numbers."""
    result = judge_claim(claim, runs)
    have, need = scale_rank(scale), scale_rank(claim.needs_scale)
    if have is None or need is None or have >= need:
        return result
    if not claim.claimed_below:
        return ClaimResult(
            claim,
            Outcome.NOT_CLAIMED,
            f"made only from --scale {claim.needs_scale}; at --scale {scale}: {reached(result)}",
        )
    return ClaimResult(
        claim,
        Outcome.needs(claim.needs_scale or ""),
        f"--scale {scale} cannot show this claim, --scale {claim.needs_scale} can (at {scale}: {result.outcome}; "
        f"{result.detail})",
    )


def reached(result: ClaimResult) -> str:
    """What a claim's numbers came to, without its test: "SNR sweep: <= 3e-05" of "last e2e_k3 <= 1.2e-07:
    SNR sweep: <= 3e-05", saying what a bound means there."""
    numbers = result.detail.split(": ", 1)[-1]
    bound = any(f"{sign} " in numbers for sign in ("<=", ">="))
    return numbers + (" (a bound: as far as this scale's estimate resolves)" if bound else "")


SEED_LABEL = re.compile(r"^(?P<base>.*) \(seed \d+\)$")  # groups.seed_label writes it


def base_label(label: str) -> str:
    """A run's label as its group declares it: "conv (seed 2)" (one of `seeds = N`) is "conv"."""
    match = SEED_LABEL.match(label)
    return match["base"] if match else label


def seed_members(label: str, runs: dict[str, Any]) -> list[str]:
    """The labels in `runs` that stand for the declared run `label`: itself, or its seeds."""
    return [label] if label in runs else [name for name in runs if base_label(name) == label]


def judge_claim(claim: Claim, runs: dict[str, RunState]) -> ClaimResult:
    members = {label: seed_members(label, runs) for label in claim.runs}
    missing = [label for label, names in members.items() if not names]
    unfinished = [
        f"{name} {runs[name].status} at step {runs[name].step:,}"
        for names in members.values()
        for name in names
        if runs[name].status != RunStatus.COMPLETED
    ]
    if missing or unfinished:
        why = [f"{label} did not run" for label in missing] + unfinished
        return ClaimResult(claim, Outcome.INCOMPLETE, "; ".join(why))
    values: dict[str, Value] = {}
    seeds_text: dict[str, str] = {}
    counted: list[tuple[str, int, int]] = []  # a count claim's k of n seeds per run, for pooling (gradfail audit)
    for label, names in members.items():
        per_seed = [read_value(runs[name], claim) for name in names]
        if any(value is None for value in per_seed):
            return ClaimResult(claim, Outcome.INCOMPLETE, f"{label}: no {describe_value(claim)} recorded")
        if claim.over_seeds == "count":
            passes = [_seed_passes(value, claim) for value in per_seed]
            if Outcome.INCOMPLETE in passes:
                return ClaimResult(
                    claim, Outcome.INCOMPLETE, f"{label}: a seed's value is only a bound across the threshold"
                )
            values[label] = Value(float(passes.count(Outcome.REPRODUCED)))
            seeds_text[label] = " " + rate_text(passes.count(Outcome.REPRODUCED), len(per_seed), per_seed)
            counted.append((label, passes.count(Outcome.REPRODUCED), len(per_seed)))
            continue
        values[label] = over_seeds(per_seed, claim.over_seeds)
        if len(per_seed) > 1:
            seeds_text[label] = f" ({claim.over_seeds} of {len(per_seed)} seeds: {', '.join(str(v) for v in per_seed)})"
    numbers = ", ".join(f"{label}: {value}{seeds_text.get(label, '')}" for label, value in values.items())
    if claim.lowest or claim.highest:
        target = claim.lowest or claim.highest
        others = [v for label, v in values.items() if label != target]
        if any(v.bound != "exact" for v in values.values()):
            return ClaimResult(claim, Outcome.INCOMPLETE, f"{describe_value(claim)} only bounded: {numbers}")
        wins = (
            all(values[target].x < v.x for v in others) if claim.lowest else all(values[target].x > v.x for v in others)
        )
        log = _log_margin(claim, runs, members)
        sense = -1 if claim.lowest else 1  # the target's value should be below (lowest) or above its rivals
        margin = _closest(
            [_margin(values[target].x, v.x, sense, log) for label, v in values.items() if label != target]
        )
        return ClaimResult(
            claim,
            Outcome.REPRODUCED if wins else Outcome.NOT_REPRODUCED,
            f"{describe_value(claim)}: {numbers}",
            margin,
            tuple(counted),
        )
    outcome = Outcome.REPRODUCED
    for value in values.values():
        for result in (_at_least(value, claim.at_least), _at_most(value, claim.at_most)):
            if result == Outcome.NOT_REPRODUCED or (result == Outcome.INCOMPLETE and outcome == Outcome.REPRODUCED):
                outcome = result
    expected = " and ".join(
        part
        for part in (
            f">= {claim.at_least:g}" if claim.at_least is not None else "",
            f"<= {claim.at_most:g}" if claim.at_most is not None else "",
        )
        if part
    )
    margin = None
    if outcome != Outcome.INCOMPLETE:
        log = _log_margin(claim, runs, members)
        margin = _closest(
            [_margin(v.x, claim.at_least, 1, log) for v in values.values() if claim.at_least is not None]
            + [_margin(v.x, claim.at_most, -1, log) for v in values.values() if claim.at_most is not None]
        )
    return ClaimResult(claim, outcome, f"{describe_value(claim)} {expected}: {numbers}", margin, tuple(counted))


def _seed_passes(value: Value, claim: Claim) -> Outcome:
    """Whether one seed's value counts for an `over_seeds = "count"` claim (INCOMPLETE: a bound that cannot say)."""
    if claim.seed_at_least is not None:
        return _at_least(value, claim.seed_at_least)
    return _at_most(value, claim.seed_at_most)


def rate_text(k: int, n: int, per_seed: list[Value]) -> str:
    """A count claim's numbers for one run: k of n seeds, the rate with its 95% Wilson interval, the values."""
    low, high = wilson_interval(k, n)
    return (
        f"of {n} seeds (rate {k / n:.0%}, 95% interval {low:.0%} to {high:.0%}; "
        f"the seeds: {', '.join(str(v) for v in per_seed)})"
    )


def _log_margin(claim: Claim, runs: dict[str, RunState], members: dict[str, list[str]]) -> bool:
    """Whether the claim's margin is a log ratio: for a ratio of metrics, or a metric on a log axis
    (never for a count of seeds)."""
    if claim.over_seeds == "count":
        return False
    if claim.over is not None:
        return True
    for names in members.values():
        for name in names:
            try:
                spec = get_family(runs[name].family).metric(claim.metric)
            except LookupError:  # a family this process does not list (a record of another version)
                continue
            if spec is not None and spec.log_scale:
                return True
    return False


def _margin(value: float, against: float, sense: int, log: bool) -> Margin | None:
    """`value` held against `against`; `sense` 1: it should be at least that, -1: at most. None where
    it cannot be said (a log ratio of a number <= 0, or a number that is not finite)."""
    if log:
        if value <= 0 or against <= 0:
            return None
        gap = sense * math.log10(value / against)
    else:
        gap = sense * (value - against)
    return Margin(value, against, gap, log) if math.isfinite(gap) else None


def _closest(margins: list[Margin | None]) -> Margin | None:
    """The margin of the run that came closest to flipping the claim (None if any cannot be said)."""
    if not margins or any(m is None for m in margins):
        return None
    return min(margins, key=lambda m: m.gap)


def over_seeds(values: list[Value], how: str = "median") -> Value:
    """A run's value over its seeds: the median by default, so that one seed's luck cannot decide a
    claim; or the max or min (OVER_SEEDS). Of exact values and bounds of one kind, each is a bound of
    that kind (all three are monotone in each value)."""
    if len(values) == 1:
        return values[0]
    kinds = {v.bound for v in values} - {"exact"}
    bound = "exact" if not kinds else (kinds.pop() if len(kinds) == 1 and kinds <= {"upper", "lower"} else "unknown")
    combine = {"median": statistics.median, "max": max, "min": min}[how]
    return Value(combine(v.x for v in values), bound)


def _at_least(value: Value, bound: float | None) -> Outcome:
    if bound is None:
        return Outcome.REPRODUCED
    if value.bound in ("exact", "lower"):
        if value.x >= bound:
            return Outcome.REPRODUCED
        return Outcome.NOT_REPRODUCED if value.bound == "exact" else Outcome.INCOMPLETE
    return Outcome.NOT_REPRODUCED if value.bound == "upper" and value.x < bound else Outcome.INCOMPLETE


def _at_most(value: Value, bound: float | None) -> Outcome:
    if bound is None:
        return Outcome.REPRODUCED
    if value.bound in ("exact", "upper"):
        if value.x <= bound:
            return Outcome.REPRODUCED
        return Outcome.NOT_REPRODUCED if value.bound == "exact" else Outcome.INCOMPLETE
    return Outcome.NOT_REPRODUCED if value.bound == "lower" and value.x > bound else Outcome.INCOMPLETE


def describe_value(claim: Claim) -> str:
    what = claim.metric + (f" / {claim.over}" if claim.over else "")
    window = ""
    if claim.from_step is not None or claim.until_step is not None:
        window = f" (steps {claim.from_step or 0:,}..{'' if claim.until_step is None else f'{claim.until_step:,}'})"
    if claim.tail is not None:
        window += f" over the last {claim.tail:.0%} of each run"
    if claim.over_seeds == "count":
        passes = f">= {claim.seed_at_least:g}" if claim.seed_at_least is not None else f"<= {claim.seed_at_most:g}"
        return f"count of seeds whose {claim.stat} {what}{window} {passes}"
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
    itself only an upper bound (max, min, mean and median are monotone in each point).
    """
    exact, upper = state.series.get(metric, []), state.series.get(metric + "_upper", [])
    end = max((s for s, _ in (*exact[-1:], *upper[-1:])), default=0)
    points = [(s, y, "exact") for s, y in _window(exact, claim, end)]
    points += [(s, y, "upper") for s, y in _window(upper, claim, end)]
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    if claim.stat in ("first", "last"):
        _, x, bound = points[0] if claim.stat == "first" else points[-1]
        return Value(x, bound)
    ys = [y for _, y, _ in points]
    x = {"max": max(ys), "min": min(ys), "mean": statistics.fmean(ys), "median": statistics.median(ys)}[claim.stat]
    return Value(x, "upper" if any(b == "upper" for _, _, b in points) else "exact")


def _window(points: list[tuple[int, float]], claim: Claim, end: int) -> list[tuple[int, float]]:
    """The points between from_step and until_step, and within the last `tail` of the steps up to `end`
    (the run's last recorded step of the metric)."""
    low = claim.from_step if claim.from_step is not None else -math.inf
    high = claim.until_step if claim.until_step is not None else math.inf
    if claim.tail is not None:
        low = max(low, end * (1 - claim.tail))
    return [(s, y) for s, y in points if low <= s <= high]
