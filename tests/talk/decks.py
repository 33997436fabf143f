"""Decks for the talk's tests, written as `gradfail run --preset paper` writes them (paper.json, a group
directory per result, a run record per run), from made-up series: no engine, no torch, a second each."""

from __future__ import annotations

from pathlib import Path

from engine import paper
from engine.catalog import load_preset
from engine.events import Metrics, RunFinished, RunStarted
from engine.orchestration import group_manifest
from engine.record import GroupRecorder, RunRecorder, write_json_atomically
from engine.registry import get_family

POINTS = 40  # metrics events per run


def write_deck(path: Path, skip: tuple[str, ...] = ()) -> Path:
    """A deck of every result of the paper but those in `skip` (recorded "not run"); each run's first
    plotted metric climbs from 0 to 1 over POINTS evaluations, one second apart."""
    path.mkdir(parents=True, exist_ok=True)
    results = []
    for number, res in enumerate(paper.RESULTS, 1):
        entry = {"preset": res.preset, "heading": res.heading, "dir": paper.result_dir(number, res.preset)}
        if res.preset in skip:
            results.append({**entry, "status": "not run"})
            continue
        group = load_preset(res.preset)
        members = group.members()[:2]
        metric = group.plot[0] if group.plot else get_family(members[0].family).metrics[0].name
        manifest = group_manifest(group, members, "default", "cpu")
        manifest["claims"] = [
            {"says": "it climbs", "runs": [members[0].label], "metric": metric, "stat": "last", "at_least": 0.5}
        ]
        (path / entry["dir"]).mkdir()
        recorder = GroupRecorder(path / entry["dir"], manifest)
        for index, member in enumerate(members, 1):
            run_dir = recorder.run_dir(index, member.label)
            write_run(run_dir, member.family, metric, f"{res.preset}-{index}")
            recorder.set_member(index, status="completed", dir=run_dir.name, steps=POINTS)
        recorder.finish("completed", verdict={"outcome": "reproduced", "claims": []})
        results.append({**entry, "status": "completed", "outcome": "reproduced"})
    write_json_atomically(
        path / paper.MANIFEST, {"kind": "paper", "title": paper.TITLE, "scale": "default", "results": results}
    )
    return path


def write_run(run_dir: Path, family: str, metric: str, run_id: str) -> None:
    recorder = RunRecorder(run_dir, {"run_id": run_id, "family": family, "preset": None, "config": {}, "seed": 0})
    recorder.append(
        RunStarted(
            run_id=run_id, t=0.0, family=family, config={}, seed=0, device="cpu", device_name="cpu", total_steps=POINTS
        )
    )
    for step in range(1, POINTS + 1):
        recorder.append(Metrics(run_id=run_id, t=float(step), step=step, values={metric: step / POINTS}))
    recorder.append(RunFinished(run_id=run_id, t=float(POINTS), step=POINTS, status="completed", message=""))
