"""`gradfail export`: a run's metrics for people who plot elsewhere (pandas, R, a spreadsheet).

CSV is written in the long ("tidy") form, one row per measured value: `run, step, t, metric, value`.
A wide table (a row per step, a column per metric) would be mostly empty, because a family measures
its metrics on different schedules (training averages about ten times a second, evaluations every
`eval_every` steps), and it would need a rule for two events at one step; the long form is lossless,
has the same five columns for every family, lets a group's runs (of different families) follow one
another in one file, and is what plotting libraries take directly (seaborn's `hue="run"`, ggplot's
`aes(colour = run)`; `df.pivot_table(index="step", columns="metric", values="value")` gives the
wide form back). Values are written with Python's shortest exact repr, so they read back equal; a
non-finite value is `nan`, `inf` or `-inf`, which pandas and R read as numbers.

JSONL is one object per metrics event, as events.jsonl has it plus the run's name:
`{"run", "run_id", "step", "t", "values": {metric: number}}`. Strict JSON has no NaN or Infinity, so
a non-finite value is written as `null` (the CSV keeps which one it was).

A group's directory (`gradfail run --preset fig-...`, `--seeds N`) exports every run, named by its
label; a single run is named by its directory. Torch-free.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from engine.events import Metrics
from engine.record import RecordedGroup, RecordedRun, read_record

CSV_COLUMNS = ("run", "step", "t", "metric", "value")


def named_runs(record: RecordedRun | RecordedGroup) -> list[tuple[str, RecordedRun]]:
    if isinstance(record, RecordedGroup):
        return record.runs
    return [(record.path.name, record)]


def metrics_events(runs: list[tuple[str, RecordedRun]], problems: list[str]) -> Iterator[tuple[str, Metrics]]:
    """Every metrics event of the runs, its values as floats; a value that is no number is left out
    and named in `problems` (a hand-edited record; the engine writes numbers only)."""
    for label, run in runs:
        for event in run.events:
            if not isinstance(event, Metrics):
                continue
            values = {}
            for name, value in event.values.items():
                try:
                    values[name] = float(value)
                except (TypeError, ValueError):
                    problems.append(f"{label}: {name} at step {event.step} is not a number ({value!r}); left out")
            yield label, Metrics(run_id=event.run_id, t=float(event.t), step=event.step, values=values)


def write_csv(runs: list[tuple[str, RecordedRun]], out: TextIO, problems: list[str]) -> None:
    """The long table."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for label, event in metrics_events(runs, problems):
        for metric, value in event.values.items():
            writer.writerow((label, event.step, repr(event.t), metric, repr(value)))


def write_jsonl(runs: list[tuple[str, RecordedRun]], out: TextIO, problems: list[str]) -> None:
    """One line per metrics event."""
    for label, event in metrics_events(runs, problems):
        values = {name: (v if math.isfinite(v) else None) for name, v in event.values.items()}
        out.write(
            json.dumps(
                {"run": label, "run_id": event.run_id, "step": event.step, "t": event.t, "values": values},
                allow_nan=False,
            )
            + "\n"
        )


WRITERS = {"csv": write_csv, "jsonl": write_jsonl}  # `gradfail export --format` offers these names


def export_metrics(path: Path, fmt: str, out: TextIO) -> list[str]:
    """Write the metrics of the run or group at `path` to `out`; returns what could not be read.

    Raises NotARecord for a path that holds no record; `fmt` is a key of WRITERS (the CLI checks it).
    """
    record = read_record(path)
    problems = list(record.problems)
    WRITERS[fmt](named_runs(record), out, problems)
    return problems
