"""A group's declared figure (engine/figures.py) drawn with matplotlib, as a paper or a slide deck wants it:
vector SVG and PDF, and a PNG, from the same `FigureData` the terminal draws.

Panels side by side (small multiples) sharing their y-axis, each series named as on every other
surface and in the paper's colours (end-to-end red, decomposition blue), dashed where declared,
reference lines dotted grey with their value in the legend, log axes, every axis named with its unit,
and one legend under the panels, outside them, in as few rows as fit, so that it never covers the data.
Points are marked where x is an index (Figure 5's k), each series with its own shape, and where a
series has only a few; a dashed line is drawn over a solid one, so that a label a prediction fits
exactly (Figure 7) still shows. Text in the SVG
stays text (`svg.fonttype = "none"`: selectable and searchable).

matplotlib is the optional extra `figures` (`pip install "gradfail[figures]"`): it is imported inside
these functions only, so that the rest of gradfail never needs it; `available()` says whether it is
installed. The object API only (`matplotlib.figure.Figure`): no pyplot, no global figure state.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.figures import COLOURS, FigureData, Panel
from gradfail_tui.render.plots import tick_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

INSTALL_HINT = 'pip install "gradfail[figures]"'
FORMATS = ("svg", "pdf", "png")
# Strong, dark hues that stay apart on a washed-out projector and in grey print; the paper's red and blue.
PALETTE = {
    "blue": "#1f5fb4",
    "red": "#d0202e",
    "green": "#2a9d3a",
    "orange": "#e07b00",
    "purple": "#7b3fa8",
    "cyan": "#0f8fa0",
    "yellow": "#a08a00",  # yellow itself vanishes on white: a dark gold
    "grey": "#6e6e6e",
}
assert set(PALETTE) == set(COLOURS)
# Reference lines, grey, told apart by their dashes: dotted, dash-dot, long dashes.
REFERENCE_STYLES: tuple[Any, ...] = (":", "-.", (0, (6, 3)))
PANEL_WIDTH = 3.6  # inches per panel
PANEL_HEIGHT = 2.8
MIN_WIDTH = 6.4  # one panel: room for the title and a legend in one row
TITLE_CHARS_PER_INCH = 11  # the title wraps where it would not fit
LEGEND_CHARS_PER_INCH = 11  # the legend's text, a little smaller: as many columns as fit
LEGEND_MARK_CHARS = 6  # a legend entry's line and the gaps around it, in characters
MAX_COLUMNS = 4
PNG_DPI = 200
# Where an index is the x axis (Figure 5), each series' points are marked, each series with its own
# shape, so that two series on the same point both show (the first declared drawn on top, smaller)
# and the series stay apart without their colours.
MARKERS = ("o", "s", "^", "D", "v", "P")
FEW_POINTS = 3  # a series of this many points or fewer is marked, wherever its x is


def available() -> bool:
    """Whether matplotlib can be imported (the `figures` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def colours_for(data: FigureData) -> dict[str, str]:
    """Each legend name's colour: the declared one, else the next hue no declared series takes."""
    legend = data.legend()
    taken = {line.colour for line in legend if line.colour}
    free = [name for name in PALETTE if name not in taken and name != "grey"]
    chosen, index = {}, 0
    for line in legend:
        if line.reference:
            chosen[line.name] = PALETTE["grey"]
        elif line.colour:
            chosen[line.name] = PALETTE[line.colour]
        else:
            chosen[line.name] = PALETTE[free[index % len(free)]]
            index += 1
    return chosen


def draw(data: FigureData) -> MplFigure:
    """The figure as a matplotlib Figure (not shown, not saved): its title, its panels, its legend under them."""
    from matplotlib.figure import Figure as MplFigure

    figure = data.figure
    panels = data.panels or [Panel("", note="nothing to draw")]
    columns = max(1, min(data.columns or 1, MAX_COLUMNS, len(panels)))
    rows = math.ceil(len(panels) / columns)
    shared = figure.picture is None and len(panels) > 1
    width = max(MIN_WIDTH, PANEL_WIDTH * columns + 0.6)
    fig = MplFigure(figsize=(width, PANEL_HEIGHT * rows + 1.4), layout="constrained", facecolor="white")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=shared)
    colours = colours_for(data)
    references = [line.name for line in data.legend() if line.reference]
    styles = {name: REFERENCE_STYLES[n % len(REFERENCE_STYLES)] for n, name in enumerate(references)}
    levels = {name: value for panel in panels for name, value in panel.levels}
    handles: dict[str, Any] = {}
    for index, ax in enumerate(axes.flat):
        if index >= len(panels) or panels[index].spacer:
            ax.set_axis_off()
            continue
        panel = panels[index]
        handles.update(draw_panel(ax, panel, data, colours, styles))
        row, column = divmod(index, columns)
        below = index + columns >= len(panels) or panels[index + columns].spacer
        if below:
            ax.set_xlabel(figure.x.label)
        if column == 0:  # one y quantity for every panel: named once per row
            ax.set_ylabel(figure.y.label)
    fig.suptitle(textwrap.fill(figure.title, int(width * TITLE_CHARS_PER_INCH)), fontsize="large")
    ordered = [line.name for line in data.legend() if line.name in handles]
    if ordered:
        labels = [f"{name} ({tick_label(levels[name])})" if name in levels else name for name in ordered]
        fig.legend(
            [handles[name] for name in ordered],
            labels,
            loc="outside lower center",
            ncols=legend_columns(labels, width),
            frameon=False,
        )
    return fig


def legend_columns(labels: list[str], width: float) -> int:
    """The columns of the legend: as few rows as fit across the figure's `width` (inches), and the rows
    filled evenly (4 labels in one row, or 2 and 2, never 3 and 1).

    matplotlib fills a legend column by column, the first columns one label longer when they do not
    divide evenly; a column is as wide as its widest label."""
    room = int(width * LEGEND_CHARS_PER_INCH)
    for rows in range(1, len(labels) + 1):
        columns = math.ceil(len(labels) / rows)
        if legend_width(labels, columns) <= room:
            return columns
    return 1


def legend_width(labels: list[str], columns: int) -> int:
    """The legend's width in characters, its labels in `columns` as matplotlib lays them out."""
    longer, _ = divmod(len(labels), columns)
    extra = len(labels) % columns
    width, start = 0, 0
    for column in range(columns):
        size = longer + (1 if column < extra else 0)
        if size:
            width += max(len(label) for label in labels[start : start + size]) + LEGEND_MARK_CHARS
        start += size
    return width


def draw_panel(ax, panel: Panel, data: FigureData, colours: dict[str, str], styles: dict[str, Any]) -> dict[str, Any]:
    """One panel's lines and levels on `ax` (a reference line in its style of `styles`); returns each
    drawn name's line, for the legend."""
    figure = data.figure
    log_x, log_y = figure.x.log, figure.y.log
    handles: dict[str, Any] = {}
    order = [line.name for line in data.legend()]
    for line in panel.lines:
        points = [
            (x, y)
            for x, y in line.points
            if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y) and (x > 0 or not log_x)
        ]
        if not points:
            continue
        xs, ys = zip(*points)
        dashed = line.drawn_dashed
        index = order.index(line.name) if line.name in order else len(order)
        # An index's points are marked (Figure 5's k = 1..4), and so is a run of a few evaluations,
        # which a line alone would leave as a speck at the start of the axis (Theorem 2's d = 30).
        marked = (len(points) <= 12 and bool(figure.x.values)) or len(points) <= FEW_POINTS
        # One of a run's seeds, each its own line (`seeds = "each"`): thinner and see-through, so that
        # the seeds left at chance read as a band and the few that learn stand out of it.
        (drawn,) = ax.plot(
            xs,
            ys,
            color=colours.get(line.name, PALETTE["grey"]),
            linestyle=styles.get(line.name, "--") if line.reference else "--" if dashed else "-",
            linewidth=1.6 if line.reference or line.one_seed else 2.0,
            alpha=0.75 if line.one_seed else 1.0,
            marker=MARKERS[index % len(MARKERS)] if marked else None,
            markersize=5 + 1.5 * min(index, 3),
            label=line.name,
            zorder=line_zorder(line.reference, dashed, index),
        )
        handles.setdefault(line.name, drawn)
    for name, value in panel.levels:
        if value > 0 or not log_y:
            handles.setdefault(
                name,
                ax.axhline(
                    value, color=PALETTE["grey"], linestyle=styles.get(name, ":"), linewidth=1.6, label=name, zorder=1
                ),
            )
    if log_y and handles:
        ax.set_yscale("log")
    if log_x and handles:
        ax.set_xscale("log")
    if figure.x.values and all(isinstance(v, (int, float)) for v in figure.x.values):
        ax.set_xticks([float(v) for v in figure.x.values])
    title = panel.title + (f" ({panel.note})" if panel.note and panel.title else panel.note)
    if title:
        ax.set_title(title, fontsize="medium")
    if not handles:
        ax.text(0.5, 0.5, panel.note or "nothing recorded", ha="center", va="center", transform=ax.transAxes)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return handles


def line_zorder(reference: bool, dashed: bool, index: int) -> float:
    """Which line is drawn over which: a reference line over the data (a bound close to it stays
    visible), a dashed line over a solid one (where a prediction fits its label exactly, as in
    Figure 7, the dashed label still shows through the gaps of its dashes), and of the rest the first
    declared on top (its marker is the smallest)."""
    return (5.0 if reference else 4.0 if dashed else 3.0) - min(index, 9) / 10


def save(
    data: FigureData, folder: Path, stem: str, formats: tuple[str, ...] = FORMATS, dpi: int = PNG_DPI
) -> list[Path]:
    """Write the figure as `stem`.svg, .pdf and .png in `folder` (the PNG at `dpi`); returns the paths written."""
    import matplotlib

    fig = draw(data)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # Only for these saves: text stays text in the SVG, and fonts are embedded in the PDF as Type 42
    # (TrueType, editable), not Type 3.
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": stem}):
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, dpi=dpi, metadata=metadata(fmt, data))
            written.append(path)
    return written


def metadata(fmt: str, data: FigureData) -> dict[str, Any]:
    """The file's title, and no creation date (the same figure writes the same file)."""
    if fmt == "svg":
        return {"Title": data.figure.title, "Date": None}
    if fmt == "pdf":
        return {"Title": data.figure.title, "CreationDate": None}
    return {"Title": data.figure.title}


def slide_image(
    data: FigureData, fmt: str = "svg", salt: str = "", font_size: float | None = None, min_aspect: float = 0.0
) -> bytes:
    """The figure as an SVG (text kept as text) or PNG file's bytes, for a page to hold inline: `salt`
    makes an SVG's ids (clip paths, markers) the same on every run; `font_size` (points) enlarges every
    text of it, as a slide seen across a room needs, refitted to the larger text (`refit_text`);
    `min_aspect` widens a figure narrower than that width:height (one panel on a slide wider than a page)."""
    import io

    import matplotlib

    settings = {"svg.fonttype": "none", "svg.hashsalt": salt or data.figure.name}
    with matplotlib.rc_context(settings | ({"font.size": font_size} if font_size else {})):
        fig = draw(data)
        width, height = fig.get_size_inches()
        if width < height * min_aspect:
            fig.set_size_inches(height * min_aspect, height)
        if font_size:
            refit_text(fig, data, font_size / matplotlib.rcParamsDefault["font.size"])
        out = io.BytesIO()
        fig.savefig(out, format=fmt, dpi=PNG_DPI, metadata=metadata(fmt, data))
    return out.getvalue()


def refit_text(fig: MplFigure, data: FigureData, scale: float) -> None:
    """`draw`'s figure refitted to text `scale` times its default size: its title, the panels' titles
    and their axes' titles wrapped, and its legend in as many columns as fit, for the fewer characters
    an inch then holds."""
    width = fig.get_figwidth() / scale  # the width, in inches of default-sized text
    if fig.get_suptitle():
        fig.suptitle(textwrap.fill(data.figure.title, int(width * TITLE_CHARS_PER_INCH)), fontsize="large")
    across = int(width / max(1, data.columns) * TITLE_CHARS_PER_INCH)  # characters across a panel
    up = int(PANEL_HEIGHT / scale * TITLE_CHARS_PER_INCH)  # and along its height
    for ax in fig.axes:
        if len(ax.get_xlabel()) > across:
            ax.set_xlabel(textwrap.fill(ax.get_xlabel(), across))
        if len(ax.get_ylabel()) > up:
            ax.set_ylabel(textwrap.fill(ax.get_ylabel(), up))
        if len(ax.get_title()) > across:
            ax.set_title(textwrap.fill(ax.get_title(), across), fontsize="medium")
    for legend in list(fig.legends):
        labels = [text.get_text() for text in legend.get_texts()]
        handles = list(legend.legend_handles)
        if not labels or len(handles) != len(labels):
            continue
        legend.remove()  # its columns are fixed once it is made: made again
        fig.legend(handles, labels, loc="outside lower center", ncols=legend_columns(labels, width), frameon=False)
