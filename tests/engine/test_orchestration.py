"""The orchestration layer on its own, over scripted engines: no Textual, no torch, no terminal.

Each test drives a Conductor the way `gradfail run` does (blocking `run()`, `shutdown()` on Ctrl-C)
and checks what a person would rely on: the records on disk, the states, how each run ended,
which engine ran what, and what the listener was told.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from engine.claims import Claim
from engine.client import EventQueue, RunRequest
from engine.config import build_config
from engine.groups import GroupPreset, MemberRun
from engine.orchestration import Conductor, GroupRun, Listener, RestartPolicy, RunsJob
from engine.record import claim_run_dir, read_group, read_run
from engine.status import RunStatus
from tests import scripted
from tests.scripted import DEMO, Engines, Script


def demo_request(steps: int = 200, seed: int = 0, **values) -> RunRequest:
    return RunRequest(
        family="demo", config=build_config(DEMO.config_cls, {"steps": steps, **values}), seed=seed, device="cpu"
    )


def single_job(tmp_path: Path, name: str = "run", **kwargs) -> RunsJob:
    return RunsJob.create([demo_request(**kwargs)], [claim_run_dir(tmp_path / name)])


class Heard(Listener):
    def __init__(self):
        self.lines: list[str] = []

    def engine_lost(self, slot, exited, restarting, died):
        self.lines.append(f"engine lost, restarting={restarting}")

    def run_ended(self, live, finished):
        self.lines.append(f"{live.label} {finished.status}")

    def job_finished(self, job):
        self.lines.append(f"job {job.title} {job.status}")

    def problem(self, text):
        self.lines.append(f"problem {text}")


def conductor(factory: Engines, **kwargs) -> tuple[Conductor, Heard]:
    heard = Heard()
    return Conductor(factory, heard, **kwargs).start(), heard


def test_a_run_is_recorded_and_folded_event_by_event(tmp_path):
    c, heard = conductor(Engines(Script()))
    job = c.submit(single_job(tmp_path))
    c.run()
    c.close()
    live = job.lives[0]
    record = read_run(tmp_path / "run")
    assert record.manifest["status"] == "completed" and live.state.status == RunStatus.COMPLETED
    assert len(record.events) == len(live.state.series["test_acc"]) + 2  # started, metrics..., finished
    assert live.state.step == 200 and record.manifest["steps_done"] == 200
    assert heard.lines == ["demo completed", "job demo completed"]
    assert c.jobs == []  # a finished job is the caller's alone: a long session keeps the conductor small


def test_a_batch_waits_for_its_engine_to_be_ready(tmp_path):
    engines = Engines(Script(), ready=False)
    c, _ = conductor(engines)
    job = c.submit(single_job(tmp_path))
    c.pump(0.05)
    assert job.lives[0].state.status == RunStatus.WAITING and engines.made[0].sent == []
    engines.made[0].announce()
    c.run()
    assert [cmd["cmd"] for cmd in engines.made[0].sent] == ["start"]
    assert job.status == RunStatus.COMPLETED


def test_an_engine_that_dies_fails_its_run_and_the_next_job_gets_a_fresh_one(tmp_path):
    engines = Engines(Script(end="die", message="boom"), Script())
    c, heard = conductor(engines)
    first = c.submit(single_job(tmp_path, "first"))
    second = c.submit(single_job(tmp_path, "second"))
    c.run()
    c.close()
    assert first.lives[0].finished.status == "failed" and first.lives[0].finished.error_kind == "crash"
    assert "boom" in first.lives[0].finished.message
    assert read_run(tmp_path / "first").manifest["status"] == "failed"
    assert second.status == RunStatus.COMPLETED and len(engines.made) == 2
    assert "engine lost, restarting=True" in heard.lines


def test_engines_that_keep_dying_are_given_up_and_nothing_waits_for_ever(tmp_path):
    engines = Engines(Script(end="die"))
    c, heard = conductor(engines, policy=RestartPolicy(max_deaths=2, window_s=60))
    jobs = [c.submit(single_job(tmp_path, f"r{i}")) for i in range(3)]
    c.run()
    assert [job.status for job in jobs] == ["failed"] * 3
    assert "not run: the engine died 2 times" in jobs[2].lives[0].finished.message
    assert heard.lines.count("engine lost, restarting=False") == 1 and len(engines.made) == 2
    assert c.gave_up


def test_jobs_spread_over_several_engines_at_once(tmp_path):
    engines = Engines(Script(end="hold"))
    c, _ = conductor(engines, engines=2)
    jobs = [c.submit(single_job(tmp_path, f"r{i}")) for i in range(3)]
    c.pump(0.05)
    assert [slot.batch.job for slot in c.slots] == jobs[:2]  # two train, the third waits for a free engine
    assert jobs[2].lives[0].state.status == RunStatus.WAITING
    c.stop(jobs[0].lives[0].run_id)
    c.pump(0.05)
    assert c.slots[0].batch.job is jobs[2]
    c.shutdown()
    assert [job.status for job in jobs] == ["stopped", "interrupted", "interrupted"]
    assert all(not engine.alive() for engine in engines.made)


def test_shutdown_records_the_runs_interrupted_with_every_event_kept(tmp_path):
    c, _ = conductor(Engines(Script(end="hold")))
    job = c.submit(single_job(tmp_path))
    c.pump(0.05)
    c.shutdown()
    record = read_run(tmp_path / "run")
    assert record.manifest["status"] == "interrupted" and record.manifest["steps_done"] == 100
    assert record.events[-1].status == "interrupted"
    assert job.status == RunStatus.INTERRUPTED


def test_stopping_a_run_the_engine_never_got_ends_it_at_once(tmp_path):
    c, _ = conductor(Engines(Script(), ready=False))
    job = c.submit(single_job(tmp_path))
    c.stop(job.lives[0].run_id)
    assert job.status == RunStatus.STOPPED
    assert read_run(tmp_path / "run").manifest["status"] == "stopped"


def demo_group(tmp_path: Path, labels=("a", "b", "c")) -> GroupPreset:
    claim = Claim(says="every run learns", metric="test_acc", runs=tuple(labels), stat="last", at_least=0.5)
    return scripted.demo_group(tmp_path, [{"label": label, "family": "demo"} for label in labels], [claim])


def members(labels=("a", "b", "c")) -> list[MemberRun]:
    return [MemberRun(label, "demo", None, build_config(DEMO.config_cls, {"steps": 100}), 0) for label in labels]


def test_a_group_runs_its_members_in_order_and_judges_them(tmp_path):
    scripts = iter([Script(), Script(end="fail", message="bad luck"), Script()])
    c, heard = conductor(Engines(lambda cmd: next(scripts)))
    group = c.submit(GroupRun(demo_group(tmp_path), members(), "default", "cpu", claim_run_dir(tmp_path / "g")))
    c.run()
    c.close()
    manifest = json.loads((tmp_path / "g" / "group.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["completed", "failed", "completed"]
    assert [r["dir"] for r in manifest["runs"]] == ["01-a", "02-b", "03-c"]
    assert manifest["status"] == "failed" and manifest["verdict"]["outcome"] == "incomplete"
    assert group.verdict.outcome == "incomplete" and "b failed" in group.verdict.results[0].detail
    assert heard.lines == ["a completed", "b failed", "c completed", "job Demo figure failed"]
    assert [label for label, _ in read_group(tmp_path / "g").runs] == ["a", "b", "c"]


def test_a_stopped_group_marks_the_rest_not_run(tmp_path):
    c, _ = conductor(Engines(Script(end="hold")))
    group = c.submit(GroupRun(demo_group(tmp_path), members(), "default", "cpu", claim_run_dir(tmp_path / "g")))
    c.pump(0.05)
    c.stop_job(group)
    c.run()
    manifest = json.loads((tmp_path / "g" / "group.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["stopped", "not run", "not run"]
    assert manifest["status"] == "stopped" and group.status_of("b") == "not run"
    c.close()


class Gone(Heard):
    """A display whose terminal went away: every write fails, as it does on a closed pty."""

    def run_event(self, live, event):
        raise OSError(5, "Input/output error")


def test_a_display_that_cannot_write_any_more_never_stops_the_recording(tmp_path):
    c, _ = conductor(Engines(Script(end="hold")))
    c.listener = Gone()
    job = c.submit(single_job(tmp_path))
    c.pump(0.05)  # the engine says it is ready: the run starts
    c.pump(0.05)  # its events, which the display can no longer show
    assert c.display_lost is not None and job.lives[0].state.step == 100  # folded all the same
    c.shutdown()
    record = read_run(tmp_path / "run")
    assert record.manifest["status"] == "interrupted" and record.events[-1].status == "interrupted"
    assert len(record.events) == len(job.lives[0].state.series["test_acc"]) + 2


def seeds_job(tmp_path: Path, seeds: int, together: bool) -> RunsJob:
    requests = [demo_request(seed=seed) for seed in range(seeds)]
    dirs = [claim_run_dir(tmp_path / "seeds" / f"seed-{r.seed}") for r in requests]
    return RunsJob.create(requests, dirs, group_dir=tmp_path / "seeds", together=together)


def test_seeds_that_cannot_train_together_go_one_after_another_into_one_seeds_record(tmp_path):
    engines = Engines(Script())
    c, heard = conductor(engines)
    job = c.submit(seeds_job(tmp_path, 3, together=False))
    c.run()
    c.close()
    starts = [cmd for cmd in engines.made[0].sent if cmd["cmd"] == "start"]
    assert [cmd["seed"] for cmd in starts] == [0, 1, 2] and not any("seeds" in cmd for cmd in starts)
    assert job.status == RunStatus.COMPLETED
    record = read_group(tmp_path / "seeds")
    assert record.manifest["kind"] == "seeds" and record.manifest["status"] == "completed"
    assert [run.status for _, run in record.runs] == ["completed"] * 3


def test_stopping_seeds_one_after_another_stops_the_rest_before_they_start(tmp_path):
    engines = Engines(Script(end="hold"))
    c, _ = conductor(engines)
    job = c.submit(seeds_job(tmp_path, 3, together=False))
    c.pump(0.05)
    c.stop_job(job)
    c.run()
    c.close()
    assert [live.state.status for live in job.lives] == ["stopped"] * 3
    assert len([cmd for cmd in engines.made[0].sent if cmd["cmd"] == "start"]) == 1  # the others never started
    assert read_group(tmp_path / "seeds").manifest["status"] == "stopped"


def test_a_change_is_checked_then_sent_and_a_refused_one_sends_nothing(tmp_path):
    engines = Engines(Script(end="hold", hold_at=100))
    c, _ = conductor(engines)
    job = c.submit(single_job(tmp_path))
    c.pump(0.05)
    run_id = job.lives[0].run_id
    assert (
        c.change(run_id, "width", "16", DEMO)
        == "width: cannot change during a run of the demo family; it can change eval_every, lr"
    )
    assert c.change(run_id, "lr", "0", DEMO) == "lr: got 0, expected a number > 0"
    assert c.change(run_id, "lr", "0.02", DEMO) is None
    assert c.change("nosuchrun", "lr", "0.02", DEMO) == "the run is not training"
    c.pump(0.05)
    assert [(cmd["key"], cmd["value"]) for cmd in engines.made[0].sent if cmd["cmd"] == "change"] == [("lr", 0.02)]
    assert job.lives[0].state.current_config()["lr"] == 0.02
    c.stop(run_id)
    c.run()
    c.close()
    assert [e.TYPE for e in read_run(tmp_path / "run").events].count("setting_changed") == 1


class WatchedQueue(EventQueue):
    """An engine's queue that says when the conductor has handed it the waker of its one wait on every engine."""

    def __init__(self):
        super().__init__()
        self.watched = threading.Event()
        self._waker = None

    @property
    def waker(self):
        return self._waker

    @waker.setter
    def waker(self, event):
        self._waker = event
        self.watched.set()


def test_poll_hears_whichever_engine_speaks_without_waiting_on_the_others(tmp_path):
    # Both engines quiet; the second then finishes something. poll() must return it at once, not
    # after a wait on the first engine's queue has timed out (that left the second engine idle).
    c, _ = conductor(Engines(Script()), engines=2)
    while c.poll(0.01):  # their EngineReady
        pass
    second = c.slots[1].engine
    second.events = WatchedQueue()

    def speak_while_poll_waits():  # only once poll waits on every engine at once: else it is never heard
        if second.events.watched.wait(30):
            second.announce()

    threading.Thread(target=speak_while_poll_waits, daemon=True).start()
    items = c.poll(timeout=30.0)  # a poll waiting on the first engine first would time out empty-handed
    assert [slot.index for slot, _ in items] == [1]
    c.close()
