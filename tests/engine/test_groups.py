"""Group presets: reading them, and judging the paper's claims on recorded numbers.

(Running them headless, with `gradfail run --preset fig-...`: tests/cli/test_groups.py.)
"""

import pytest

from engine.catalog import load_preset
from engine.claims import Claim, Outcome, Value, Verdict, judge, judge_claim, parse_claims
from engine.events import Metrics, RunFinished, RunStarted
from engine.groups import GroupError, GroupPreset, members_setup, run_seeds, setup_of
from engine.presets import PresetError, preset_paths
from engine.registry import get_family
from engine.state import RunState


def state(label, series, status="completed"):
    """A run as the judge sees it: its metric series and how it ended."""
    events = [
        RunStarted(
            run_id=label,
            t=0.0,
            family="parity",
            preset=None,
            config={},
            seed=0,
            device="cpu",
            device_name="cpu",
            total_steps=100,
            versions={},
        )
    ]
    for name, points in series.items():
        events += [Metrics(run_id=label, t=0.0, step=step, values={name: value}) for step, value in points]
    events.append(RunFinished(run_id=label, t=0.0, step=100, status=status, message=""))
    return RunState.from_events(events, label=label)


def claim(**fields):
    return Claim(**{"says": "a claim", "metric": "acc", "runs": ("a",), **fields})


def test_thresholds_are_judged_on_the_chosen_statistic():
    runs = {"a": state("a", {"acc": [(10, 0.5), (20, 0.97), (30, 0.96)]})}
    assert judge_claim(claim(stat="last", at_least=0.95), runs).outcome == Outcome.REPRODUCED
    assert judge_claim(claim(stat="first", at_least=0.95), runs).outcome == Outcome.NOT_REPRODUCED
    assert judge_claim(claim(stat="max", at_most=0.6), runs).outcome == Outcome.NOT_REPRODUCED
    assert judge_claim(claim(stat="max", until_step=10, at_most=0.6), runs).outcome == Outcome.REPRODUCED
    result = judge_claim(claim(stat="mean", at_least=0.5, at_most=0.9), runs)
    assert result.outcome == Outcome.REPRODUCED and "0.81" in result.detail  # the numbers it was judged on


def test_a_run_that_did_not_complete_or_lacks_the_metric_makes_a_claim_incomplete():
    runs = {"a": state("a", {"acc": [(10, 0.99)]}, status="interrupted"), "b": state("b", {"loss": [(10, 1.0)]})}
    assert judge_claim(claim(at_least=0.95), runs).outcome == Outcome.INCOMPLETE
    assert judge_claim(claim(runs=("b",), at_least=0.95), runs).outcome == Outcome.INCOMPLETE
    assert "did not run" in judge_claim(claim(runs=("c",), at_least=0.95), runs).detail


def test_lowest_and_highest_compare_the_runs():
    runs = {"a": state("a", {"err": [(5, 0.1)]}), "b": state("b", {"err": [(5, 0.3)]})}
    assert judge_claim(claim(metric="err", runs=("a", "b"), lowest="a"), runs).outcome == Outcome.REPRODUCED
    assert judge_claim(claim(metric="err", runs=("a", "b"), highest="a"), runs).outcome == Outcome.NOT_REPRODUCED


def test_values_below_resolution_are_bounds_that_prove_only_what_they_can():
    # e2e_k3 was below resolution: only its upper bound 6e-5 is recorded.
    runs = {"a": state("a", {"k1": [(1, 8e-4)], "k3_upper": [(1, 6e-5)]})}
    ratio = claim(metric="k1", over="k3")  # k1 / k3 >= 8e-4 / 6e-5 = 13.3: a lower bound
    assert judge_claim(Claim(**{**ratio.__dict__, "at_least": 10}), runs).outcome == Outcome.REPRODUCED
    assert judge_claim(Claim(**{**ratio.__dict__, "at_least": 100}), runs).outcome == Outcome.INCOMPLETE
    assert judge_claim(Claim(**{**ratio.__dict__, "at_most": 5}), runs).outcome == Outcome.NOT_REPRODUCED
    assert judge_claim(claim(metric="k3", at_most=1e-4), runs).outcome == Outcome.REPRODUCED
    assert judge_claim(claim(metric="k3", at_least=1e-6), runs).outcome == Outcome.INCOMPLETE
    assert str(Value(6e-5, "upper")) == "<= 6e-05"


def test_the_group_verdict_is_the_worst_claim():
    runs = {"a": state("a", {"acc": [(10, 0.99)]})}
    good, bad, unknown = claim(at_least=0.9), claim(at_most=0.5), claim(metric="nope", at_least=0.5)
    assert judge([good], runs).outcome == Outcome.REPRODUCED
    assert judge([good, unknown], runs).outcome == Outcome.INCOMPLETE
    assert judge([good, unknown, bad], runs).outcome == Outcome.NOT_REPRODUCED
    assert judge([], runs).outcome == Outcome.INCOMPLETE


def test_every_shipped_group_resolves_at_every_scale():
    groups = [load_preset(name) for name in preset_paths() if name.startswith(("fig-", "thm-"))]
    assert {g.name for g in groups} >= {
        "fig-parity",
        "fig-tuples",
        "fig-stocks",
        "fig-snr",
        "fig-pwl",
        "fig-flat",
        "thm-variance",
    }
    for group in groups:
        assert isinstance(group, GroupPreset) and "paper" in group.scales, group.name
        for scale in group.scales:
            assert [m.of or m.label for m in group.members(scale)] == [
                run["label"] for run in group.runs for _ in range(run_seeds(run, scale))
            ]


def test_the_paper_scale_uses_the_original_schedules():
    tuples = load_preset("fig-tuples")
    default = {m.label: m.config for m in tuples.members()}
    paper = {m.label: m.config for m in tuples.members("paper")}
    assert paper["k = 3, end-to-end"].steps == 20_000 and paper["k = 3, end-to-end"].batch == 200
    assert default["k = 3, end-to-end"].steps < 20_000


def test_overrides_reach_the_runs_that_have_the_field(tmp_path):
    pwl = load_preset("fig-pwl")
    members = pwl.members(overrides={"batch": "20"})
    assert {m.label: getattr(m.config, "batch", None) for m in members}["linear (seed 0)"] == 20
    with pytest.raises(Exception, match="nope: no run of fig-pwl has this setting"):
        pwl.members(overrides={"nope": "1"})
    with pytest.raises(GroupError, match="--scale huge: fig-pwl has the scales default, paper"):
        pwl.members("huge")


@pytest.mark.parametrize(
    "text, message",
    [
        ('title = "x"', "runs: expected one or more"),
        ('[[runs]]\nlabel = "a"\npreset = "parity5"\ncolour = 1', "run 1: colour: unknown setting; known: label"),
        ('[[runs]]\nlabel = "a"\npreset = "parity5"\n[[runs]]\nlabel = "a"\npreset = "parity10"', "'a' is used twice"),
        ('[[runs]]\nlabel = "a"\npreset = "parity5"\nfamily = "parity"', "exactly one of preset"),
        ('[[runs]]\nlabel = "a"\npreset = "parity5"\nconfig = { d = 0 }', "run 'a': d: got 0"),
        ('[[runs]]\nlabel = "a"\npreset = "fig-parity"', "is itself a group"),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[claims]]\nsays = "s"\nmetric = "acc"\nat_least = 1',
            "'acc' is not a metric of the parity family",
        ),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[claims]]\nsays = "s"\nmetric = "test_acc"\nruns = ["b"]\nat_least = 1',
            "no run is labelled 'b'",
        ),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[claims]]\nsays = "s"\nmetric = "test_acc"',
            "say what is expected",
        ),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[claims]]\nsays = "s"\nmetric = "test_acc"\nstat = "mode"\nat_least = 1',
            "stat: got 'mode'",
        ),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[claims]]\nsays = "s"\nmetric = "test_acc"\ntail = 1.5\nat_least = 1',
            "tail: got 1.5, expected a fraction",
        ),
        (
            '[[runs]]\nlabel = "a"\npreset = "parity5"\nseeds = 0',
            "seeds: got 0, expected 1 to 64",
        ),
    ],
)
def test_a_bad_group_file_names_the_file_the_place_and_the_problem(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(PresetError) as error:
        load_preset(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_group_naming_itself_is_refused_not_followed(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(f'[[runs]]\nlabel = "a"\npreset = "{path}"')
    with pytest.raises(PresetError, match="is itself a group"):
        load_preset(str(path))


def test_a_claim_over_seeds_judges_their_median_not_one_seeds_luck():
    """fig-pwl's case: seed 0 of the conditioned conv ends on an oscillation, seeds 1 and 2 near 0."""
    runs = {
        "cond (seed 0)": state("cond (seed 0)", {"err": [(100, 1.78)]}),
        "cond (seed 1)": state("cond (seed 1)", {"err": [(100, 1e-5)]}),
        "cond (seed 2)": state("cond (seed 2)", {"err": [(100, 3e-4)]}),
        "auto": state("auto", {"err": [(100, 1.81)]}),
    }
    best = judge_claim(claim(metric="err", runs=("cond", "auto"), lowest="cond"), runs)
    assert best.outcome == Outcome.REPRODUCED
    assert "cond: 0.0003 (median of 3 seeds: 1.78, 1e-05, 0.0003)" in best.detail
    runs["cond (seed 2)"] = state("cond (seed 2)", {"err": [(100, 1.9)]})  # two seeds of three are worse
    runs["auto"] = state("auto", {"err": [(100, 1.5)]})
    assert judge_claim(claim(metric="err", runs=("cond", "auto"), lowest="cond"), runs).outcome == (
        Outcome.NOT_REPRODUCED
    )
    runs["cond (seed 1)"] = state("cond (seed 1)", {"err": [(50, 1e-5)]}, status="failed")
    unfinished = judge_claim(claim(metric="err", runs=("cond",), at_most=1), runs)
    assert unfinished.outcome == Outcome.INCOMPLETE and "cond (seed 1) failed" in unfinished.detail


def test_a_claim_may_judge_the_best_or_the_worst_of_a_runs_seeds():
    """fig-tuples' case at k = 2: end-to-end learns in some seeds and never leaves chance in others."""
    runs = {f"k2 (seed {i})": state(f"k2 (seed {i})", {"acc": [(100, acc)]}) for i, acc in enumerate((0.5, 0.91, 0.49))}
    assert judge_claim(claim(runs=("k2",), at_least=0.75), runs).outcome == Outcome.NOT_REPRODUCED  # the median
    some = judge_claim(claim(runs=("k2",), at_least=0.75, over_seeds="max"), runs)
    assert some.outcome == Outcome.REPRODUCED and "k2: 0.91 (max of 3 seeds: 0.5, 0.91, 0.49)" in some.detail
    assert judge_claim(claim(runs=("k2",), at_most=0.6, over_seeds="min"), runs).outcome == Outcome.REPRODUCED
    assert judge_claim(claim(runs=("k2",), at_most=0.6, over_seeds="max"), runs).outcome == Outcome.NOT_REPRODUCED
    _, problems = parse_claims(
        [{"says": "s", "metric": "test_acc", "at_least": 0.5, "over_seeds": "best"}], {"a": get_family("parity")}
    )
    assert problems == [
        "claim 1: over_seeds: got 'best', expected one of median, max, min, count (how the values of a run's seeds make one)"
    ]


def test_a_rate_claim_counts_the_seeds_that_learn_and_states_the_rate_with_its_interval():
    """fig-tuples at --scale cpu: "at least one of 8 learns k = 2, none of the same 8 learns k = 3"."""
    accs = {"k2": (0.5, 0.91, 0.49, 0.88), "k3": (0.51, 0.5, 0.52, 0.49)}
    runs = {
        f"{k} (seed {i})": state(f"{k} (seed {i})", {"acc": [(100, a)]})
        for k, seeds in accs.items()
        for i, a in enumerate(seeds)
    }
    some = judge_claim(claim(runs=("k2",), over_seeds="count", seed_at_least=0.75, at_least=1), runs)
    assert some.outcome == Outcome.REPRODUCED
    assert "k2: 2 of 4 seeds (rate 50%, 95% interval 15% to 85%" in some.detail, some.detail
    assert some.margin is not None and some.margin.gap == 1 and not some.margin.log
    assert some.seeds == (("k2", 2, 4),)  # kept as numbers too: gradfail audit pools them over blocks
    assert Verdict(some.outcome, [some]).as_dict()["claims"][0]["seeds"] == {"k2": [2, 4]}
    none = judge_claim(claim(runs=("k3",), stat="max", over_seeds="count", seed_at_least=0.6, at_most=0), runs)
    assert none.outcome == Outcome.REPRODUCED and "k3: 0 of 4 seeds (rate 0%, 95% interval 0% to 49%" in none.detail
    assert judge_claim(claim(runs=("k2",), over_seeds="count", seed_at_least=0.75, at_most=0), runs).outcome == (
        Outcome.NOT_REPRODUCED
    )
    assert judge_claim(claim(runs=("k3",), over_seeds="count", seed_at_least=0.75, at_least=1), runs).outcome == (
        Outcome.NOT_REPRODUCED
    )
    family = {"a": get_family("parity")}
    _, problems = parse_claims([{"says": "s", "metric": "test_acc", "at_least": 1, "over_seeds": "count"}], family)
    assert problems and "give seed_at_least or seed_at_most" in problems[0]
    _, problems = parse_claims([{"says": "s", "metric": "test_acc", "at_least": 1, "seed_at_most": 0.5}], family)
    assert problems == ['claim 1: seed_at_most: only with over_seeds = "count" (how many seeds pass it)']


def test_a_claim_judged_below_the_scale_it_needs_says_which_scale_instead_of_failing():
    runs = {"a": state("a", {"acc": [(100, 0.5)]})}
    small = claim(at_least=0.75, needs_scale="cpu", paper="Sec. 3.1, Fig. 3: ...")
    fine = claim(at_most=0.75)
    assert judge([small], runs).outcome == Outcome.NOT_REPRODUCED  # scale unknown: judged
    verdict = judge([small, fine], runs, "default")
    assert verdict.outcome == Outcome.NEEDS_CPU == "needs --scale cpu"
    assert "--scale cpu can (at default: not reproduced; last acc >= 0.75: a: 0.5)" in verdict.results[0].detail
    assert judge([small, fine], runs, "cpu").outcome == Outcome.NOT_REPRODUCED
    assert judge([small, claim(at_least=0.9)], runs, "default").outcome == Outcome.NOT_REPRODUCED
    assert judge([small, claim(needs_scale="paper", at_least=0.9)], runs, "default").outcome == Outcome.NEEDS_PAPER
    assert small.as_dict()["needs_scale"] == "cpu" and small.as_dict()["paper"].startswith("Sec. 3.1")
    _, problems = parse_claims(
        [{"says": "s", "metric": "test_acc", "at_least": 1, "needs_scale": "huge"}], {"a": get_family("parity")}
    )
    assert problems == [
        "claim 1: needs_scale: got 'huge', expected one of cpu, paper, large (the smallest scale that can show the claim)"
    ]


def test_a_claim_made_only_from_its_scale_is_not_claimed_below_it_and_says_how_far_the_numbers_got():
    runs = {"a": state("a", {"acc": [(100, 0.5)]})}
    beyond = claim(at_most=0.1, needs_scale="large", claimed_below=False)
    fine = claim(at_most=0.75)
    verdict = judge([fine, beyond], runs, "cpu")
    assert verdict.outcome == Outcome.REPRODUCED  # a claim not made counts neither way
    assert verdict.results[1].outcome == Outcome.NOT_CLAIMED
    assert verdict.results[1].detail == "made only from --scale large; at --scale cpu: a: 0.5"
    assert judge([fine, beyond], runs, "large").outcome == Outcome.NOT_REPRODUCED  # made there, and judged
    assert judge([claim(at_least=0.9), beyond], runs, "cpu").outcome == Outcome.NOT_REPRODUCED
    assert judge([beyond], runs, "cpu").outcome == Outcome.INCOMPLETE  # nothing claimed: nothing shown
    assert beyond.as_dict()["claimed_below"] is False and "claimed_below" not in fine.as_dict()
    _, problems = parse_claims(
        [{"says": "s", "metric": "test_acc", "at_least": 1, "claimed_below": False}], {"a": get_family("parity")}
    )
    assert problems == ["claim 1: claimed_below: only with needs_scale (the scale below which the claim is not made)"]


def test_fig_tuples_judges_k2_and_k3_end_to_end_on_the_same_seeds_at_cpu_scale():
    group = load_preset("fig-tuples")
    seeds = {run["label"]: run_seeds(run, "cpu") for run in group.runs}
    assert seeds["k = 2, end-to-end"] == seeds["k = 3, end-to-end"] >= 8


def test_a_runs_seeds_are_resolved_labelled_and_judged_from_the_record(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[runs]]\nlabel = "a"\npreset = "parity5"\nseeds = 3\nseed = 4\n'
        '[[claims]]\nsays = "s"\nruns = ["a"]\nmetric = "test_acc"\nat_least = 0.5\n'
    )
    group = load_preset(str(path))
    members = group.members()
    assert [(m.label, m.seed, m.of) for m in members] == [
        ("a (seed 4)", 4, "a"),
        ("a (seed 5)", 5, "a"),
        ("a (seed 6)", 6, "a"),
    ]
    assert [m.seed for m in group.members(seed=10)] == [10, 11, 12]  # --seed moves the first
    runs = {m.label: state(m.label, {"test_acc": [(100, 0.4 + 0.1 * i)]}) for i, m in enumerate(members)}
    assert judge(group.claims, runs).outcome == Outcome.REPRODUCED  # median 0.5 of 0.4, 0.5, 0.6


def test_a_tail_reads_the_typical_end_of_each_run_not_its_last_step():
    runs = {"a": state("a", {"acc": [(step, 0.9) for step in range(0, 95, 5)] + [(95, 0.1), (100, 0.1)]})}
    assert judge_claim(claim(stat="last", at_least=0.8), runs).outcome == Outcome.NOT_REPRODUCED
    typical = judge_claim(claim(stat="median", tail=0.2, at_least=0.8), runs)
    assert typical.outcome == Outcome.REPRODUCED and "over the last 20% of each run" in typical.detail
    assert judge_claim(claim(stat="median", tail=0.05, at_least=0.8), runs).outcome == Outcome.NOT_REPRODUCED


def test_a_scale_may_train_more_seeds(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[runs]]\nlabel = "a"\npreset = "parity5"\nscales.big = { seeds = 3, config = { steps = 900 } }\n'
        '[[claims]]\nsays = "s"\nruns = ["a"]\nmetric = "test_acc"\nat_least = 0.5\n'
    )
    group = load_preset(str(path))
    assert [m.label for m in group.members()] == ["a"]
    assert [(m.label, m.config.steps) for m in group.members("big")] == [
        ("a (seed 0)", 900),
        ("a (seed 1)", 900),
        ("a (seed 2)", 900),
    ]
    # Wall times are measured into presets/measured/walltimes.toml, the one place they are kept: a
    # preset that still writes one is told so, not silently believed.
    path.write_text('wall_time = { default = "a minute" }\n' + path.read_text())
    with pytest.raises(GroupError, match="wall_time"):
        load_preset(str(path))


def test_the_paper_counts_a_result_needing_a_larger_scale_apart():
    from engine.paper import overall, summarise

    outcomes = [Outcome.REPRODUCED] * 6 + [Outcome.NEEDS_CPU]
    assert summarise(outcomes) == "7 results: 6 reproduced, 1 needs --scale cpu"
    assert overall(outcomes) == Outcome.NEEDS_CPU
    assert overall([*outcomes, Outcome.NOT_REPRODUCED]) == Outcome.NOT_REPRODUCED
    assert overall([*outcomes, Outcome.INCOMPLETE]) == Outcome.INCOMPLETE
    assert overall([Outcome.REPRODUCED] * 7) == Outcome.REPRODUCED


def test_a_groups_setup_is_its_claims_and_its_runs_settings_not_its_seeds():
    """What an audit measured (engine/audit_figures.py): every seed block of it has one setup; another
    scale, a --set, an edited claim or another number of seeds is another setup."""
    tuples = load_preset("fig-tuples")
    at_cpu = members_setup(tuples, tuples.members("cpu"))
    assert members_setup(tuples, tuples.members("cpu", seed=40)) == at_cpu  # block 6's seeds: the same setup
    assert members_setup(tuples, tuples.members("default")) != at_cpu
    assert members_setup(tuples, tuples.members("cpu", overrides={"steps": "4000"})) != at_cpu
    reworded = GroupPreset(**{**vars(tuples), "claims": tuples.claims[::-1]})
    assert members_setup(reworded, tuples.members("cpu")) != at_cpu  # the claims, in their order
    one = {"steps": 100}
    assert setup_of(["c"], [("a (seed 3)", one), ("a (seed 4)", one)]) == setup_of(
        ["c"], [("a (seed 0)", one), ("a (seed 1)", one)]
    )
    assert setup_of(["c"], [("a (seed 0)", one)]) != setup_of(["c"], [("a (seed 0)", one), ("a (seed 1)", one)])
    assert setup_of(["c"], [("a", one), ("b", one)]) == setup_of(["c"], [("b", one), ("a", one)])  # by label
