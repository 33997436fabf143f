"""Decks for the talk's tests, written as `gradfail run --preset paper` writes them (paper.json, a group
directory per result, a run record per run), from made-up series: no engine, no torch, a second each."""

from __future__ import annotations

import math
from pathlib import Path

from engine import paper
from engine.catalog import load_preset
from engine.events import Metrics, RunFinished, RunStarted, Snapshot
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
            {
                "says": "it climbs",
                "runs": [members[0].of or members[0].label],
                "metric": metric,
                "stat": "last",
                "at_least": 0.5,
            }
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


# ---- a deck drawn as the paper's figures need it ---------------------------------------------------


def write_figure_deck(path: Path) -> Path:
    """A deck of every result with every run, each recording what its group's figure draws, made up to
    look like the paper's outcome: parities d = 5 and 10 learned and d = 30 at chance, end-to-end's SNR
    falling with k, decoded curves nearing the original, staircases. For the snapshot tests and for
    looking at the slides."""
    path.mkdir(parents=True, exist_ok=True)
    results = []
    for number, res in enumerate(paper.RESULTS, 1):
        entry = {"preset": res.preset, "heading": res.heading, "dir": paper.result_dir(number, res.preset)}
        group = load_preset(res.preset)
        members = group.members()
        manifest = group_manifest(group, members, "default", "cpu")
        judged = next(iter(figure_values(res.preset, members[0].of or members[0].label, 1, 2)), None)
        # One claim of its own, so that the slides do not change when the presets' claims do.
        manifest["claims"] = [
            {"says": "it is drawn", "runs": [members[0].of or members[0].label], "metric": judged, "stat": "last"}
            | {"at_least": -1e9}
        ]
        (path / entry["dir"]).mkdir()
        recorder = GroupRecorder(path / entry["dir"], manifest)
        for index, member in enumerate(members, 1):
            run_dir = recorder.run_dir(index, member.label)
            steps = write_figure_run(
                run_dir, res.preset, member.of or member.label, member.family, f"{res.preset}-{index}"
            )
            recorder.set_member(index, status="completed", dir=run_dir.name, steps=steps)
        recorder.finish("completed", verdict={"outcome": "reproduced", "claims": []})
        results.append({**entry, "status": "completed", "outcome": "reproduced"})
    write_json_atomically(
        path / paper.MANIFEST, {"kind": "paper", "title": paper.TITLE, "scale": "default", "results": results}
    )
    return path


def number_in(label: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in label).split()
    return int(digits[0]) if digits else 1


def figure_values(preset: str, label: str, step: int, last: int) -> dict[str, float]:
    """One evaluation's made-up metrics for run `label` of `preset` at `step` of `last`."""
    t = step / last
    if preset == "fig-parity":
        d = number_in(label)
        rate = {5: 12.0, 10: 5.0}.get(d)
        wobble = 0.02 * math.sin(step * 1.7)
        return {"test_acc": 0.5 + wobble if rate is None else 0.5 + 0.5 * (1 - math.exp(-rate * t)) + wobble / 4}
    if preset == "parity-wider-deeper":
        learned = number_in(label) == 10
        return {"test_acc": 0.5 + (0.5 * (1 - math.exp(-6 * t)) if learned else 0.02 * math.sin(step * 1.3))}
    if preset == "thm2-periodic":
        easy = label.startswith("r = 2")
        return {"r2": 0.97 * (1 - math.exp(-5 * t)) if easy else 0.01 * abs(math.sin(step))}
    if preset == "thm-variance":
        d = 1 + step
        return {"d": d, "target_var": 0.6 * 2.0**-d * (1 + 0.1 * math.sin(d)), "target_var_bound": 2.0**-d}
    if preset == "fig-tuples":
        k = number_in(label)
        learns = "decomposition" in label or k == 1 or (k == 2 and t > 0.5)
        top = 0.94 - 0.035 * (k - 1)
        level = top - (top - 0.5) * math.exp(-8 * t) if learns else 0.5 + 0.02 * math.sin(step)
        return {"test_acc": level}
    if preset == "fig-stocks":
        k = number_in(label)
        slow = "end-to-end" in label and k > 10
        return {"objective": -0.25 * t + 0.05 * math.sin(step) if slow else -1 + 0.9 * math.exp(-6 * t)}
    if preset == "fig-snr":
        values = {f"dec_k{k}": 0.021 for k in range(1, 5)}
        values.update(
            {"e2e_k1": 3.1e-3, "e2e_k2": 2.2e-4, "e2e_k3_upper": 5e-5, "e2e_k4_upper": 5e-5, "resolution": 5e-5}
        )
        return values
    if preset == "fig-pwl":
        return {"val_loss": 10 ** (-1 - 3 * t if "conditioned" in label else -1 - t)}
    if preset == "fig-flat":
        return {"sq_error": 10 ** (-1 - 2 * t), "step_acc": 0.3 + 0.6 * t}
    return {}


def figure_snapshots(preset: str, label: str, last: int) -> list[tuple[int, str, dict]]:
    """The pictures a figure shows: decoded curves at 0, 500 and the end; a staircase at the end."""
    xs = list(range(0, 100, 2))
    if preset == "fig-pwl":
        kinks = [(0.0, 0.0), (20.0, 1.0), (45.0, -0.5), (70.0, 0.8), (99.0, 0.2)]

        def curve(x: float) -> float:
            for (x0, y0), (x1, y1) in zip(kinks, kinks[1:]):
                if x <= x1:
                    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            return kinks[-1][1]

        snaps = []
        for step in sorted({0, min(500, last), last}):
            blur = 1.0 if step == 0 else (0.02 if "conditioned" in label else 0.5 - 0.3 * step / 10000)
            decoded = [curve(x) * (1 - blur) + blur * 0.3 * math.sin(x / 9) for x in xs]
            series = [
                {"label": "curve 1", "group": "original", "x": xs, "y": [curve(x) for x in xs]},
                {"label": "decoded 1", "group": "decoded", "x": xs, "y": decoded},
            ]
            snaps.append((step, "curves", {"title": "curves", "x_label": "x", "series": series}))
        return snaps
    if preset == "fig-flat":
        rs = [x / 25 - 2 for x in xs]
        label_u = [math.floor(r * 2) / 2 for r in rs]
        if label == "forward-only":
            prediction = [u + 0.01 for u in label_u]
        elif label == "multi-class":
            prediction = [u + 0.15 * math.sin(7 * r) for u, r in zip(label_u, rs)]
        else:
            prediction = [r * 0.9 for r in rs]
        series = [{"label": "label u(r)", "x": rs, "y": label_u}, {"label": "prediction (x)", "x": rs, "y": prediction}]
        if label == "non-flat approximation":
            series.append({"label": "non-flat approximation u~(r)", "x": rs, "y": [u + 0.1 for u in label_u]})
        return [(last, "staircase", {"title": "staircase", "x_label": "r", "series": series})]
    return []


def write_figure_run(run_dir: Path, preset: str, label: str, family: str, run_id: str) -> int:
    last = {"fig-pwl": 500 if "conditioned" in label else 10000, "thm-variance": 15, "fig-snr": 5}.get(preset, 2000)
    every = max(1, last // POINTS)
    recorder = RunRecorder(run_dir, {"run_id": run_id, "family": family, "preset": None, "config": {}, "seed": 0})
    recorder.append(
        RunStarted(
            run_id=run_id, t=0.0, family=family, config={}, seed=0, device="cpu", device_name="cpu", total_steps=last
        )
    )
    pictures = figure_snapshots(preset, label, last)
    for step in sorted({*range(every, last + 1, every), last}):
        for at, name, data in pictures:
            if step - every < at <= step or (at == 0 and step == every):
                recorder.append(Snapshot(run_id=run_id, t=float(step), step=at, name=name, kind="lines", data=data))
        values = figure_values(preset, label, step, last)
        if values:
            recorder.append(Metrics(run_id=run_id, t=float(step), step=step, values=values))
    recorder.append(RunFinished(run_id=run_id, t=float(last), step=last, status="completed", message=""))
    return last
