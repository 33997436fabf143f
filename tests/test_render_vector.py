"""The declared figures drawn with matplotlib (gradfail_tui/render/vector.py) and written by `gradfail report`:
checked by their content (the SVG's text: title, axes, series, reference lines), not by their pixels.

One figure of each kind: over the steps (Figure 1), over an index with a log y (Figure 5), over a
metric with the bound it is about (Theorem 1). Without matplotlib the report still works and says how
to get these.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from engine.catalog import load_preset
from engine.figures import figure_data
from tests.cli.test_report import assert_names_the_figure, recorded_group, report, svg_text  # noqa: F401
from tests.conftest import ROOT, gradfail
from tests.engine.test_figures import state

matplotlib = pytest.importorskip("matplotlib", reason='the figures extra: pip install -e ".[figures]"')

from gradfail_tui.render import vector  # noqa: E402


def write(figure, states, tmp_path):
    paths = vector.save(figure_data(figure, states), tmp_path, figure.name)
    assert [p.suffix for p in paths] == [".svg", ".pdf", ".png"]
    svg, pdf, png = paths
    assert pdf.read_bytes().startswith(b"%PDF") and png.read_bytes().startswith(b"\x89PNG")
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.iter("{http://www.w3.org/2000/svg}text")  # text stays text (svg.fonttype = "none")
    assert "<text" in svg.read_text()
    return svg


def test_figure_1_over_the_steps(tmp_path):
    figure = load_preset("fig-parity").figure
    states = {
        f"d = {d}": state(f"d = {d}", "parity", {"test_acc": [(0, 0.5), (500, 0.5 + 0.4 / d)]}) for d in (5, 10, 30)
    }
    svg = write(figure, states, tmp_path)
    assert_names_the_figure(svg, figure)
    assert "chance(0.5)" in svg_text(svg)  # the reference line, with its value


def test_figure_5_over_k_on_a_log_axis(tmp_path):
    figure = load_preset("fig-snr").figure
    run = state(
        "SNR sweep",
        "tuple_snr",
        {
            "e2e_k1": [(2, 1e-2)],
            "e2e_k2": [(2, 1e-4)],
            "e2e_k3_upper": [(2, 5e-8)],
            "dec_k1": [(2, 0.3)],
            "dec_k2": [(2, 0.31)],
            "dec_k3": [(2, 0.29)],
            "resolution": [(2, 5e-8)],
        },
    )
    svg = write(figure, {"SNR sweep": run}, tmp_path)
    text = svg_text(svg)
    for name in [figure.title, figure.x.name, figure.y.name, "end-to-end", "end-to-end, upper bound", "decomposition"]:
        assert "".join(name.split()) in text, name
    assert "float32precision(1e-7)" in text and "estimator'sresolution(5e-8)" in text
    assert "10−4" in text and "10−2" in text  # a log axis: its ticks are decades


def test_theorem_1_over_d_with_its_bound(tmp_path):
    figure = load_preset("thm-variance").figure
    run = state(
        "exact variance vs d",
        "parity_variance",
        {
            "d": [(i, i + 2) for i in range(6)],
            "target_var": [(i, 0.5 * 2.0 ** -(i + 2)) for i in range(6)],
            "target_var_bound": [(i, 2.0 ** -(i + 2)) for i in range(6)],
        },
    )
    svg = write(figure, {"exact variance vs d": run}, tmp_path)
    assert_names_the_figure(svg, figure)
    text = svg_text(svg)
    assert "Theorem1'sboundG^2/2^d" in text and "[bits]" in text  # the bound, and the x unit


def test_the_report_writes_vector_figures_and_figures_writes_just_them(recorded_group, tmp_path):  # noqa: F811
    result = report(str(recorded_group), "-o", "report.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "gradfail[figures]" not in result.stderr
    files = tmp_path / "report_files"
    for suffix in ("svg", "pdf", "png"):
        assert (files / f"01-figure-1.{suffix}").is_file()
    assert "](report_files/01-figure-1.svg)" in (tmp_path / "report.md").read_text()
    assert_names_the_figure(files / "01-figure-1.svg", load_preset("fig-parity").figure)

    result = report(str(recorded_group), "--figures", "figs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["figure-1.pdf", "figure-1.png", "figure-1.svg"]
    again = report(str(recorded_group), "--figures", "figs", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert report(str(recorded_group), "--figures", "figs", "--force", cwd=tmp_path).returncode == 0


def test_without_matplotlib_the_report_keeps_its_svgs_and_says_how_to_get_the_others(recorded_group, tmp_path):  # noqa: F811
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    hidden = {"PYTHONPATH": f"{fake}:{ROOT}", "GRADFAIL_FAMILY_MODULES": ""}
    result = gradfail("report", str(recorded_group), "-o", "report.md", cwd=tmp_path, **hidden)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count('pip install "gradfail[figures]"') == 1  # said once
    files = sorted(p.name for p in (tmp_path / "report_files").iterdir())
    assert "01-figure-1-terminal.svg" in files and not [f for f in files if not f.endswith(".svg")]
    assert "](report_files/01-figure-1-terminal.svg)" in (tmp_path / "report.md").read_text()

    result = gradfail("report", str(recorded_group), "--figures", "figs", cwd=tmp_path, **hidden)
    assert result.returncode == 2 and 'pip install "gradfail[figures]"' in result.stderr
    assert not (tmp_path / "figs").exists()


def test_the_vector_module_imports_matplotlib_only_when_it_draws():
    import subprocess
    import sys

    code = "import sys, gradfail_tui.report, gradfail_tui.render.vector; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_every_shipped_groups_figure_draws_before_anything_is_recorded(tmp_path):
    from tests.engine.test_figures import shipped_groups

    for group in shipped_groups():
        figure = group.figure
        if figure is None or not figure.declared:
            continue
        (svg,) = vector.save(figure_data(figure, {}), tmp_path, figure.name, ("svg",))
        text = svg_text(svg)
        for name in (figure.title, figure.x.name, figure.y.name):  # nothing to draw yet, but it says what
            assert "".join(name.split()) in text, (group.name, name)


# ---- what was changed after looking at the gallery's figures (docs/gallery.md) ------------------


def legend_rows(fig):
    """The figure legend's labels, row by row, as matplotlib lays them out (column by column)."""
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    columns = legend._ncols
    longer, extra = divmod(len(labels), columns)
    cut, start = [], 0
    for column in range(columns):
        size = longer + (1 if column < extra else 0)
        cut.append(labels[start : start + size])
        start += size
    return [[col[row] for col in cut if row < len(col)] for row in range(max(len(c) for c in cut))]


def test_the_legend_fills_as_few_rows_as_fit_and_fills_them_evenly():
    # Figure 1's four entries fit in one row (they were three and one); Figure 5's five in rows of two.
    assert vector.legend_columns(["d = 5", "d = 10", "d = 30", "chance (0.5)"], 6.4) == 4
    five = ["end-to-end", "end-to-end, upper bound", "decomposition", "float32 precision (1e-7)", "estimator's (3e-5)"]
    assert vector.legend_columns(five, 6.4) == 2
    assert vector.legend_columns(["x" * 15] * 4, 6.4) == 2  # three fit in a row: two rows of two, not 3 and 1
    assert vector.legend_columns(["x" * 200], 6.4) == 1
    assert vector.legend_width(["ab", "abcd", "a"], 2) == 4 + 1 + 2 * vector.LEGEND_MARK_CHARS

    figure = load_preset("fig-parity").figure
    states = {f"d = {d}": state(f"d = {d}", "parity", {"test_acc": [(0, 0.5), (500, 0.9)]}) for d in (5, 10, 30)}
    fig = vector.draw(figure_data(figure, states))
    assert legend_rows(fig) == [["d = 5", "d = 10", "d = 30", "chance (0.5)"]]


def test_a_dashed_label_is_drawn_over_the_prediction_that_fits_it():
    """Figure 7: where a prediction fits its label exactly, the dashed label is on top, so both show."""
    from engine.events import Snapshot

    figure = load_preset("fig-flat").figure
    staircase = {
        "series": [
            {"label": "label u(r)", "group": "label", "x": [0, 1, 2], "y": [0, 1, 1]},
            {"label": "prediction", "group": "prediction", "x": [0, 1, 2], "y": [0, 1, 1]},
        ]
    }
    snap = Snapshot(run_id="f", t=0.0, step=5000, name="staircase", kind="lines", data=staircase)
    states = {"forward-only": state("forward-only", "flat", {"step_acc": [(5000, 0.99)]}, [snap])}
    fig = vector.draw(figure_data(figure, states, {"forward-only": [snap]}))
    lines = {line.get_label(): line for line in fig.axes[3].get_lines()}
    label, prediction = lines["label u(r)"], lines["prediction"]
    assert label.get_linestyle() == "--" and prediction.get_linestyle() == "-"
    assert label.get_zorder() > prediction.get_zorder()
    assert vector.line_zorder(True, True, 0) > vector.line_zorder(False, True, 0) > vector.line_zorder(False, False, 0)
    assert vector.line_zorder(False, False, 0) > vector.line_zorder(False, False, 1)  # the first declared on top


def test_figure_5s_series_have_their_own_markers_and_the_first_is_drawn_over_the_others():
    """At k = 1 end-to-end's SNR equals decomposition's: the red point must not vanish under the blue."""
    figure = load_preset("fig-snr").figure
    run = state(
        "SNR sweep",
        "tuple_snr",
        {"e2e_k1": [(2, 8e-4)], "e2e_k2_upper": [(2, 3e-5)], "dec_k1": [(2, 8e-4)], "dec_k2": [(2, 8e-4)]},
    )
    fig = vector.draw(figure_data(figure, {"SNR sweep": run}))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    e2e, bound, dec = lines["end-to-end"], lines["end-to-end, upper bound"], lines["decomposition"]
    assert len({e2e.get_marker(), bound.get_marker(), dec.get_marker()}) == 3
    assert e2e.get_zorder() > dec.get_zorder() and e2e.get_markersize() < dec.get_markersize()
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xlabel() == figure.x.label


def test_a_run_of_a_few_evaluations_is_marked_where_a_line_alone_would_be_a_speck():
    """Theorem 2's d = 30 run evaluates twice in 100 steps, beside runs of 10,000: it gets markers."""
    figure = load_preset("thm2-periodic").figure
    long = [(s, 0.5) for s in range(0, 10001, 200)]
    states = {
        "r = 2, d = 10": state("r = 2, d = 10", "periodic", {"r2": long}),
        "r = 8, d = 10": state("r = 8, d = 10", "periodic", {"r2": long}),
        "r = 2, d = 30": state("r = 2, d = 30", "periodic", {"r2": [(0, -0.7), (100, 0.1)]}),
    }
    fig = vector.draw(figure_data(figure, states))
    markers = {line.get_label(): line.get_marker() for line in fig.axes[0].get_lines()}
    assert markers["r = 2, d = 30"] not in (None, "None", "")
    assert markers["r = 2, d = 10"] in (None, "None") and markers["r = 8, d = 10"] in (None, "None")
    assert fig.axes[0].get_xlabel() == "training iteration" and fig.axes[0].get_ylabel() == figure.y.label


def test_the_png_is_written_at_the_dpi_asked(tmp_path):
    from PIL import Image

    figure = load_preset("fig-parity").figure
    states = {"d = 5": state("d = 5", "parity", {"test_acc": [(0, 0.5), (500, 1.0)]})}
    data = figure_data(figure, states)
    (small,) = vector.save(data, tmp_path / "small", "figure-1", ("png",), dpi=100)
    (large,) = vector.save(data, tmp_path / "large", "figure-1", ("png",))
    with Image.open(small) as a, Image.open(large) as b:
        assert b.width == round(a.width * vector.PNG_DPI / 100)
