"""A group's declared figure (engine/figures.py) drawn with matplotlib, as a paper or a slide deck wants it:
vector SVG and PDF, and a PNG, from the same `FigureData` the terminal draws.

Panels side by side (small multiples) sharing their y-axis, each series named as on every other
surface and in the paper's colours (end-to-end red, decomposition blue), dashed where declared,
reference lines dotted grey with their value in the legend, log axes, every axis named with its unit,
and one legend under the panels, outside them, so that it never covers the data. Text in the SVG
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
    """As many columns as fit across the figure's `width` (inches), at most one row's worth of labels."""
    widest = max(len(label) for label in labels) + LEGEND_MARK_CHARS
    return max(1, min(len(labels), int(width * LEGEND_CHARS_PER_INCH) // widest))


def draw_panel(ax, panel: Panel, data: FigureData, colours: dict[str, str], styles: dict[str, Any]) -> dict[str, Any]:
    """One panel's lines and levels on `ax` (a reference line in its style of `styles`); returns each
    drawn name's line, for the legend."""
    figure = data.figure
    log_x, log_y = figure.x.log, figure.y.log
    handles: dict[str, Any] = {}
    for line in panel.lines:
        points = [
            (x, y)
            for x, y in line.points
            if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y) and (x > 0 or not log_x)
        ]
        if not points:
            continue
        xs, ys = zip(*points)
        dashed = line.dashed or line.reference
        (drawn,) = ax.plot(
            xs,
            ys,
            color=colours.get(line.name, PALETTE["grey"]),
            linestyle=styles.get(line.name, "--") if line.reference else "--" if dashed else "-",
            linewidth=1.6 if line.reference else 2.0,
            marker="o" if len(points) <= 12 and figure.x.values else None,
            markersize=4,
            label=line.name,
            zorder=4 if line.reference else 3,  # a bound close to the data stays visible over it
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


def save(data: FigureData, folder: Path, stem: str, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the figure as `stem`.svg, .pdf and .png in `folder`; returns the paths written."""
    import matplotlib

    fig = draw(data)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # Only for these saves: text stays text in the SVG, and fonts are embedded in the PDF as Type 42
    # (TrueType, editable), not Type 3.
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": stem}):
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, dpi=PNG_DPI, metadata=metadata(fmt, data))
            written.append(path)
    return written


def metadata(fmt: str, data: FigureData) -> dict[str, Any]:
    """The file's title, and no creation date (the same figure writes the same file)."""
    if fmt == "svg":
        return {"Title": data.figure.title, "Date": None}
    if fmt == "pdf":
        return {"Title": data.figure.title, "CreationDate": None}
    return {"Title": data.figure.title}
