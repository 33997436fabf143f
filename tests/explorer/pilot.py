"""What the explorer's tests share: an app over scripted engines, and the ways to drive it through Pilot.

The scripted engine (tests/scripted.py) speaks EngineProcess's interface and replays a fixed script,
so a test sees exactly what a person would see from a real run, fast.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path

from textual.widgets import Input

from engine.events import Metrics, RunFinished, RunStarted, Snapshot
from engine.record import RunRecorder
from gradfail_tui.explorer.app import GradfailApp, build_app
from gradfail_tui.explorer.widgets.metric_plot import MetricPlot
from tests.scripted import Engines, Script, demo_families, demo_presets

SIZE = (120, 36)
ENGINE_READY_S = 60  # the worker imports torch: seconds on a busy 2-core machine


def sync(test):
    """Run an async test on a fresh event loop (no pytest async plugin is installed)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


def make_app(tmp_path: Path, *scripts: Script, families=None, presets=None, **kwargs) -> tuple[GradfailApp, Engines]:
    families = families or demo_families()
    engines = Engines(*scripts, families=families, ready=kwargs.pop("ready", True))  # the app makes one after a death
    kwargs.setdefault("plot_budget", 1.0)  # plots redrawn at once, whatever they cost
    app = build_app(
        engines,
        families=families,
        presets=demo_presets() if presets is None else presets,
        runs_dir=tmp_path / "runs",
        screenshot_dir=tmp_path / "shots",
        **kwargs,
    )
    return app, engines


def pin_cores(monkeypatch, count: int) -> None:
    """The machine has `count` cores, as the local pool's rule sees them (gradfail_tui/pool.py): a sweep in the
    explorer runs on as many engines as that allows its runs' threads, each given its share."""
    monkeypatch.setattr("gradfail_tui.pool.cores", lambda: count)


async def wait_until(pilot, predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def form_filled(pilot, timeout: float = 10.0) -> None:
    """The first family's form is built and checked (its fields exist), whether or not the engine is ready."""
    app = pilot.app
    await wait_until(pilot, lambda: app.form.spec is not None and not app.setup.problems, "the form", timeout)


async def ready(pilot, timeout: float = 10.0) -> None:
    """The engine has said it is ready and the form is filled in (both come just after the first frame)."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: app.engine_ready and app.form.spec is not None and not app.setup.problems,
        "the engine and the form",
        timeout,
    )


def status_text(app: GradfailApp) -> str:
    return str(app.query_one("#status").render())


async def status_shows(pilot, *texts: str) -> None:
    """The status line (redrawn on the app's next tick) says all of `texts`."""
    await wait_until(
        pilot,
        lambda: all(t in status_text(pilot.app) for t in texts),
        f"the status line to say {texts}: it says {status_text(pilot.app)!r}",
    )


def plots(app: GradfailApp) -> dict[str, MetricPlot]:
    """The plots on screen now (ones being replaced may linger in the DOM for a moment)."""
    return dict(app.watch_view.plots)


async def type_into(pilot, field: Input, text: str) -> None:
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


def write_record(
    base: Path, name: str, steps: int = 300, finished: str | None = "completed", rate: float = 5.0
) -> Path:
    """A run record as LiveRun would write it: `steps` steps at `rate` steps a second."""
    path = base / name
    path.mkdir(parents=True)
    recorder = RunRecorder(
        path, {"run_id": name, "family": "demo", "preset": None, "config": {}, "seed": 0, "device": "cpu"}
    )
    recorder.append(
        RunStarted(
            run_id=name,
            t=0.1,
            family="demo",
            config={"width": 8, "steps": steps},
            seed=0,
            device="cpu",
            device_name="cpu (1 thread)",
            total_steps=steps,
        )
    )
    for step in range(0, steps + 1, 20):
        recorder.append(
            Metrics(
                run_id=name,
                t=0.1 + step / rate,
                step=step,
                values={"test_acc": 0.5 + step / (2 * steps), "train_loss": 1 - step / (2 * steps)},
            )
        )
    recorder.append(
        Snapshot(
            run_id=name,
            t=0.1 + steps / rate,
            step=steps,
            name="per_k",
            kind="table",
            data={"title": "t", "columns": ["k", "v"], "rows": [[1, 0.5]]},
        )
    )
    if finished:
        recorder.append(RunFinished(run_id=name, t=0.2 + steps / rate, step=steps, status=finished))
        recorder.finish(finished, "", steps)
    return path


async def start_held_run(pilot, step: int = 100):
    """Start the form's run (a script that holds at `step`) and wait until it is there; returns its entry."""
    app = pilot.app
    await ready(pilot)
    await pilot.press("s")
    await wait_until(pilot, lambda: app.model.active and app.model.active.state.step == step, f"the run at step {step}")
    return app.model.active


def write_figure_group(base: Path, preset: str) -> Path:
    """A record of group preset `preset` (every run) as `gradfail run` writes one, each run recording what
    the group's figure draws, made up to look like the paper (tests/talk/decks.py's numbers and pictures):
    no engine, a fraction of a second. One claim of its own, so that the band does not change when the
    preset's claims do."""
    from engine.catalog import load_preset
    from engine.orchestration import group_manifest
    from engine.record import GroupRecorder, write_json_atomically
    from tests.talk.decks import figure_values, write_figure_run

    group = load_preset(preset)
    members = group.members()
    manifest = group_manifest(group, members, "default", "cpu")
    first = members[0].of or members[0].label
    judged = next(iter(figure_values(preset, first, 1, 2)))
    manifest["claims"] = [{"says": "it is drawn", "runs": [first], "metric": judged, "stat": "last", "at_least": -1e9}]
    path = base / f"20260101-000000-{preset}"
    path.mkdir(parents=True)
    recorder = GroupRecorder(path, manifest)
    for index, member in enumerate(members, 1):
        run_dir = recorder.run_dir(index, member.label)
        steps = write_figure_run(run_dir, preset, member.of or member.label, member.family, f"{preset}-{index}")
        run = json.loads((run_dir / "run.json").read_text())
        write_json_atomically(
            run_dir / "run.json", {**run, "status": "completed", "steps_done": steps}
        )  # as finish() does
        recorder.set_member(index, status="completed", dir=run_dir.name, steps=steps)
    recorder.finish("completed")
    return path


async def open_recorded_group(pilot, path: Path) -> None:
    """Open the group recorded at `path` from the Runs tab, once every scan of the disk has landed."""
    from gradfail_tui.explorer.entries import group_key

    app = pilot.app
    await ready(pilot)
    await pilot.press("3")
    scans_done = lambda: not [w for w in app.workers if w.group == "scan" and not w.is_finished]  # noqa: E731
    await wait_until(pilot, lambda: app.model.group(group_key(path)) is not None and scans_done(), "the group")
    app.open_entry(group_key(path))
    await wait_until(pilot, lambda: app.tabs.active == "watch", "the watch view")
