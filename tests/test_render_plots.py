"""The figures of the terminal and the report (gradfail_tui/render/plots.py): log axes in powers of ten,
the legend under the plot, the chance line, a changed setting's marker, a band of seeds."""

from __future__ import annotations

import re
import subprocess
import sys

from gradfail_tui.render.plots import (
    fitted_ticks,
    fitted_title,
    log_ticks,
    render_plot,
    seed_band,
    step_ticks,
    tick_label,
)
from tests.conftest import ROOT

# The report's Figure 6 loss read "878.828979492", "0.048384580", "0.000000020" and "0.000000000".
PWL_LOSS = {
    "linear": [(0, 878.8), (1000, 0.0484), (3000, 2e-8), (6000, 1e-11)],
    "conv": [(0, 500.0), (1000, 3.0), (3000, 0.4), (6000, 0.02)],
}


def y_labels(figure: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^\s*(\S+)\s*┤", figure, re.MULTILINE)]


def test_a_log_axis_is_labelled_in_powers_of_ten():
    figure = render_plot(PWL_LOSS, "loss", width=80, height=16, log_y=True).plain
    labels = y_labels(figure)
    assert labels and all(re.fullmatch(r"1e-?\d+|1|10|100|1000|0\.0*1", label) for label in labels), labels
    assert not any("0.00000" in label for label in labels)
    assert tick_label(2e-9) == "2e-9" and tick_label(0.05) == "0.05" and tick_label(1e5) == "1e5"
    ticks, names = log_ticks(0.3, 0.8)  # under a decade: its ends, short
    assert len(ticks) >= 2 and all(len(n) <= 4 for n in names)


def test_the_legend_is_under_the_plot_never_over_its_curves():
    figure = render_plot(PWL_LOSS, "loss", width=80, height=16, log_y=True).plain
    lines = figure.splitlines()
    bottom = max(i for i, line in enumerate(lines) if "└" in line)
    legend = [i for i, line in enumerate(lines) if "linear" in line]
    assert legend and all(i > bottom for i in legend) and "conv" in lines[legend[0]]


def test_a_chance_line_and_a_change_marker_are_drawn_and_named():
    series = {"test accuracy": [(0, 0.5), (500, 0.52), (1000, 0.49)]}
    figure = render_plot(series, "acc", width=70, height=12, markers=[(600, "lr 0.01→0.1")], chance=0.5).plain
    assert "lr 0.01→0.1" in figure and "chance 0.5" in figure


def test_a_band_of_seeds_counts_each_seed_where_its_series_reaches():
    band = seed_band([[(0, 1.0), (10, 3.0)], [(0, 3.0), (5, 5.0), (10, 7.0)], [(0, 2.0)]])
    assert band.mean[0] == (0, 2.0) and band.low[0] == (0, 1.0) and band.high[0] == (0, 3.0)
    assert band.mean[1] == (5, 3.0)  # seed 1 at 5, seed 0's latest (1.0) up to 5; seed 2 ended at 0
    assert band.high[-1] == (10, 7.0) and band.low[-1] == (10, 3.0)


def test_an_axis_is_ticked_at_round_values_whole_steps_or_decimals():
    assert step_ticks(0, 2000) == ([0, 500, 1000, 1500, 2000], ["0", "500", "1,000", "1,500", "2,000"])
    assert step_ticks(-2.0, 1.92) == ([-2.0, -1.0, 0.0, 1.0], ["-2", "-1", "0", "1"])  # Figure 7's r
    assert step_ticks(-0.3, 0.31)[1] == ["-0.2", "0.0", "0.2"]  # never "-0.0"
    assert step_ticks(0, 1, whole=False)[1] == ["0.00", "0.25", "0.50", "0.75", "1.00"]


def test_ticks_that_fit_are_spread_so_that_no_two_labels_meet():
    ticks, names = fitted_ticks(50, 2000, 28)  # a narrow panel: every 1,000, not a crowd of 500s
    assert names == ["1,000", "2,000"]
    at = [(t - 50) / 1950 * 27 for t in ticks]
    assert all(b - a > len(x) + len(y) for a, b, x, y in zip(at, at[1:], names, names[1:]))
    ticks, names = fitted_ticks(-80, 60, 6, across=False)  # a y axis six rows high: three labels, not one
    assert names == ["-50", "0", "50"]
    assert fitted_ticks(5e-8, 0.04, 5, log=True, across=False)[1] == ["1e-7", "1e-4"]


# plotext keeps tick labels in a set, so which of two near labels moves (or wins a row) follows the hash seed.
DRAW = """
from engine.figures import Axis, Figure, FigureData, Line, Panel, Series
from gradfail_tui.render.figure import render_figure
figure = Figure("f", "t", Axis("step", "training iteration"), Axis("snr", "SNR", log=True), (Series("a"),))
xs = [50 * i for i in range(1, 41)]
lines = [Line("a", [(x, 10 ** (-1 - x / 500)) for x in xs]), Line("b", [(x, 0.5 + x / 5000) for x in xs])]
panels = [Panel(f"k = {k}", lines, [("chance", 1e-3)]) for k in (1, 2, 3, 4)]
for width, height in ((76, 12), (156, 30), (100, 20), (60, 16)):
    print(render_figure(FigureData(figure, panels, 4), width, height, marker="hd")[0].plain)
"""


def test_a_figure_draws_the_same_text_whatever_the_hash_seed():
    drawn = {
        subprocess.run(
            [sys.executable, "-c", DRAW],
            cwd=ROOT,
            env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(drawn) == 1 and "1,000" in drawn.pop()


def test_a_title_too_long_for_its_panel_is_shortened_never_dropped():
    """plotext drops a title wider than its plot less 4 cells, silently: Figure 7's first panel lost
    'non-flat approximation, step 10,000' at the end of a talk's replay."""
    assert fitted_title("non-flat approximation, step 10,000", 30) == "non-flat app…, step 10,000"
    assert fitted_title("end-to-end, step 10,000", 30) == "end-to-end, step 10,000"  # fits: as it is
    assert fitted_title("a title with no comma to keep", 16) == "a title wit…"  # 12 cells: 16 less plotext's 4
    drawn = render_plot({"a": [(0, 1.0), (10, 2.0)]}, "non-flat approximation, step 10,000", width=30, height=10)
    assert "…, step 10,000" in drawn.plain


def test_a_dashed_line_over_a_solid_one_leaves_gaps_where_the_solid_one_shows():
    """Figure 7: where the prediction fits its label, the label's dashes are drawn over it and the
    prediction shows in their gaps, a cell each, as in the paper (both were one cell: one hid the other)."""
    from engine.figures import Axis, Figure, FigureData, Line, Panel, Series
    from gradfail_tui.render.figure import dashes, render_figure

    pieces = dashes([(0.0, 0.0), (10.0, 10.0)], 0.0, 10.0, 11, phase=0)
    assert [round(p[0][0], 1) for p in pieces] == [0.0, 1.6, 3.6, 5.6, 7.6, 9.6]  # cells 0, 2, 4, ... only
    assert all(round(b[0]) == round(a[0]) and b[0] - a[0] <= 0.8 + 1e-9 for a, b in pieces)  # a cell long
    assert dashes([(5.0, 1.0)], 0.0, 10.0, 11, phase=1) == [[(5.0, 1.0)]]  # a single point: whole or not
    assert dashes([(5.0, 1.0)], 0.0, 10.0, 11, phase=0) == []
    log = dashes([(1.0, 1.0), (1000.0, 1.0)], 1.0, 1000.0, 4, phase=0, log_x=True)  # cells by decade
    assert [[round(x) for x, _ in piece] for piece in log] == [[1, 3], [40, 251]]

    figure = Figure("f", "t", Axis("r", "r"), Axis("output", "output"), (Series("label"), Series("prediction")))
    xs = [i / 10 for i in range(101)]
    label = Line("label", [(x, float(x > 5)) for x in xs], colour="green", dashed=True)
    prediction = Line("prediction", [(x, float(x > 5)) for x in xs], colour="red")
    for lines in ([label, prediction], [prediction, label]):  # whatever order the series are declared in
        text = render_figure(FigureData(figure, [Panel("p", lines)]), 60, 14)[0]
        row = next(line for line in text.split("\n") if line.plain.count("•") > 5)
        cells = [(row.plain[span.start : span.end], str(span.style)) for span in row.spans]
        shown = [("label" if char == "•" else "prediction") for char, style in cells if char.strip("│ ┤")]
        alternations = sum(a != b for a, b in zip(shown, shown[1:]))
        assert shown.count("label") > 5 and alternations > 10, cells  # dash, gap with the prediction, dash...
        assert {style for char, style in cells if char == "•"} == {"#3caa5a"}  # the dashes: the label's green
