"""No claim can pass with the paper's phenomenon absent (issue 25, point 5; DESIGN.md decision 12).

For every claim of every group shipped in presets/ (read afresh, so a new group or claim is covered
without editing this file), records are written by hand in which the phenomenon happens (a control:
it must come out reproduced) and in which it does not (it must come out not reproduced): values on
the wrong side of `at_least` / `at_most`, the target of `lowest` / `highest` the worst of its runs,
no seed passing a rate claim's threshold (or every seed, for "none of N"). Each of the claim's runs
is mutated alone too, so a claim that ignored one of the runs it names would be caught. A claim for
which no such record can be written comes out reproduced on it, and the test fails for it.

The records are RunStates with constant series over the claim's window, so every statistic (first,
last, max, min, mean, median, over any tail) reads the chosen value; a ratio claim (`over`) reads its
denominator as 1.
"""

from __future__ import annotations

import pytest

from engine.catalog import read_any
from engine.claims import Claim, Outcome, judge, judge_claim
from engine.groups import GroupPreset, run_seeds, seed_label
from engine.presets import DEFAULT_SCALE, shipped_presets_dir
from engine.state import RunState
from engine.status import RunStatus

SEEDS = 3  # the seeds a synthetic run of `seeds = N` trains (N itself where a scale says more)


def shipped_groups() -> list[GroupPreset]:
    groups = [read_any(path) for path in sorted(shipped_presets_dir().glob("*.toml"))]
    return [group for group in groups if isinstance(group, GroupPreset)]


def shipped_claims() -> list[tuple[GroupPreset, int, Claim]]:
    return [(group, number, claim) for group in shipped_groups() for number, claim in enumerate(group.claims, 1)]


CLAIMS = shipped_claims()


def seed_counts(group: GroupPreset) -> dict[str, int]:
    """Each declared run's seeds: the most it trains at any scale (so a rate claim sees its N)."""
    return {run["label"]: max(run_seeds(run, scale) for scale in group.scales) for run in group.runs}


def families(group: GroupPreset) -> dict[str, str]:
    return {member.of or member.label: member.family for member in group.members(DEFAULT_SCALE)}


def steps_for(claim: Claim) -> list[int]:
    low = claim.from_step or 0
    high = claim.until_step if claim.until_step is not None else low + 1000
    return sorted({low, (low + high) // 2, high})


def state(label: str, family: str, claim: Claim, value: float) -> RunState:
    steps = steps_for(claim)
    series = {claim.metric: [(s, value) for s in steps]}
    if claim.over is not None:
        series[claim.over] = [(s, 1.0) for s in steps]
    return RunState(
        run_id=label,
        label=label,
        family=family,
        status=RunStatus.COMPLETED,
        step=steps[-1],
        total_steps=steps[-1],
        series=series,
    )


def above(t: float) -> float:
    """A value clearly above t (positive where t is, for a metric on a log axis)."""
    return t * 2 if t > 0 else (t / 2 if t < 0 else 1.0)


def below(t: float) -> float:
    return t / 2 if t > 0 else (t * 2 if t < 0 else -1.0)


def records(group: GroupPreset, claim: Claim, values: dict[str, list[float]]) -> dict[str, RunState]:
    """The claim's runs with each seed's value (`values[label]`, one per seed)."""
    family = families(group)
    runs: dict[str, RunState] = {}
    for label, per_seed in values.items():
        if len(per_seed) == 1:
            runs[label] = state(label, family[label], claim, per_seed[0])
        else:
            for seed, value in enumerate(per_seed):
                name = seed_label(label, seed)
                runs[name] = state(name, family[label], claim, value)
    return runs


def seed_values(claim: Claim, seeds: int, phenomenon: bool, *, run_holds: bool | None = None) -> list[float]:
    """One run's seed values: the phenomenon present (`phenomenon`) or absent, for a claim with a
    threshold (at_least / at_most, on a value or on a count of seeds)."""
    if claim.over_seeds == "count":
        passing = claim.seed_at_least is not None
        threshold = claim.seed_at_least if passing else claim.seed_at_most
        yes = above(threshold) if passing else below(threshold)
        no = below(threshold) if passing else above(threshold)
        # at_least n: the phenomenon is n or more seeds passing; at_most m: at most m of them.
        wants_many = claim.at_least is not None
        many = phenomenon == wants_many
        return [yes if many else no] * seeds
    if claim.at_least is not None and claim.at_most is not None:
        inside = (claim.at_least + claim.at_most) / 2
        if claim.at_least > 0:
            inside = (claim.at_least * claim.at_most) ** 0.5  # in the middle on a log axis too
        return [inside if phenomenon else above(claim.at_most)] * seeds
    if claim.at_least is not None:
        return [above(claim.at_least) if phenomenon else below(claim.at_least)] * seeds
    return [below(claim.at_most) if phenomenon else above(claim.at_most)] * seeds


def threshold_cases(group: GroupPreset, claim: Claim) -> tuple[dict, list[tuple[str, dict]]]:
    counts = seed_counts(group)
    right = {label: seed_values(claim, counts[label], True) for label in claim.runs}
    wrong = [("every run", {label: seed_values(claim, counts[label], False) for label in claim.runs})]
    if len(claim.runs) > 1:
        wrong += [
            (f"only {label!r}", {**right, label: seed_values(claim, counts[label], False)}) for label in claim.runs
        ]
    if claim.at_least is not None and claim.at_most is not None and claim.over_seeds != "count":
        low = [below(claim.at_least)]
        wrong.append(("below at_least", {label: low * counts[label] for label in claim.runs}))
    return right, wrong


def ranking_cases(group: GroupPreset, claim: Claim) -> tuple[dict, list[tuple[str, dict]]]:
    counts = seed_counts(group)
    target = claim.lowest or claim.highest
    best, worst, middle = (1.0, 3.0, 2.0) if claim.lowest else (3.0, 1.0, 2.0)
    right = {label: [best if label == target else middle] * counts[label] for label in claim.runs}
    # the phenomenon absent: the target the worst of the runs, and (a closer call) the worst by a hair
    wrong = [
        ("target the worst", {label: [worst if label == target else middle] * counts[label] for label in claim.runs})
    ]
    for rival in (label for label in claim.runs if label != target):
        wrong.append(
            (f"{rival!r} beats the target", {**right, rival: [best * (0.5 if claim.lowest else 2)] * counts[rival]})
        )
    return right, wrong


def cases(group: GroupPreset, claim: Claim):
    return ranking_cases(group, claim) if (claim.lowest or claim.highest) else threshold_cases(group, claim)


@pytest.mark.parametrize(
    ("group", "number", "claim"), CLAIMS, ids=[f"{group.name}-claim{number}" for group, number, _ in CLAIMS]
)
def test_the_claim_fails_when_the_phenomenon_is_absent_and_holds_when_present(group, number, claim):
    right, wrong = cases(group, claim)
    control = judge_claim(claim, records(group, claim, right))
    assert control.outcome == Outcome.REPRODUCED, (claim.says, control.detail)
    for what, values in wrong:
        result = judge_claim(claim, records(group, claim, values))
        assert result.outcome == Outcome.NOT_REPRODUCED, (
            f"{group.name} claim {number} ({claim.says!r}) is not a claim: with the phenomenon absent "
            f"({what}) it came out {result.outcome}: {result.detail}"
        )


def test_every_shipped_group_is_covered():
    names = {group.name for group in shipped_groups()}
    assert {"fig-parity", "fig-tuples", "fig-stocks", "fig-flat", "fig-snr", "fig-pwl", "thm-variance"} <= names
    assert len(CLAIMS) >= 15  # every claim of every group, counted in the ids above


@pytest.mark.parametrize("name", ["fig-parity", "fig-tuples", "fig-stocks", "fig-flat"])
def test_each_claim_cites_the_paper(name):
    group = next(g for g in shipped_groups() if g.name == name)
    for claim in group.claims:
        assert claim.paper.startswith(("Sec.", "Fig.", "Theorem")), (name, claim.says)


def test_a_claim_needing_a_larger_scale_says_so_instead_of_failing():
    group = next(g for g in shipped_groups() if g.name == "fig-tuples")
    needing = [claim for claim in group.claims if claim.needs_scale == "cpu"]
    assert needing
    for claim in needing:
        _, wrong = cases(group, claim)
        runs = records(group, claim, wrong[0][1])
        assert judge([claim], runs, DEFAULT_SCALE).outcome == Outcome.NEEDS_CPU
        assert judge([claim], runs, "cpu").outcome == Outcome.NOT_REPRODUCED
        assert judge([claim], runs, "paper").outcome == Outcome.NOT_REPRODUCED


def test_a_claim_that_cannot_fail_is_caught():
    """The check itself: a claim true whatever is recorded (a metric over itself is always 1) has no
    record that makes it fail, and the mutation finds none."""
    group = next(g for g in shipped_groups() if g.name == "fig-parity")
    vacuous = Claim(
        says="d = 5 over itself", metric="test_acc", over="test_acc", runs=("d = 5",), at_least=0.5, at_most=2
    )
    _, wrong = cases(group, vacuous)
    outcomes = {judge_claim(vacuous, records(group, vacuous, values)).outcome for _, values in wrong}
    assert outcomes == {Outcome.REPRODUCED}
