"""How a run stands or ended, typed: one enum for every status a run record or a view can show.

A `RunStatus` is a `StrEnum`, so it is written to JSON and compared as the plain word it always was
("completed" == RunStatus.COMPLETED): records written before it existed read the same. The final
statuses carry a severity (how bad an ending is, for a group or a batch of seeds: its worst run
decides) and the exit code `gradfail run` returns for them; README.md lists the codes. Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class RunStatus(StrEnum):
    # Before and while it trains.
    WAITING = "waiting"  # asked for, the engine not ready yet (or a group's later run)
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    # How a run ends, mildest first (the order is the severity).
    COMPLETED = "completed"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    # What a record or a group can say of a run that has no proper ending.
    NOT_RUN = "not run"  # a group's run that never started
    CUT_SHORT = "cut short"  # events but no ending: the process that wrote it went away
    UNKNOWN = "unknown"  # no events and no ending
    UNREADABLE = "unreadable"

    @property
    def final(self) -> bool:
        return is_final(self)

    @property
    def severity(self) -> int:
        """0 for completed up to 4 for interrupted; -1 for a status that is not an ending."""
        return _SEVERITY.get(self, -1)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self, 1)

    @classmethod
    def parse(cls, value: object) -> RunStatus | None:
        """The status a record's string names, or None for a word this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return None


_SEVERITY = {
    status: rank
    for rank, status in enumerate(
        (RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.FAILED, RunStatus.INTERRUPTED)
    )
}
FINAL_STATUSES = frozenset(_SEVERITY)
# How a run ended that `--resume` keeps (a sweep's run, an audit's block): a divergence is a result, the
# same seed diverges again; any other ending runs again.
RESULTS = (RunStatus.COMPLETED, RunStatus.DIVERGED)

BAD_INPUT_EXIT = 2  # the run's config was refused: nothing was trained (and the CLI's own bad input)
EXIT_CODES = {
    RunStatus.COMPLETED: 0,
    RunStatus.STOPPED: 0,
    RunStatus.FAILED: 1,
    RunStatus.DIVERGED: 3,
    RunStatus.INTERRUPTED: 130,
}


class ErrorKind(StrEnum):
    """Why a run ended `failed` or `diverged` (RunFinished.error_kind; "" when it did not)."""

    CONFIG = "config"  # the engine refused the config: bad input, the user can fix it
    CRASH = "crash"  # an exception in the engine, or the engine process died
    OOM = "oom"  # out of memory
    NAN = "nan"  # a non-finite value: the run diverged


def is_final(status: object) -> bool:
    """Whether `status` (a RunStatus or a record's plain word) is how a run ended: the one test of it."""
    return status in FINAL_STATUSES


def worst_status(statuses: Iterable[object]) -> RunStatus:
    """How a group of runs ended: its worst run's ending; NOT_RUN when none of them ended."""
    ended = [RunStatus(s) for s in statuses if is_final(s)]
    return max(ended, key=lambda s: s.severity) if ended else RunStatus.NOT_RUN


def exit_code(endings: Iterable[tuple[object, str]]) -> int:
    """`gradfail run`'s exit code for runs that ended with these (status, error_kind) pairs.

    The worst ending decides, except that a config the engine refused (error_kind "config") is bad
    input, exit 2, unless a run was interrupted (130 says the user stopped it)."""
    endings = [(RunStatus(status), kind) for status, kind in endings if is_final(status)]
    if not endings:
        return 0
    worst = worst_status(status for status, _ in endings)
    if worst is not RunStatus.INTERRUPTED and any(s is RunStatus.FAILED and k == ErrorKind.CONFIG for s, k in endings):
        return BAD_INPUT_EXIT
    return worst.exit_code
