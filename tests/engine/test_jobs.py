"""How a job describes itself, and where the factory puts it: over scripted engines, no torch.

Every display (headless, explorer, talk, report) asks a job its kind, labels, statuses, progress,
verdict, summary and path instead of testing its class; these tests pin what each kind answers and
show that a kind the displays have never seen is still drawn.
"""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from engine.orchestration import Job, JobKind, RunBatch
from engine.orchestration.factory import Place, group_job, runs_job, seed_dir
from engine.orchestration.runs import LiveRun
from engine.record import RecordError, claim_run_dir, record_kind
from engine.status import RunStatus
from gradfail_tui.headless import END_PRINTERS, run_job
from tests.engine.test_orchestration import Engines, conductor, demo_group, demo_request, members
from tests.scripted import Script, ScriptedEngine, demo_families


def run_to_end(job: Job, script: Script | None = None) -> Job:
    c, _ = conductor(Engines(script or Script()))
    c.submit(job)
    c.run()
    c.close()
    return job


def test_one_run_describes_itself(tmp_path):
    job = runs_job([demo_request()], Place(tmp_path), label="my run")
    assert job.kind is JobKind.RUN and job.path.parent == tmp_path and job.path.name.endswith("-my-run")
    assert job.labels == ["my run"]
    assert job.statuses() == {"my run": RunStatus.WAITING}
    run_to_end(job)
    assert job.statuses() == {"my run": RunStatus.COMPLETED} and job.verdict is None
    assert job.progress() == job.summary() == f"completed: {job.lives[0].state.step:,} steps"
    assert record_kind(job.path) is JobKind.RUN


def test_seeds_are_laid_out_one_way_and_describe_themselves(tmp_path):
    requests = [demo_request(seed=s) for s in (3, 4)]
    job = runs_job(requests, Place(tmp_path), label="demo")
    assert job.kind is JobKind.SEEDS and job.path.parent == tmp_path and job.path.name.endswith("-demo-x2")
    assert [live.run_dir for live in job.lives] == [seed_dir(job.path, 3), seed_dir(job.path, 4)]
    assert job.labels == ["seed 3", "seed 4"] and job.name == "demo"
    run_to_end(job)
    assert job.progress() == "2 seeds: 2 completed"
    assert json.loads((job.path / "group.json").read_text())["kind"] == "seeds"
    assert record_kind(job.path) is JobKind.SEEDS


def test_a_group_describes_its_progress_statuses_and_verdict(tmp_path):
    job = group_job(demo_group(tmp_path), members(), "default", "cpu", Place(tmp_path))
    assert job.kind is JobKind.GROUP and job.name == "fig-demo" and job.plot == ("test_acc",)
    assert job.statuses() == dict.fromkeys(("a", "b", "c"), RunStatus.WAITING)
    batch = job.next_batch()
    assert job.position(batch) == "run 1 of 3: a" and job.progress() == "run 1 of 3: a"
    job.stopping = True
    batch.end_unfinished(RunStatus.STOPPED)
    job.batch_ended(batch)
    job.finish()
    assert job.statuses() == {"a": RunStatus.STOPPED, "b": RunStatus.NOT_RUN, "c": RunStatus.NOT_RUN}
    assert job.progress() == "stopped: 1 of 3 runs" and job.summary() == str(job.verdict.outcome)
    assert record_kind(job.path) is JobKind.GROUP


def test_place_out_is_claimed_exactly_and_a_prefix_names_the_rest(tmp_path):
    out = tmp_path / "exactly-here"
    assert runs_job([demo_request()], Place(tmp_path, out=out)).path == out
    talk = group_job(demo_group(tmp_path), members(), "default", "cpu", Place(tmp_path, prefix="talk-"))
    assert "-talk-fig-demo" in talk.path.name
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(RecordError):  # an --out that holds something else is refused, not written into
        runs_job([demo_request()], Place(tmp_path, out=tmp_path / "full"))


class CountingJob(Job):
    """A kind of job no display knows: it hands out one run and describes itself by the base protocol."""

    title = "a new kind of job"
    kind = JobKind.AUDIT  # stands for any kind the headless display has no printer of its own for

    def __init__(self, tmp_path):
        super().__init__()
        self.path = tmp_path / "new-kind"
        self.lives = [LiveRun(demo_request(), claim_run_dir(self.path / "only"), label="only")]
        self.handed = False

    def next_batch(self) -> RunBatch | None:
        if self.handed:
            return None
        self.handed = True
        return RunBatch(self.lives, job=self)

    @property
    def exhausted(self) -> bool:
        return self.handed and self.lives[0].ended


def test_a_kind_of_job_no_display_knows_is_still_shown_headless(tmp_path, monkeypatch):
    monkeypatch.setattr("gradfail_tui.headless.get_family", lambda name: demo_families()[name])  # the test's family
    monkeypatch.delitem(END_PRINTERS, JobKind.AUDIT, raising=False)
    job = CountingJob(tmp_path)
    console = Console(record=True, width=100, force_terminal=False)
    code = run_job(job, console, ScriptedEngine(demo_families(), Script()))
    text = console.export_text()
    assert code == 0 and "a new kind of job: 1 runs: 1 completed" in text
    assert f"record: {job.path}" in text
