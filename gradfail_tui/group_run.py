"""`gradfail run --preset fig-parity`: a group preset's runs, one after another, then the figure and the verdict.

Every run goes through one engine process (a fresh one if a run kills it) and keeps its own record
in a subdirectory of the group's directory; group.json ties them together with the claims and,
at the end, the verdict. A run that fails or diverges does not stop the group: the claims that
need it come out "incomplete". Ctrl-C, SIGTERM or SIGHUP stop the group: the current run ends
`interrupted`, the rest are marked as not run, and the verdict is judged on what was recorded.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from engine.client import EngineProcess, RunRequest
from engine.config import config_to_dict
from engine.events import RunFinished, worst_status
from engine.groups import GroupPreset, MemberRun, Verdict, judge
from engine.record import GroupRecorder
from engine.registry import get_family
from engine.state import RunState
from gradfail_tui.headless import (
    HeadlessSession, Interrupted, drive_or_stop, exit_code, make_progress, print_snapshots, signals_interrupt,
)
from gradfail_tui.render.format import format_duration
from gradfail_tui.render.plots import figure_width, overlay_figure
from gradfail_tui.render.tables import group_table, verdict_line, verdict_table


def group_manifest(group: GroupPreset, members: list[MemberRun], scale: str, device: str) -> dict:
    return {"kind": "group", "preset": group.name, "title": group.title, "description": group.description,
            "paper": group.paper, "scale": scale, "device": device, "plot": list(group.plot),
            "log_y": group.log_y, "claims": [claim.as_dict() for claim in group.claims],
            "runs": [{"label": m.label, "family": m.family, "preset": m.preset, "seed": m.seed,
                      "status": "waiting"} for m in members]}


def run_group(group: GroupPreset, members: list[MemberRun], scale: str, device: str, group_dir: Path,
              console: Console, engine: EngineProcess | None = None) -> int:
    """Run the members one after another through one engine (`engine`, if given; a fresh one after a
    run that took it down), then judge the claims; returns the exit code."""
    recorder = GroupRecorder(group_dir, group_manifest(group, members, scale, device))
    states: dict[str, RunState] = {}
    finished: list[RunFinished] = []
    progress = make_progress(console)
    overall = progress.add_task(f"{group.name} ({scale})", total=len(members), rate="", eta="-", metrics="")
    engine = engine or EngineProcess()
    engine_ready = False
    wall_start = time.perf_counter()
    interrupted = False
    try:
        with signals_interrupt(), (progress if console.is_terminal else contextlib.nullcontext()):
            engine.start()
            for number, member in enumerate(members, 1):
                spec = get_family(member.family)
                request = RunRequest(family=member.family, config=config_to_dict(member.config), seed=member.seed,
                                     device=device, preset=member.preset)
                run_dir = recorder.run_dir(number, member.label)
                recorder.set_member(number, status="running", dir=run_dir.name, run_id=request.run_id)
                session = HeadlessSession([request], [run_dir])
                session.states[request.run_id].label = member.label
                task = progress.add_task(member.label, total=None, rate="", eta="-", metrics="starting")
                progress.update(overall, metrics=f"run {number} of {len(members)}: {member.label}")
                if not console.is_terminal:
                    console.print(f"[bold]{group.name}[/]: run {number} of {len(members)}: {escape(member.label)}")
                interrupted = drive_or_stop(engine, session, progress, task, spec.headline_metrics(), console,
                                            engine_ready=engine_ready)
                end = session.finished[request.run_id]
                states[member.label] = session.states[request.run_id]
                finished.append(end)
                recorder.set_member(number, status=end.status, steps=end.step)
                progress.update(task, completed=session.states[request.run_id].step, metrics=end.status)
                progress.advance(overall)
                if interrupted:
                    break
                engine_ready = engine.alive()
                if not engine_ready:  # the run took the engine down: the next run gets a fresh one
                    engine.close()
                    engine = EngineProcess().start()
    except (KeyboardInterrupt, Interrupted):
        interrupted = True  # between runs, or while the engine started
    finally:
        engine.close()
    verdict = judge(group.claims, states)
    status = "interrupted" if interrupted else worst_status(f.status for f in finished)
    recorder.finish(status, verdict=verdict.as_dict(), wall_s=round(time.perf_counter() - wall_start, 1))
    print_group(console, group, members, states, verdict, time.perf_counter() - wall_start)
    console.print(f"group record: {group_dir}")
    return 130 if interrupted else exit_code(finished)


def print_group(console: Console, group: GroupPreset, members: list[MemberRun], states: dict[str, RunState],
                verdict: Verdict, wall: float) -> None:
    """The group's figures, its runs' table, and the claims with their verdict."""
    width = figure_width(console.width)
    specs = [get_family(m.family) for m in members]
    for metric in group.plot:
        figure = overlay_figure(group.title, metric, states, specs, group.log_y, width)
        if figure is not None:
            console.print(figure)
    for member in members:
        if member.label in states and group.shows_snapshots(member.label):
            print_snapshots(console, states[member.label])
    console.print(group_table(group.name, members, states))
    console.print(verdict_table(verdict))
    console.print(verdict_line(verdict))
    console.print(f"wall time {format_duration(wall)}")
