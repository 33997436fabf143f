"""A recorded sweep in the explorer's Runs tab: listed with the groups as a sweep, shown as its phase diagram."""

from __future__ import annotations

import io

from rich.console import Console

from engine.orchestration import Conductor
from engine.orchestration.sweep import SweepRun
from engine.sweeps import resolve
from gradfail_tui.explorer.entries import load_recorded_group
from gradfail_tui.explorer.widgets.runs_panel import RunsPanel
from gradfail_tui.explorer.widgets.sweep_view import sweep_details
from tests.engine.test_sweeps import parity_engines


def test_a_recorded_sweep_is_listed_as_a_sweep_and_shows_its_heatmap(tmp_path):
    spec = resolve("parity", None, {"steps": "200"}, {"d": "4,6", "width_mult": "2,5"}, 2, None)
    conductor = Conductor(parity_engines(), engines=2).start()
    (tmp_path / "sw").mkdir()
    conductor.submit(SweepRun(spec, tmp_path / "sw"))
    conductor.run()
    conductor.close()

    entry = load_recorded_group(tmp_path / "sw")
    assert entry.sweep is not None and entry.verdict is None and len(entry.labels) == 8
    cells = RunsPanel._group_cells(entry)
    assert cells[2] == "completed" and cells[3] == "8/8 runs" and cells[5] == "sweep"

    console = Console(file=io.StringIO(), width=100, no_color=True)
    console.print(sweep_details(entry, ["record: sw/"]))
    text = console.file.getvalue()
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["5", "2"]  # width_mult down the side, highest first
    means = {c["label"]: c["mean"] for c in entry.sweep["cells"]}
    assert rows[1][1] == f"{means['d=4, width_mult=2']:.3f}"  # the mean over seeds, as the CLI shows it
    assert "x: d   y: width_mult" in text and "last test_acc" in text


def test_each_cell_of_a_recorded_sweep_is_listed_and_opens_its_seeds_runs(tmp_path):
    from gradfail_tui.explorer.entries import scan_groups

    spec = resolve("parity", None, {"steps": "200"}, {"d": "4,6"}, 3, None)
    (tmp_path / "sw").mkdir()
    conductor = Conductor(parity_engines(), engines=2).start()
    conductor.submit(SweepRun(spec, tmp_path / "sw"))
    conductor.run()
    conductor.close()

    sweep, *cells = scan_groups(tmp_path, set())
    assert sweep.sweep is not None and [c.name for c in cells] == ["· d=4", "· d=6"]
    for cell in cells:  # enter overlays exactly the cell's seeds (GroupEntry.keys -> their run records)
        assert cell.labels == [f"{cell.name[2:]}, seed {seed}" for seed in (0, 1, 2)]
        assert sorted(cell.keys.values()) == sorted(sweep.keys[label] for label in cell.labels)
        cells_text = RunsPanel._group_cells(cell)
        assert cells_text[5] == "cell" and cells_text[4] == f"mean {cell.cell['mean']:.4g} ± {cell.cell['sd']:.2g}"
