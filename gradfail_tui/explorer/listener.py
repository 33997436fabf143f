"""What the orchestration layer reports, turned into what the explorer shows.

The Conductor calls these on the UI thread (the app hands it the engines' items there): a run's
events mark the views that draw it stale, a run's end is notified, a group's next run joins the
model as it is handed to the engine (a sweep's runs only while they train: its phase diagram,
redrawn as they end, is what stays), a group's end shows its verdict (and a sweep's gives back its pool
of engines: engines.py), an engine's readiness and death go to the status line. Nothing here drives an
engine, except that a batch of a paused sweep is paused as it starts (its engine was still loading).
"""

from __future__ import annotations

from textual.markup import escape

from engine.client import EngineExited
from engine.events import EngineReady, Event, RunFinished, RunStarted, Snapshot, StatusChanged
from engine.orchestration import EngineSlot, Job, Listener, LiveRun, RunBatch
from engine.status import RunStatus
from gradfail_tui.explorer.entries import GroupEntry, RunEntry
from gradfail_tui.explorer.host import ExplorerHost, View
from gradfail_tui.explorer.pacing import plot_budget_for

VERDICT_SEVERITY = {"reproduced": "information", "not reproduced": "error"}  # else a warning


class ExplorerListener(Listener):
    def __init__(self, app: ExplorerHost):
        """`app`: the GradfailApp, as its helpers see it (host.py)."""
        self.app = app
        self.model = app.model

    def engine_ready(self, slot: EngineSlot, ready: EngineReady) -> None:
        devices = ", ".join(ready.devices) or "cpu"
        self.app.engine_text = f"engine ready · torch {escape(ready.torch_version)} · devices: {escape(devices)}"
        self.app.setup.set_devices(list(ready.devices))
        self.app.refresh_bindings()

    def engine_lost(self, slot: EngineSlot, exited: EngineExited, restarting: bool, died: list[LiveRun]) -> None:
        if self.app.conductor.closing:
            return
        if not died:  # a run that died with it has said so itself
            self.app.report(f"The engine process stopped: {exited.describe()}")
        why = escape(self.app.conductor.gave_up or "")
        self.app.engine_text = (
            "engine: restarting after it stopped…"
            if restarting
            else f"[$error]engine: {why}; restart gradfail-tui to try again[/]"
        )
        self.app.stale(View.STATUS, View.RUNS)

    def batch_started(self, batch: RunBatch) -> None:
        group = self._group_entry(batch.job)
        if group is not None and not group.seeds:  # seeds are all on screen from their start
            for live in batch.lives:
                self.model.add_group_run(group, live)
        self.app.stale(View.STATUS, View.PLOTS, View.RUNS)
        self.app.refresh_bindings()

    def run_event(self, live: LiveRun, event: Event) -> None:
        if live.run_id == self.model.primary or live.run_id in self.model.compared:
            self.app.stale(View.PLOTS, View.STATUS)
        if isinstance(event, Snapshot):  # for a group's figure of pictures at chosen steps (Figure 6)
            self.model.keep_picture(live.run_id, event)
        if isinstance(event, RunStarted):
            self._started(live, event)
        if isinstance(event, (RunStarted, StatusChanged)):
            self.app.stale(View.RUNS, View.STATUS)
            self.app.refresh_bindings()

    def _started(self, live: LiveRun, event: RunStarted) -> None:
        sweep = self.model.live_sweep
        if sweep is not None and sweep.paused and self.app.pool.first_of_batch(live.run_id):
            self.app.conductor.pause(live.run_id)  # its engine was still loading when p paused the others
        if self.app.adaptive_plot_budget:  # every engine of a sweep's pool trains on its share of the cores
            engines = len(self.app.conductor.slots)
            threads = event.cpu_threads * engines if event.cpu_threads else None
            self.app.pacer.budget = plot_budget_for(event.device, threads)

    def run_ended(self, live: LiveRun, finished: RunFinished) -> None:
        entry = self.model.entry(live.run_id)
        label = entry.label if entry is not None else live.label
        if self.app.conductor.closing:
            return
        sweep = self.model.group_of(entry) if entry is not None else None
        if sweep is not None and sweep.read_back:
            self._sweep_run_ended(sweep, entry, live, finished)
        elif finished.status == RunStatus.COMPLETED:
            self.app.notify(f"{label}: completed, {live.state.step:,} steps", timeout=5)
        elif finished.status == RunStatus.STOPPED:
            self.app.notify(f"{label}: {finished.message or 'stopped'}", timeout=5)
        else:
            self.app.report(
                f"{label}: {finished.status}: {finished.message or 'no reason given'} (record: {live.run_dir})",
                title=f"Run {finished.status}",
            )
        if live.record_error:
            self.app.report(f"{label}: the run record is incomplete: {live.record_error}")
        self.app.stale(View.STATUS, View.RUNS, View.PLOTS)
        self.app.refresh_bindings()
        self.app.run_ended(entry)

    def _sweep_run_ended(self, sweep: GroupEntry, entry: RunEntry, live: LiveRun, finished: RunFinished) -> None:
        """A sweep's run: its cell on the phase diagram says how it went, so only a failure is told."""
        if finished.status == RunStatus.FAILED:
            self.app.report(
                f"{live.label}: failed: {finished.message or 'no reason given'} (record: {live.run_dir})",
                title="Run failed",
            )
        self.model.sweep_run_ended(sweep, entry)

    def job_finished(self, job: Job) -> None:
        if self.app.conductor.closing:
            return  # shutdown() finishes the jobs on its own thread, and closes every engine itself
        self.app.job_ended(job)
        group = self._group_entry(job)
        if group is None:
            return
        verdict = job.verdict
        self.app.notify(
            f"{escape(group.title)}: {escape(job.summary())}",
            title="Verdict" if verdict is not None else job.kind.capitalize(),
            severity=VERDICT_SEVERITY.get(verdict.outcome, "warning") if verdict is not None else "information",
            timeout=8,
        )
        self.app.stale(View.STATUS, View.PLOTS, View.RUNS)
        self.app.refresh_bindings()
        if group.read_back:  # its runs left memory as they ended: the Runs tab lists them from its record
            self.app.runs_panel.scan()

    def problem(self, text: str) -> None:
        self.app.report(text)

    def _group_entry(self, job: Job | None) -> GroupEntry | None:
        return next((g for g in self.model.groups if g.job is job), None) if job is not None else None
