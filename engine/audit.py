"""An audit: a group preset run over N seed blocks, and how often each claim came out reproduced.

`gradfail audit fig-parity --blocks 10` runs the group ten times, block b (from 0) with `--seed`
first_seed + b * stride, where the stride is the most seeds any of its runs trains (`seeds = N`), so
no two blocks share a seed. Each block is an ordinary group directory (block-01/, ...); audit.json
beside them keeps every block's verdict (each claim's outcome and margin) and, per claim, the tally:
k reproduced of the n blocks that judged it (incomplete ones counted apart, not as failures), the
95% Wilson interval of k/n and the spread of the margin (claims.Margin: positive holds with room).
This module is the torch-free part: the plan (seeds, directories), the tallies, and reading an audit
directory back for the report. engine/orchestration/audit.py runs it; docs/audit.md tells the format.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.claims import NEEDS, Outcome
from engine.groups import GroupError, GroupPreset, judge_record, run_seeds
from engine.record import AUDIT_MANIFEST, JobKind, RecordError, read_group, read_json_object
from engine.stats import wilson_interval

CONFIDENCE = 0.95
MAX_BLOCKS = 1000
GROUP_CLAIM = "the whole group (every claim reproduced)"  # the tally of the group's verdict


def seed_stride(group: GroupPreset, scale: str) -> int:
    """How far apart two blocks' seeds are: the most seeds one of the group's runs trains at `scale`
    (a run of `seeds = 4` uses seed .. seed + 3), so that no seed is in two blocks."""
    return max(run_seeds(run, scale) for run in group.runs)


def block_seed(first_seed: int, block: int, stride: int) -> int:
    """The `--seed` of block `block` (1-based, as the directories are numbered)."""
    return first_seed + (block - 1) * stride


def block_dir(block: int, attempt: int = 1) -> str:
    """block-01, block-02 ...; a block run again by --resume goes in block-01-r2, keeping the first."""
    return f"block-{block:02d}" + (f"-r{attempt}" if attempt > 1 else "")


# ---- tallies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimTally:
    """One claim over the blocks: how many reproduced it, did not, or could not judge it."""

    says: str
    reproduced: int = 0
    not_reproduced: int = 0
    incomplete: int = 0  # a block whose runs did not complete, or gave only bounds: not a failure
    margins: tuple[float, ...] = ()  # the judged blocks' gaps (claims.Margin.gap), in block order
    log: bool = False  # the gaps are in decades (log10 ratios)
    needs_scale: int = 0  # a block judged at a scale too small for the claim (claims.Outcome.NEEDS_*): apart too
    needs: str = ""  # the words of the largest scale those blocks needed ("needs --scale cpu")
    not_claimed: int = 0  # a block at a scale where the claim is not made at all (Outcome.NOT_CLAIMED)
    seeds: tuple[tuple[str, int, int], ...] = ()  # a count claim's seeds pooled over the judged blocks: (run, k, n)

    @property
    def judged(self) -> int:
        return self.reproduced + self.not_reproduced

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the rate of reproducing it; None before any block judged it."""
        return wilson_interval(self.reproduced, self.judged, CONFIDENCE) if self.judged else None

    @property
    def spread(self) -> tuple[float, float, float] | None:
        """The margin's min, median and max over the judged blocks."""
        if not self.margins:
            return None
        return min(self.margins), statistics.median(self.margins), max(self.margins)

    def as_dict(self) -> dict[str, Any]:
        interval, spread = self.interval, self.spread
        return {
            "says": self.says,
            "reproduced": self.reproduced,
            "not_reproduced": self.not_reproduced,
            "incomplete": self.incomplete,
            "needs_scale": self.needs_scale,
            "not_claimed": self.not_claimed,
            "judged": self.judged,
            "rate": self.reproduced / self.judged if self.judged else None,
            "interval": list(interval) if interval else None,
            "confidence": CONFIDENCE,
            "margin": None
            if spread is None
            else {"min": spread[0], "median": spread[1], "max": spread[2], "unit": "decades" if self.log else "units"},
        } | (
            {
                "seeds": {
                    label: {"counted": k, "of": n, "rate": k / n, "interval": list(wilson_interval(k, n, CONFIDENCE))}
                    for label, k, n in self.seeds
                }
            }
            if self.seeds
            else {}
        )


def tally(says: list[str], verdicts: list[dict[str, Any] | None]) -> list[ClaimTally]:
    """Per claim (in the order of `says`), the tally over the blocks' verdicts (`Verdict.as_dict()`,
    as group.json and audit.json keep them; None for a block with no verdict yet), then the group's
    own verdict as a last line (GROUP_CLAIM). A claim is matched by its position in the group."""
    counts = [_Counts() for _ in says]
    group = _Counts()
    for verdict in verdicts:
        if not isinstance(verdict, dict):
            continue
        group.add(verdict.get("outcome"), None, None)
        claims = verdict.get("claims") or []
        for number, count in enumerate(counts):
            entry = claims[number] if number < len(claims) and isinstance(claims[number], dict) else {}
            count.add(entry.get("outcome", Outcome.INCOMPLETE), entry.get("margin"), entry.get("seeds"))
    return [count.tally(text) for text, count in zip(says, counts, strict=True)] + [group.tally(GROUP_CLAIM)]


class _Counts:
    def __init__(self) -> None:
        self.outcomes = {outcome: 0 for outcome in Outcome}
        self.margins: list[float] = []
        self.log = False
        self.seeds: dict[str, list[int]] = {}  # run -> [k counted, of n], summed over the judged blocks

    def add(self, outcome: Any, margin: Any, seeds: Any) -> None:
        parsed = Outcome(outcome) if outcome in set(Outcome) else Outcome.INCOMPLETE
        self.outcomes[parsed] += 1
        if parsed not in (Outcome.REPRODUCED, Outcome.NOT_REPRODUCED):
            return
        if isinstance(margin, dict) and isinstance(margin.get("gap"), int | float):
            self.margins.append(float(margin["gap"]))
            self.log = bool(margin.get("log"))
        for label, counted in (seeds if isinstance(seeds, dict) else {}).items():
            if isinstance(counted, list) and len(counted) == 2 and all(isinstance(x, int) for x in counted):
                pooled = self.seeds.setdefault(str(label), [0, 0])
                pooled[0], pooled[1] = pooled[0] + counted[0], pooled[1] + counted[1]

    def tally(self, says: str) -> ClaimTally:
        needed = [outcome for outcome in NEEDS if self.outcomes[outcome]]
        return ClaimTally(
            says,
            self.outcomes[Outcome.REPRODUCED],
            self.outcomes[Outcome.NOT_REPRODUCED],
            self.outcomes[Outcome.INCOMPLETE],
            tuple(self.margins),
            self.log,
            sum(self.outcomes[outcome] for outcome in NEEDS),
            str(needed[-1]) if needed else "",
            self.outcomes[Outcome.NOT_CLAIMED],
            tuple((label, k, n) for label, (k, n) in self.seeds.items() if n > 0),
        )


def block_verdict(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The verdict audit.json keeps for a block entry, if the block has ended with one."""
    verdict = entry.get("verdict")
    return verdict if isinstance(verdict, dict) else None


# ---- reading an audit directory ----------------------------------------------------------------


def read_audit_manifest(path: Path, otherwise: str = "it cannot be resumed") -> dict[str, Any]:
    """audit.json of `path`; RecordError naming what is wrong with it."""
    problems: list[str] = []
    manifest = read_json_object(path / AUDIT_MANIFEST, problems, otherwise)
    if problems:
        raise RecordError(problems[0])
    if manifest.get("kind") != JobKind.AUDIT or not isinstance(manifest.get("blocks"), list):
        raise RecordError(f"{path / AUDIT_MANIFEST}: not an audit record (no kind = audit, no blocks)")
    return manifest


@dataclass
class RecordedAudit:
    """An audit directory read back: audit.json, and each block's verdict judged again on its records."""

    path: Path
    manifest: dict[str, Any]
    verdicts: list[dict[str, Any] | None]  # per block, in order; None where it has no group record to judge
    problems: list[str]

    @property
    def tallies(self) -> list[ClaimTally]:
        return tally(list(self.manifest.get("claims_said") or []), self.verdicts)


def read_audit(path: Path) -> RecordedAudit:
    """`path`'s audit, every block judged again from its group directory (as `gradfail report` judges
    a group), else as audit.json recorded it. RecordError if audit.json cannot be read."""
    manifest = read_audit_manifest(path, "it cannot be reported")
    verdicts: list[dict[str, Any] | None] = []
    problems: list[str] = []
    for entry in manifest["blocks"]:
        recorded = block_verdict(entry) if isinstance(entry, dict) else None
        where = entry.get("dir") if isinstance(entry, dict) else None
        if not where or not (path / str(where) / "group.json").is_file():
            verdicts.append(recorded)
            continue
        try:
            verdicts.append(judge_record(read_group(path / str(where))).as_dict())
        except GroupError as exc:
            problems.append(f"{where}: {exc}")
            verdicts.append(recorded)
    return RecordedAudit(path, manifest, verdicts, problems)


def pooled_rows(tallies: list[ClaimTally]) -> list[tuple[str, str, str, str]]:
    """The count claims' seeds pooled over the blocks (how likely a seed is to show the phenomenon, not a
    block): (the claim, its run, "2 of 16", the rate and its 95% Wilson interval), a row per claim and run."""
    rows = []
    for t in tallies:
        for label, k, n in t.seeds:
            low, high = wilson_interval(k, n, CONFIDENCE)
            rows.append((t.says, label, f"{k} of {n}", f"{k / n:.0%} ({low:.0%} to {high:.0%})"))
    return rows


def tally_cells(t: ClaimTally) -> tuple[str, str, str, str]:
    """A tally as the audit's table shows it: (k/n, the interval, incomplete, the margin's min / median / max).
    Blocks judged at a scale too small for the claim join the incomplete column as "N needs --scale X", and
    blocks at a scale where it is not made as "N not claimed"."""
    interval = t.interval
    spread = t.spread
    unit = " dec" if t.log else ""
    return (
        f"{t.reproduced}/{t.judged}",
        "-" if interval is None else f"{interval[0]:.0%} to {interval[1]:.0%}",
        ", ".join(
            ([str(t.incomplete)] if t.incomplete else [])
            + ([f"{t.needs_scale} {t.needs}"] if t.needs_scale else [])
            + ([f"{t.not_claimed} not claimed"] if t.not_claimed else [])
        )
        or "-",
        "-" if spread is None else " / ".join(f"{x + 0.0:+.3g}" for x in spread) + unit,  # + 0.0: no "-0"
    )
