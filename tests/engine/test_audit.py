"""Audits without torch: the Wilson interval, each claim's margin, the tallies, and AuditRun over scripted engines.

An `AuditRun` is driven over a Conductor as `gradfail audit` drives it (blocking `run()`, `shutdown()`
on Ctrl-C); what is checked is what a person relies on: which blocks train at once, each block's
group directory, what audit.json counts, and what --resume runs again.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.audit import (
    AUDIT_MANIFEST,
    GROUP_CLAIM,
    block_dir,
    pooled_rows,
    read_audit,
    seed_stride,
    tally,
    tally_cells,
)
from engine.claims import Claim, Outcome, judge_claim
from engine.config import build_config
from engine.groups import GroupPreset, MemberRun
from engine.orchestration import Conductor
from engine.orchestration.audit import AuditRun, new_manifest
from engine.record import RecordError, claim_run_dir, read_group
from engine.state import RunState
from engine.stats import wilson_interval
from engine.status import RunStatus
from tests import scripted
from tests.scripted import DEMO, Engines, Script

# ---- the Wilson interval -----------------------------------------------------------------------

# statsmodels' own test of proportion_confint(method="wilson") compares it with R's binom.confint
# (package binom, tol = 1e-8): statsmodels/stats/tests/results/results_proportion.py, `res_binom`,
# the last of each case's 11 methods ("wilson"). The same numbers, to the digits published there.
R_BINOM_WILSON = [
    (18, 20, 0.6989663547715128, 0.972133518786232),
    (4, 20, 0.0806576625797981, 0.4160174322518935),
    (4, 200, 0.00780442641634947, 0.05028708690582643),
    (190, 200, 0.910421851861224, 0.972617354399236),
    (1, 30, 5.908590e-03, 0.16670391),
    (29, 30, 0.8332961, 0.9940914),
    (0, 30, 0.0, 0.11351339),
    (30, 30, 0.8864866, 1.0),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), R_BINOM_WILSON)
def test_wilson_interval_matches_statsmodels_and_r(k, n, low, high):
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(low, abs=1e-7) and got[1] == pytest.approx(high, abs=1e-7)


# k of 10 at 95% from the closed form (z = 1.959963984540054, p = k/10):
#   (p + z²/20 ± z·sqrt(p(1-p)/10 + z²/400)) / (1 + z²/10)
# worked by hand to four places; 0/10 and 10/10 touch 0 and 1 exactly.
TEN = {0: (0.0, 0.2775), 1: (0.0179, 0.4042), 5: (0.2366, 0.7634), 9: (0.5958, 0.9821), 10: (0.7225, 1.0)}


@pytest.mark.parametrize("k", sorted(TEN))
def test_wilson_interval_of_k_in_ten(k):
    low, high = wilson_interval(k, 10)
    assert (round(low, 4), round(high, 4)) == TEN[k]
    assert wilson_interval(10 - k, 10) == pytest.approx((1 - high, 1 - low))  # symmetric in k <-> n - k


def test_wilson_interval_refuses_what_is_no_proportion():
    for k, n in ((1, 0), (-1, 5), (6, 5)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            wilson_interval(k, n)
    assert wilson_interval(3, 10, confidence=0.99)[1] > wilson_interval(3, 10)[1]  # wider when surer


# ---- each claim's margin --------------------------------------------------------------------------


def state(family: str, series: dict[str, list[float]], status: str = RunStatus.COMPLETED) -> RunState:
    run = RunState(run_id="r", label="r", family=family, status=status)
    run.series = {name: [(10 * i, y) for i, y in enumerate(values, 1)] for name, values in series.items()}
    return run


def test_the_margin_is_signed_so_that_positive_holds_with_room():
    runs = {"a": state("demo", {"test_acc": [0.5, 0.97]}), "b": state("demo", {"test_acc": [0.5, 0.91]})}
    learns = judge_claim(Claim("both learn", "test_acc", ("a", "b"), at_least=0.95), runs)
    assert learns.outcome == Outcome.NOT_REPRODUCED
    assert (learns.margin.value, learns.margin.against) == (0.91, 0.95)  # the run closest to flipping it
    assert learns.margin.gap == pytest.approx(-0.04) and not learns.margin.log
    chance = judge_claim(Claim("a at chance", "test_acc", ("a",), stat="max", at_most=0.99), runs)
    assert chance.outcome == Outcome.REPRODUCED and chance.margin.gap == pytest.approx(0.02)
    between = judge_claim(Claim("both", "test_acc", ("a",), at_least=0.9, at_most=0.98), runs)
    assert between.margin.gap == pytest.approx(0.01)  # the nearer of its two thresholds
    highest = judge_claim(Claim("a best", "test_acc", ("a", "b"), highest="a"), runs)
    assert highest.outcome == Outcome.REPRODUCED and highest.margin.gap == pytest.approx(0.06)
    assert highest.margin.against == 0.91  # the nearest rival


def test_a_log_metric_or_a_ratio_has_its_margin_in_decades():
    runs = {
        "fwd": state("flat", {"sq_error": [1e-2, 1e-4]}),  # flat's sq_error is drawn on a log axis
        "e2e": state("flat", {"sq_error": [1e-2, 1e-3]}),
    }
    lowest = judge_claim(Claim("fwd lowest", "sq_error", ("fwd", "e2e"), lowest="fwd"), runs)
    assert lowest.outcome == Outcome.REPRODUCED and lowest.margin.log
    assert lowest.margin.gap == pytest.approx(1.0)  # one decade below its rival
    ratio = judge_claim(Claim("within 2x", "sq_error", ("fwd",), over="train_loss", at_most=2.0), {
        "fwd": state("flat", {"sq_error": [1.0, 8.0], "train_loss": [1.0, 1.0]}),
    })  # fmt: skip
    assert ratio.outcome == Outcome.NOT_REPRODUCED and ratio.margin.gap == pytest.approx(-math.log10(4))


def test_an_incomplete_claim_has_no_margin_and_the_record_says_it_when_there_is_one():
    runs = {"a": state("demo", {"test_acc": [0.5, 0.97]}, status=RunStatus.FAILED)}
    result = judge_claim(Claim("a learns", "test_acc", ("a",), at_least=0.95), runs)
    assert result.outcome == Outcome.INCOMPLETE and result.margin is None


# ---- the tallies ------------------------------------------------------------------------------------


def verdict(outcome: str, *claims: tuple[str, float | None]) -> dict:
    return {
        "outcome": outcome,
        "claims": [
            {"says": f"c{i}", "outcome": o} | ({"margin": {"gap": g, "log": False}} if g is not None else {})
            for i, (o, g) in enumerate(claims)
        ],
    }


def test_tally_counts_k_of_the_judged_blocks_and_incomplete_ones_apart():
    R, N, I = Outcome.REPRODUCED, Outcome.NOT_REPRODUCED, Outcome.INCOMPLETE  # noqa: E741
    verdicts = [
        verdict(R, (R, 0.3), (R, 1.0)),
        verdict(N, (R, 0.1), (N, -0.2)),
        verdict(I, (I, None), (R, 0.5)),
        verdict(R, (R, 0.2), (R, 0.4)),
        None,  # a block not ended yet
    ]
    first, second, group = tally(["c0", "c1"], verdicts)
    assert (first.reproduced, first.not_reproduced, first.incomplete, first.judged) == (3, 0, 1, 3)
    assert first.spread == (0.1, 0.2, 0.3) and first.interval == wilson_interval(3, 3)
    assert (second.reproduced, second.not_reproduced, second.incomplete) == (3, 1, 0)
    assert second.spread == (-0.2, 0.45, 1.0)
    assert (group.says, group.reproduced, group.not_reproduced, group.incomplete) == (GROUP_CLAIM, 2, 1, 1)
    assert tally_cells(first) == ("3/3", "44% to 100%", "1", "+0.1 / +0.2 / +0.3")
    assert tally_cells(tally(["c0"], [])[0]) == ("0/0", "-", "-", "-")  # nothing judged yet: no interval
    at_the_line = tally(["c0"], [verdict(R, (R, -0.0))])[0]  # "none of 8 above 0.6": 0 against at most 0
    assert tally_cells(at_the_line)[3] == "+0 / +0 / +0"  # holds, with no room: never "-0"
    assert first.as_dict()["interval"] == list(wilson_interval(3, 3)) and first.as_dict()["rate"] == 1.0


def test_blocks_judged_at_a_scale_too_small_for_a_claim_are_counted_apart():
    R, C = Outcome.REPRODUCED, Outcome.NEEDS_CPU
    first, group = tally(["c0"], [verdict(C, (C, None)), verdict(C, (C, None)), verdict(R, (R, 0.5))])
    assert (first.reproduced, first.not_reproduced, first.incomplete, first.needs_scale) == (1, 0, 0, 2)
    assert first.judged == 1 and first.needs == "needs --scale cpu"
    assert tally_cells(first)[2] == "2 needs --scale cpu" and first.as_dict()["needs_scale"] == 2
    assert (group.reproduced, group.needs_scale, group.judged) == (1, 2, 1)


def test_blocks_at_a_scale_where_a_claim_is_not_made_are_counted_apart():
    R, N = Outcome.REPRODUCED, Outcome.NOT_CLAIMED
    first, group = tally(["c0"], [verdict(R, (N, None)), verdict(R, (N, None))])
    assert (first.reproduced, first.judged, first.incomplete, first.not_claimed) == (0, 0, 0, 2)
    assert tally_cells(first)[:3] == ("0/0", "-", "2 not claimed") and first.as_dict()["not_claimed"] == 2
    assert (group.reproduced, group.judged) == (2, 2)


def test_a_count_claims_seeds_are_pooled_over_the_judged_blocks():
    """How likely one seed is to learn k = 2: its seeds over every block judged, not k of n blocks."""
    R, N, I = Outcome.REPRODUCED, Outcome.NOT_REPRODUCED, Outcome.INCOMPLETE  # noqa: E741

    def counted(outcome, k2, k3):
        claim = {"says": "c0", "outcome": outcome, "margin": {"gap": k2[0] - 1, "log": False}}
        return {"outcome": outcome, "claims": [claim | {"seeds": {"k = 2": k2, "k = 3": k3}}]}

    verdicts = [counted(R, [1, 8], [0, 8]), counted(N, [0, 8], [0, 8]), counted(R, [2, 8], [1, 8])]
    verdicts.append({"outcome": I, "claims": [{"says": "c0", "outcome": I, "seeds": {"k = 2": [5, 8]}}]})  # not judged
    first, _ = tally(["c0"], verdicts)
    assert first.seeds == (("k = 2", 3, 24), ("k = 3", 1, 24))
    assert first.as_dict()["seeds"]["k = 2"] == {
        "counted": 3, "of": 24, "rate": 0.125, "interval": list(wilson_interval(3, 24))
    }  # fmt: skip
    low, high = wilson_interval(3, 24)
    assert pooled_rows([first]) == [
        ("c0", "k = 2", "3 of 24", f"12% ({low:.0%} to {high:.0%})"),
        ("c0", "k = 3", "1 of 24", f"4% ({wilson_interval(1, 24)[0]:.0%} to {wilson_interval(1, 24)[1]:.0%})"),
    ]
    assert pooled_rows(tally(["c0"], [verdict(R, (R, 0.1))])) == []  # a claim that counts no seeds: no row


def test_blocks_seeds_never_overlap_even_for_runs_of_several_seeds(tmp_path):
    group = demo_group(tmp_path, seeds=3)
    assert seed_stride(group, "default") == 3
    blocks = new_manifest(group, 4, 10, "default", {}, "cpu")["blocks"]
    assert [b["seed"] for b in blocks] == [10, 13, 16, 19]
    assert [block_dir(1), block_dir(12, attempt=2)] == ["block-01", "block-12-r2"]


# ---- AuditRun over scripted engines ---------------------------------------------------------------

CLAIMS = (
    Claim(says="every run learns", metric="test_acc", runs=("a", "b"), stat="last", at_least=0.5),
    Claim(says="a stays at chance", metric="test_acc", runs=("a",), stat="max", at_most=0.6),  # it does not
)


def demo_group(tmp_path: Path, seeds: int = 1) -> GroupPreset:
    runs = [{"label": "a", "family": "demo"}, {"label": "b", "family": "demo", "seeds": seeds}]
    return scripted.demo_group(tmp_path, runs, CLAIMS)


def members(seed: int) -> list[MemberRun]:
    config = build_config(DEMO.config_cls, {"steps": 100})
    return [MemberRun("a", "demo", None, config, seed), MemberRun("b", "demo", None, config, seed)]


def new_audit(tmp_path: Path, blocks: int = 3) -> AuditRun:
    group = demo_group(tmp_path)
    manifest = new_manifest(group, blocks, 0, "default", {}, "cpu")
    return AuditRun(group, members, claim_run_dir(tmp_path / "audit"), manifest)


drive = scripted.conduct_to_end


def audit_json(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "audit" / AUDIT_MANIFEST).read_text())


def test_an_audit_counts_each_claim_over_its_blocks_with_a_failed_block_counted_apart(tmp_path):
    job = new_audit(tmp_path)
    assert audit_json(tmp_path)["status"] == "running"  # written before anything trains
    drive(job, Engines(by_seed={1: Script(end="fail", message="bad luck")}))  # block 2 (seed 1) fails
    manifest = audit_json(tmp_path)
    assert [b["status"] for b in manifest["blocks"]] == ["completed", "failed", "completed"]
    assert [b["dir"] for b in manifest["blocks"]] == ["block-01", "block-02", "block-03"]
    assert manifest["status"] == "failed" and job.status == RunStatus.FAILED
    learns, chance, group = manifest["claims"]
    assert (learns["reproduced"], learns["judged"], learns["incomplete"]) == (2, 2, 1)
    assert learns["interval"] == pytest.approx(list(wilson_interval(2, 2)))
    assert (chance["reproduced"], chance["not_reproduced"], chance["incomplete"]) == (0, 2, 1)
    assert chance["margin"]["max"] < 0 < learns["margin"]["min"]  # fails by some, holds with room
    assert (group["reproduced"], group["not_reproduced"], group["incomplete"]) == (0, 2, 1)
    for entry in manifest["blocks"]:  # every block an ordinary group record, as `gradfail run` writes one
        record = read_group(tmp_path / "audit" / entry["dir"])
        assert [label for label, _ in record.runs] == ["a", "b"]
        assert {run.manifest["seed"] for _, run in record.runs} == {entry["seed"]}
        assert record.manifest["verdict"] == entry["verdict"]
    # The report's reading judges every block again from its records; the scripted "demo" family is not one
    # the registry lists, so here it falls back on the verdicts audit.json kept (tests/cli judges real ones).
    again = read_audit(tmp_path / "audit")
    assert [t.as_dict() for t in again.tallies] == manifest["claims"]


def test_blocks_train_side_by_side_on_two_engines(tmp_path):
    engines = Engines(by_seed={seed: Script(end="hold") for seed in range(3)})
    conductor = Conductor(engines, engines=2).start()
    job = conductor.submit(new_audit(tmp_path))
    conductor.pump(0.05)
    going = [slot.batch for slot in conductor.slots]
    assert all(batch is not None and batch.job is job for batch in going)
    assert sorted(batch.block for batch in going) == [1, 2]  # two blocks at once, one engine each
    assert [b["status"] for b in audit_json(tmp_path)["blocks"]] == ["running", "running", "waiting"]
    conductor.shutdown()  # Ctrl-C: both blocks recorded interrupted, the third left for --resume
    manifest = audit_json(tmp_path)
    assert manifest["status"] == "interrupted"
    assert [b["status"] for b in manifest["blocks"]] == ["interrupted", "interrupted", "waiting"]
    group = json.loads((tmp_path / "audit" / "block-01" / "group.json").read_text())
    assert [r["status"] for r in group["runs"]] == ["interrupted", "not run"]
    assert all(not engine.alive() for engine in engines.made)


def test_blocks_finish_on_two_engines_each_its_members_in_order(tmp_path):
    job = new_audit(tmp_path, blocks=4)
    engines = Engines()
    drive(job, engines)
    manifest = audit_json(tmp_path)
    assert [b["status"] for b in manifest["blocks"]] == ["completed"] * 4
    assert manifest["claims"][0]["reproduced"] == 4
    used = [{cmd["seed"] for cmd in engine.sent if cmd["cmd"] == "start"} for engine in engines.made]
    assert len(engines.made) == 2 and all(used)  # both engines trained
    for entry in manifest["blocks"]:
        group = json.loads((tmp_path / "audit" / entry["dir"] / "group.json").read_text())
        assert [r["dir"] for r in group["runs"]] == ["01-a", "02-b"]


def test_resume_with_more_blocks_grows_the_audit_its_seeds_continuing_and_counts_every_block(tmp_path):
    drive(new_audit(tmp_path, blocks=2), Engines())
    before = {p: p.read_bytes() for p in (tmp_path / "audit").rglob("*") if p.is_file() and p.name != AUDIT_MANIFEST}
    group = demo_group(tmp_path)
    job = AuditRun.resume(tmp_path / "audit", lambda manifest: (group, members), blocks=4)
    assert job.pending == [3, 4]  # the two that ran are kept, not run again
    engines = Engines()
    drive(job, engines)
    started = sorted(cmd["seed"] for engine in engines.made for cmd in engine.sent if cmd["cmd"] == "start")
    assert started == [2, 2, 3, 3]  # blocks 3 and 4: seeds 2 and 3 (stride 1), each for runs a and b
    manifest = audit_json(tmp_path)
    assert [(b["block"], b["seed"], b["dir"]) for b in manifest["blocks"]] == [
        (1, 0, "block-01"), (2, 1, "block-02"), (3, 2, "block-03"), (4, 3, "block-04")
    ]  # fmt: skip
    assert manifest["claims"][0]["judged"] == 4 and manifest["status"] == "completed"
    assert all(path.read_bytes() == data for path, data in before.items())


@pytest.mark.parametrize(("blocks", "expected"), [(1, "the audit has 2 blocks already"), (2, None)])
def test_an_audit_never_shrinks(tmp_path, blocks, expected):
    drive(new_audit(tmp_path, blocks=2), Engines())
    group = demo_group(tmp_path)
    if expected is None:  # as many as it has: nothing to grow, nothing to run
        assert AuditRun.resume(tmp_path / "audit", lambda manifest: (group, members), blocks=blocks).pending == []
        return
    with pytest.raises(RecordError, match=expected):
        AuditRun.resume(tmp_path / "audit", lambda manifest: (group, members), blocks=blocks)
    assert len(audit_json(tmp_path)["blocks"]) == 2  # refused before audit.json was touched


def test_resume_runs_again_only_the_blocks_that_did_not_finish_and_keeps_every_record(tmp_path):
    drive(new_audit(tmp_path), Engines(by_seed={1: Script(end="fail")}))
    before = {p: p.read_bytes() for p in (tmp_path / "audit").rglob("*") if p.is_file() and p.name != AUDIT_MANIFEST}
    group = demo_group(tmp_path)
    job = AuditRun.resume(tmp_path / "audit", lambda manifest: (group, members))
    assert job.pending == [2]
    engines = Engines()
    drive(job, engines)
    started = [cmd["seed"] for engine in engines.made for cmd in engine.sent if cmd["cmd"] == "start"]
    assert started == [1, 1]  # block 2's two runs, nothing else
    manifest = audit_json(tmp_path)
    block = manifest["blocks"][1]
    assert block["dir"] == "block-02-r2" and block["attempts"] == [{"dir": "block-02", "status": "failed"}]
    assert [b["status"] for b in manifest["blocks"]] == ["completed"] * 3 and manifest["status"] == "completed"
    assert manifest["claims"][0]["reproduced"] == 3 and manifest["claims"][0]["incomplete"] == 0
    assert all(path.read_bytes() == data for path, data in before.items())  # the first attempt is kept as it was


def longer(seed: int) -> list[MemberRun]:
    """members, each run trained for 200 steps instead of 100: another setup."""
    config = build_config(DEMO.config_cls, {"steps": 200})
    return [MemberRun("a", "demo", None, config, seed), MemberRun("b", "demo", None, config, seed)]


@pytest.mark.parametrize("kept", [True, False], ids=["audit.json keeps it", "from the blocks' records"])
def test_resume_refuses_a_preset_changed_since_the_audit_began(tmp_path, kept):
    drive(new_audit(tmp_path, blocks=2), Engines())
    if not kept:  # an audit.json written before the setup was kept: it is read from the blocks' records
        manifest = audit_json(tmp_path)
        del manifest["setup"]
        (tmp_path / "audit" / AUDIT_MANIFEST).write_text(json.dumps(manifest))
    before = (tmp_path / "audit" / AUDIT_MANIFEST).read_bytes()
    group = demo_group(tmp_path)
    reworded = GroupPreset(**{**vars(group), "claims": (CLAIMS[0], Claim(**{**vars(CLAIMS[1]), "says": "a learns"}))})
    for changed, runs in ((group, longer), (reworded, members)):
        with pytest.raises(RecordError, match="has changed since this audit began"):
            AuditRun.resume(tmp_path / "audit", lambda manifest: (changed, runs), blocks=4)
    assert (tmp_path / "audit" / AUDIT_MANIFEST).read_bytes() == before  # refused before anything was touched
    job = AuditRun.resume(tmp_path / "audit", lambda manifest: (group, members), blocks=3)  # the same setup
    assert job.pending == [3] and audit_json(tmp_path)["setup"] == job.manifest["setup"]


def test_the_setup_is_read_from_the_blocks_that_ran_to_the_end(tmp_path):
    """A failed or interrupted block's record lacks the runs it never started: it says nothing of the setup."""
    from engine.audit_figures import block_setups

    drive(new_audit(tmp_path), Engines(by_seed={1: Script(end="fail")}))  # block 2 fails at its first run
    manifest = audit_json(tmp_path)
    assert [b["status"] for b in manifest["blocks"]] == ["completed", "failed", "completed"]
    assert block_setups(tmp_path / "audit", manifest["blocks"]) == {manifest["setup"]: [1, 3]}
