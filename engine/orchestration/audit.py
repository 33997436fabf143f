"""An audit running: a group preset's N seed blocks as N `GroupRun`s trained side by side, audit.json kept as they end.

`AuditRun` is one job for the conductor, made of `GroupRun`s (group.py), one per seed block, each in
its own directory (block-01/, ...) written exactly as `gradfail run --preset fig-x --seed S` writes
one. A group trains its members one after another, so one block keeps one engine busy; to fill N
engines the audit hands out the next batch of any block that has none in flight, finishing the
blocks already started before it starts another (so an interrupted audit leaves few blocks half
done). Several blocks' batches are in flight at once: each goes out wrapped as the audit's own
(`AuditBatch`, its job the audit, as PaperRun re-tags its groups' batches) and carrying its block and
group, so that `batch_ended` reaches the right one. A block whose group has ended is judged (GroupRun.finish) and its verdict, with each
claim's margin, goes into audit.json with the tallies of every block so far (engine/audit.py).

audit.json is written atomically when the audit starts and whenever a block starts or ends. A block
that does not end `completed` (or `diverged`: a result, which the same seed repeats) is run again by
`--resume` in a new directory (block-01-r2/), the first kept and listed under its `attempts`; the
blocks never started wait in audit.json as `waiting`. audit.json keeps the setup audited (its claims and
its runs' settings: groups.setup_of), and `--resume` refuses a preset changed since, whose blocks would
measure another setup under the same k of N. Torch-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.audit import (
    AUDIT_MANIFEST,
    CONFIDENCE,
    block_dir,
    block_seed,
    block_verdict,
    read_audit_manifest,
    seed_stride,
    tally,
)
from engine.audit_figures import block_setups
from engine.groups import GroupPreset, MemberRun, members_setup
from engine.orchestration.group import GroupRun
from engine.orchestration.jobs import RESULTS, Job, RunBatch, count_endings, counts_line
from engine.record import (
    SCHEMA_VERSION,
    JobKind,
    RecordError,
    claim_run_dir,
    now_iso,
    write_json_atomically,
)
from engine.state import RunState
from engine.status import RunStatus, worst_status

# What makes a block's runs: (its --seed) -> the group's members (GroupPreset.members with the audit's
# scale and overrides). The caller builds it, so bad input is refused before anything is written.
Members = Callable[[int], list[MemberRun]]


def new_manifest(
    group: GroupPreset, blocks: int, first_seed: int, scale: str, overrides: dict[str, str], device: str
) -> dict[str, Any]:
    stride = seed_stride(group, scale)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": JobKind.AUDIT,
        "preset": group.name,
        "source": str(group.path.resolve()),  # the preset's file, for --resume of a preset given as a path
        "title": group.title,
        "scale": scale,
        "device": device,
        "overrides": dict(overrides),
        "first_seed": first_seed,
        "seed_stride": stride,
        "confidence": CONFIDENCE,
        "status": RunStatus.RUNNING.value,
        "started_at": now_iso(),
        "ended_at": None,
        "wall_s": 0.0,
        "claims_said": [claim.says for claim in group.claims],
        "blocks": [waiting_block(number, first_seed, stride) for number in range(1, blocks + 1)],
        "claims": [],
    }


def waiting_block(number: int, first_seed: int, stride: int) -> dict[str, Any]:
    """audit.json's entry for block `number`, not yet started."""
    seed = block_seed(first_seed, number, stride)
    return {"block": number, "seed": seed, "dir": None, "status": RunStatus.WAITING.value, "verdict": None}


def grow(manifest: dict[str, Any], blocks: int) -> None:
    """Add waiting blocks to an audit read back until it has `blocks`, their seeds continuing its
    blocks' (so a long audit can be run in pieces: --resume DIR --blocks 10). RecordError if it has
    more already, or its audit.json lacks the seeds to continue from."""
    have = len(manifest["blocks"])
    if blocks < have:
        raise RecordError(f"--blocks {blocks}: the audit has {have} blocks already; an audit only grows")
    first_seed, stride = manifest.get("first_seed"), manifest.get("seed_stride")
    if not isinstance(first_seed, int) or not isinstance(stride, int) or stride < 1:
        raise RecordError("audit.json has no first_seed and seed_stride to continue the blocks' seeds from")
    manifest["blocks"] += [waiting_block(number, first_seed, stride) for number in range(have + 1, blocks + 1)]


class AuditBatch(RunBatch):
    """A block's batch as the audit hands it out: the conductor reports to the audit, which passes it
    on to `group` (the block's); the engine's share of the cores goes with it, as a sweep's does."""

    def __init__(self, inner: RunBatch, block: int, group: GroupRun, job: AuditRun):
        super().__init__(inner.lives, job=job)
        self.inner = inner
        self.block = block
        self.group = group
        self.threads = job.threads

    def command(self) -> dict[str, Any]:
        command = self.inner.command()
        if self.threads:
            command["threads"] = self.threads
        return command


class AuditRun(Job):
    kind = JobKind.AUDIT

    def __init__(
        self,
        group: GroupPreset,
        members: Members,
        path: Path,
        manifest: dict[str, Any],
    ) -> None:
        """An audit in `path` from its `manifest` (new_manifest, or audit.json read back to resume);
        writes audit.json at once (RecordError if it cannot)."""
        super().__init__()
        self.preset = group
        self.members = members
        self.path = path
        self.title = f"audit of {group.name}"
        self.name = group.name
        self.manifest = manifest
        self.scale = manifest["scale"]
        self.device = manifest["device"]
        self.manifest.update(status=RunStatus.RUNNING.value, ended_at=None)
        self.manifest.setdefault("setup", members_setup(group, members(manifest["first_seed"])))
        self.pending = [entry["block"] for entry in self.blocks if entry["status"] not in RESULTS]
        self.to_run = len(self.pending)  # blocks this session runs
        self.groups: dict[int, GroupRun] = {}  # the blocks started and not yet closed, by number
        self.in_flight: dict[int, AuditBatch] = {}  # id(batch) -> batch, with its block and group
        self.threads = 0  # each engine's share of the cores (set by the caller, which knows how many engines); 0: the engine's choice
        self.started = time.monotonic()
        self.wall_s = 0.0
        self.wall_before = float(manifest.get("wall_s") or 0.0)  # earlier sessions of a resumed audit
        self._tally()
        self._write()

    @classmethod
    def resume(
        cls, path: Path, load: Callable[[dict[str, Any]], tuple[GroupPreset, Members]], blocks: int | None = None
    ) -> AuditRun:
        """The audit recorded in `path`, to run the blocks that did not end completed or diverged, and
        grown to `blocks` if given (grow). `load(manifest)` gives its group and members again (the caller
        reads the preset). RecordError if audit.json cannot be read, or cannot grow so."""
        manifest = read_audit_manifest(path)
        if blocks is not None:
            grow(manifest, blocks)
        group, members = load(manifest)
        # an audit.json of before it kept its setup: the first setup its blocks' records measured
        audited = manifest.get("setup") or next(iter(block_setups(path, manifest["blocks"])), "")
        if audited and audited != members_setup(group, members(manifest["first_seed"])):
            raise RecordError(
                f"{group.name} has changed since this audit began (its claims or its runs' settings at --scale "
                f"{manifest['scale']}): more blocks would measure another setup; start a new audit (--out DIR)"
            )
        if audited:
            manifest["setup"] = audited
        return cls(group, members, path, manifest)

    # -- what a display reads ----------------------------------------------------------------------
    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.manifest["blocks"]

    def counts(self) -> dict[str, int]:
        """Blocks done (ran to a result), stopped, failed, running, waiting (jobs.count_endings)."""
        return count_endings(entry["status"] for entry in self.blocks)

    @property
    def labels(self) -> list[str]:
        return [f"block {entry['block']}" for entry in self.blocks]

    def statuses(self) -> dict[str, RunStatus]:
        """Each block's status (a block is a group: its worst run's ending)."""
        return {f"block {e['block']}": RunStatus.parse(e["status"]) or RunStatus.UNKNOWN for e in self.blocks}

    def progress(self) -> str:
        counts = self.counts()
        return f"{self.status or RunStatus.RUNNING}: {counts_line(counts, len(self.blocks), 'blocks')}"

    def position(self, batch: RunBatch) -> str:
        return f"block {batch.block}: {batch.group.progress()}" if isinstance(batch, AuditBatch) else ""

    def summary(self) -> str:
        """How often the whole group came out reproduced, k of the blocks judged."""
        whole = self.manifest["claims"][-1] if self.manifest.get("claims") else None
        if not whole or not whole.get("judged"):
            return self.progress()
        return f"the group reproduced in {whole['reproduced']} of {whole['judged']} blocks"

    def states(self) -> dict[str, RunState]:
        """The runs of the blocks going, labelled by block ("block 2: d = 10")."""
        return {
            f"block {number}: {label}": state
            for number, group in self.groups.items()
            for label, state in group.states().items()
        }

    # -- the job protocol --------------------------------------------------------------------------
    def next_batch(self) -> RunBatch | None:
        if self.stopping:
            return None
        for number, group in sorted(self.groups.items()):  # the blocks going first: finish what is started
            if group.in_flight is None:
                batch = group.next_batch()
                if batch is not None:
                    return self._hand_out(number, group, batch)
        while self.pending:  # else start the next block (one whose group hands out nothing ends at once)
            number = self.pending.pop(0)
            group = self._start(number)
            batch = group.next_batch()
            if batch is not None:
                return self._hand_out(number, group, batch)
            self._close(number)
        return None

    def batch_ended(self, batch: RunBatch) -> None:
        if not isinstance(batch, AuditBatch):  # every batch of this job is one (_hand_out)
            return
        self.in_flight.pop(id(batch), None)
        batch.group.batch_ended(batch.inner)
        if batch.group.exhausted and not self.stopping:  # a stop closes them in finish(), with its status
            self._close(batch.block)

    @property
    def exhausted(self) -> bool:
        if self.in_flight:
            return False
        return self.stopping or (not self.pending and all(group.exhausted for group in self.groups.values()))

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        """Close the blocks going (with `status` when stopped or interrupted: their members not started
        are "not run"), leave those never started `waiting` for --resume, and write the tallies."""
        for batch in list(self.in_flight.values()):  # the conductor ends every batch first; never leave one open
            batch.end_unfinished(status or RunStatus.STOPPED, message)
            self.batch_ended(batch)
        for number, group in list(self.groups.items()):
            group.stopping = group.stopping or self.stopping
            self._close(number, status)
        ended = [entry["status"] for entry in self.blocks if RunStatus.parse(entry["status"]) is not None]
        self.status = status or (RunStatus.STOPPED if self.stopping else worst_status(ended))
        self.wall_s = time.monotonic() - self.started
        self.manifest.update(
            status=self.status.value, ended_at=now_iso(), wall_s=round(self.wall_before + self.wall_s, 1)
        )
        self._tally()
        self._write()

    # -- the blocks --------------------------------------------------------------------------------
    def _start(self, number: int) -> GroupRun:
        """The block's group in a new directory (a block run before keeps its own, listed in attempts)."""
        entry = self.blocks[number - 1]
        attempt = len(entry.get("attempts", [])) + (2 if entry.get("dir") else 1)
        while (self.path / block_dir(number, attempt)).exists():  # one audit.json had not recorded
            attempt += 1
        if entry.get("dir"):
            entry["attempts"] = [*entry.get("attempts", []), {"dir": entry["dir"], "status": entry["status"]}]
        where = claim_run_dir(self.path / block_dir(number, attempt))
        group = GroupRun(self.preset, self.members(entry["seed"]), self.scale, self.device, where)
        self.groups[number] = group
        entry.update(dir=where.name, status=RunStatus.RUNNING.value, verdict=None)
        self._write()
        return group

    def _hand_out(self, number: int, group: GroupRun, inner: RunBatch) -> RunBatch:
        batch = AuditBatch(inner, number, group, self)  # the conductor reports back to the audit
        self.in_flight[id(batch)] = batch
        self.lives += batch.lives
        return batch

    def _close(self, number: int, status: RunStatus | None = None) -> None:
        """Judge the block (its group's finish) and record its ending and verdict."""
        group = self.groups.pop(number)
        if not group.finished:
            try:
                group.finish(status)
            except RecordError:
                pass  # its runs keep their own records; audit.json still says how the block ended
        entry = self.blocks[number - 1]
        entry.update(
            status=str(group.status or RunStatus.NOT_RUN),
            verdict=group.verdict.as_dict() if group.verdict is not None else None,
            wall_s=round(group.wall_s, 1),
        )
        self._tally()
        self._write()

    # -- the record --------------------------------------------------------------------------------
    def _tally(self) -> None:
        """Each claim's tally over the blocks that have ended with a verdict (engine/audit.py): a block
        that failed or was interrupted counts too, its claims on the runs that did not complete
        "incomplete"; a block run again counts once, by its latest attempt."""
        verdicts = [block_verdict(entry) for entry in self.blocks]
        said = self.manifest.get("claims_said") or [claim.says for claim in self.preset.claims]
        self.manifest["claims"] = [t.as_dict() for t in tally(said, verdicts)]

    def _write(self) -> None:
        try:
            write_json_atomically(self.path / AUDIT_MANIFEST, self.manifest)
        except OSError as exc:
            raise RecordError(f"cannot write {self.path / AUDIT_MANIFEST}: {exc.strerror or exc}") from None
