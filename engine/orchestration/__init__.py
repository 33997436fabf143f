"""The orchestration layer: everything that drives runs, torch-free.

`gradfail run` (one run, seeds, a group preset) and the explorer both go through it; neither
speaks the engine's protocol itself. The path of a run:

    a job (RunsJob, GroupRun) -> the Conductor hands its batches to free engine slots
    -> the engine process trains and sends events -> Conductor.handle -> LiveRun.apply
       (the run record first, then the RunState) -> the Listener (a display) draws

docs/architecture.md tells the whole story.
"""

from engine.orchestration.conductor import STOP_GRACE_S, Conductor, EngineSlot, Listener, RestartPolicy
from engine.orchestration.group import GroupRun, group_manifest
from engine.orchestration.jobs import Job, JobKind, RunBatch, RunsJob
from engine.orchestration.runs import LiveRun

__all__ = [
    "STOP_GRACE_S",
    "Conductor",
    "EngineSlot",
    "GroupRun",
    "Job",
    "JobKind",
    "Listener",
    "LiveRun",
    "RestartPolicy",
    "RunBatch",
    "RunsJob",
    "group_manifest",
]
