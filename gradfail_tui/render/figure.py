"""A group's declared figure (engine/figures.py) drawn into a terminal with plotext: panels side by side,
every axis named, one legend under them (never over the data), reference lines dotted grey.

One renderer for every terminal surface: the talk's slides, the explorer's group view, the figure
`gradfail run --preset fig-...` prints at its end, and the report's terminal-style SVGs. Where the
panels do not fit (a talk at 80x24), a page of them is drawn and the title says which ("panels 1-2 of
4"); the caller pages with `page`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotext
from rich.cells import cell_len
from rich.text import Text

from engine.figures import COLOURS, FigureData, Panel
from gradfail_tui.render.colours import HUES, MARKER_GREY
from gradfail_tui.render.plots import fitted_ticks, fitted_title, tick_label

RGB = dict(zip(COLOURS, HUES))  # the declaration's colour names, as the terminal draws them
MIN_PANEL_WIDTH = 36
MIN_PANEL_HEIGHT = 9
X_LABELS = 3  # a panel's rows not its plot's but its title: the frame's two and the x ticks' labels
DASHED = "dot"  # plotext has no dashes: a dashed series or a reference line is drawn in dots
# With the thick "hd" lines (a talk's, for a projector) dots are too faint: a level (chance, an optimum)
# is drawn in heavy dashes, a dashed series or a sloped reference in large dots.
THICK_LEVEL, THICK_DASHED = "╍", "●"
MARKS = ("━━", "┄┄", "┄┄")  # the legend's marks: a series, a dashed series or reference, a level
THICK_MARKS = ("██", "●●", "╍╍")
EDGE = 0.4  # a dash keeps to within this much of a cell's centre (in cells), so it never spills into a gap


@dataclass
class Page:
    """Which panels are drawn: `first` .. `first + count - 1`, in `columns` columns; `pages` in all."""

    number: int
    pages: int
    first: int
    count: int
    columns: int
    total: int

    @property
    def label(self) -> str:
        """Which panels are shown: "panels 1-2 of 4"."""
        shown = f"panels {self.first + 1}-{self.first + self.count}" if self.count > 1 else f"panel {self.first + 1}"
        return f"{shown} of {self.total}"


def layout(panels: int, wanted_columns: int, width: int, height: int, page: int = 0) -> Page:
    """How many panels fit in `width` x `height` (the legend's line taken off), in at most
    `wanted_columns` columns (a picture's steps), and which page of them is `page` (wrapped)."""
    columns = max(1, min(wanted_columns, panels, width // MIN_PANEL_WIDTH))
    rows = max(1, min(math.ceil(panels / columns), (height - 1) // MIN_PANEL_HEIGHT))
    per_page = columns * rows
    pages = max(1, math.ceil(panels / per_page))
    number = page % pages
    first = number * per_page
    return Page(number, pages, first, min(per_page, panels - first), columns, panels)


def colours_for(data: FigureData) -> dict[str, tuple[int, int, int]]:
    """Each legend name's colour: the declared one, else the next hue no declared series takes."""
    legend = data.legend()
    taken = {line.colour for line in legend if line.colour}
    free = [rgb for name, rgb in RGB.items() if name not in taken and name != "grey"]
    chosen, index = {}, 0
    for line in legend:
        if line.reference:
            chosen[line.name] = MARKER_GREY
        elif line.colour:
            chosen[line.name] = RGB[line.colour]
        else:
            chosen[line.name] = free[index % len(free)]
            index += 1
    return chosen


def draw_panel(panel: Panel, data: FigureData, colours, width: int, height: int, marker: str = "braille") -> Text:
    """One panel: its lines, its levels across the data's x range, on the y range all panels share."""
    if panel.spacer:
        return Text("\n".join(" " * width for _ in range(height)))
    figure = data.figure
    plt = plotext
    plt.clear_figure()
    plt.limit_size(False, False)  # the size given, not this process's terminal's (a talk in a browser)
    plt.plot_size(width, height)
    plt.theme("clear")
    log_x, log_y = figure.x.log, figure.y.log
    drawn = []
    for line in panel.lines:
        points = [
            (x, y)
            for x, y in line.points
            if math.isfinite(x) and math.isfinite(y) and (y > 0 or not log_y) and (x > 0 or not log_x)
        ]
        if points:
            drawn.append((line, points))
    xs = [x for _, points in drawn for x, _ in points]
    ys = [y for _, points in drawn for _, y in points]
    if xs:  # the levels first, so that a series on the same value is drawn over them
        low, high = min(xs), max(xs)
        for _, value in panel.levels:
            if value > 0 or not log_y:
                plt.plot(
                    [low, high], [value, value], marker=THICK_LEVEL if marker == "hd" else DASHED, color=MARKER_GREY
                )
                ys.append(value)
    title = panel.title + (f" ({panel.note})" if panel.note else "")
    plt.title(fitted_title(title, width))
    # Our limits and ticks on both axes, never plotext's: its own move a column from one draw or size to the next.
    rows = height - X_LABELS - (1 if title else 0)
    y_names: list[str] = []
    if ys:
        shared = data.y_range() if len(data.panels) > 1 and not figure.picture else None
        low, high = shared if shared is not None and not log_y else (min(ys), max(ys))
        if log_y:  # headroom, so that a line at the highest value is not drawn on the frame
            plt.yscale("log")
            low, high = low / 2, high * 2
        elif high <= low:
            low, high = low - 1, high + 1
        y_ticks, y_names = fitted_ticks(low, high, rows, log=log_y, across=False)
        plt.ylim(*((math.log10(low), math.log10(high)) if log_y else (low, high)))  # plotext's log limits: decades
        plt.yticks(y_ticks, y_names)
    columns = width - max((len(name) for name in y_names), default=5) - 2  # the y labels, the frame
    if xs:
        low, high = min(xs), max(xs)
        plt.xticks(*fitted_ticks(low, high, columns, log=log_x))
        if log_x:
            plt.xscale("log")
        if high > low:
            plt.xlim(*((math.log10(low), math.log10(high)) if log_x else (low, high)))
    # Solid series first, then the dashed ones and references over them, cut into dashes where a solid
    # series shares the panel (as the vector figures and the paper draw them): where a prediction fits its
    # label, as in Figure 7, both show, the label in dashes and the prediction in their gaps.
    solid = any(not line.drawn_dashed for line, _ in drawn)
    over = 0  # dashed lines drawn so far: the next one's dashes fall in the previous one's gaps
    for line, points in sorted(drawn, key=lambda drawn_line: drawn_line[0].drawn_dashed):
        dashed = line.drawn_dashed
        style = (THICK_DASHED if marker == "hd" else DASHED) if dashed else marker
        pieces = [points]
        if dashed and solid and xs:
            pieces, over = dashes(points, min(xs), max(xs), columns, over % 2, log_x, log_y), over + 1
        for piece in pieces:
            px, py = zip(*piece)
            plt.plot(list(px), list(py), marker=style, color=colours.get(line.name, MARKER_GREY))
    return Text.from_ansi(plt.build().rstrip())  # plotext leaves a blank line for its own labels


def dashes(points, low: float, high: float, cells: int, phase: int, log_x=False, log_y=False) -> list[list[tuple]]:
    """A line cut into dashes one plot cell long, a cell apart: the pieces of the polyline `points` that
    fall in the cells whose index has parity `phase`, where the plot's `cells` columns span x from `low`
    to `high` as plotext places them (cell c centred at c / (cells - 1) of the span, in log10 on a log
    axis, where plotext also draws its straight lines). A single point is kept or not as a whole."""
    to_plot = [(math.log10(x) if log_x else x, math.log10(y) if log_y else y) for x, y in points]
    low, high = (math.log10(low), math.log10(high)) if log_x else (low, high)
    if high <= low or cells < 2:
        return [points]
    width = (high - low) / (cells - 1)

    def kept(u: float) -> bool:  # in a kept cell, and clear of its edges, where plotext may round either way
        at = (u - low) / width
        return round(at) % 2 == phase and abs(at - round(at)) < EDGE

    def back(u: float, v: float) -> tuple[float, float]:
        return (10**u if log_x else u, 10**v if log_y else v)

    if len(points) == 1:
        return [points] if kept(to_plot[0][0]) else []
    pieces, current = [], []
    for (u0, v0), (u1, v1) in zip(to_plot, to_plot[1:]):
        cuts = {0.0, 1.0}  # where the segment crosses from one cell into the next, as fractions of it
        if u1 != u0:
            for c in range(*sorted((round((u0 - low) / width), round((u1 - low) / width)))):
                for edge in (c + EDGE, c + 1 - EDGE):
                    cuts.add((low + edge * width - u0) / (u1 - u0))
        ordered = sorted(t for t in cuts if 0.0 <= t <= 1.0)
        for a, b in zip(ordered, ordered[1:]):
            if kept(u0 + (u1 - u0) * (a + b) / 2):
                if not current:
                    current.append(back(u0 + (u1 - u0) * a, v0 + (v1 - v0) * a))
                current.append(back(u0 + (u1 - u0) * b, v0 + (v1 - v0) * b))
            elif current:
                pieces.append(current)
                current = []
    if current:
        pieces.append(current)
    return pieces


def legend_text(data: FigureData, colours, width: int, marker: str = "braille") -> Text:
    """The legend under the panels: a solid mark per series, a dotted one per reference line (a level
    with its value); on as many lines of `width` as it needs, never breaking an entry. With the thick
    lines ("hd", a talk's) the marks are as thick: blocks, and the large dots and heavy dashes drawn."""
    levels = {name: value for panel in data.panels for name, value in panel.levels}
    solid, dotted, level = THICK_MARKS if marker == "hd" else MARKS
    text, used = Text(), 0
    for line in data.legend():
        entry = Text()
        mark = level if line.name in levels else dotted if line.drawn_dashed else solid
        entry.append(mark, style="rgb({},{},{})".format(*colours.get(line.name, MARKER_GREY)))
        entry.append(" " + line.name)
        if line.name in levels:
            entry.append(f" {tick_label(levels[line.name])}", style="dim")
        if used and used + 3 + entry.cell_len > width:
            text.append("\n")
            used = 0
        elif used:
            text.append("   ")
            used += 3
        text.append_text(entry)
        used += entry.cell_len
    return text


def render_figure(
    data: FigureData, width: int, height: int, marker: str = "braille", page: int = 0, keys: bool = True
) -> tuple[Text, Page]:
    """The figure in `width` x `height` cells, as one Text: its title, a page of its panels side by side,
    the axes' names and the legend under them; and which page that is. `keys`: the title says which keys
    page (not where every page is printed)."""
    panels = data.panels or [Panel("", note="nothing to draw")]
    colours = colours_for(data)
    under = Text("\n").join([axes_text(data), legend_text(data, colours, width, marker)])
    where = layout(len(panels), data.columns, width, height - lines_of(under, width), page)
    figure = Text(data.figure.title, style="bold")
    if where.pages > 1:  # which panels, on the title's line if it has room (at 80x24 a line is a sixth of the plot)
        said = f"  ({where.label}: [ ])" if keys else f"  ({where.label})"
        if cell_len(figure.plain + said) > width:
            said = f"  ({where.label.removeprefix('panels ').removeprefix('panel ')})"
        figure.append(said, style="dim")
    shown = panels[where.first : where.first + where.count]
    rows = math.ceil(len(shown) / where.columns)
    panel_width = max(20, width // where.columns)
    panel_height = max(5, (height - lines_of(figure, width) - lines_of(under, width)) // rows)
    for row in range(rows):
        cells = [
            draw_panel(p, data, colours, panel_width, panel_height, marker).split("\n")
            for p in shown[row * where.columns : (row + 1) * where.columns]
        ]
        for index in range(max(len(cell) for cell in cells)):
            figure.append("\n")
            for cell in cells:  # side by side, each padded to its panel's width
                line = cell[index].copy() if index < len(cell) else Text()
                line.truncate(panel_width, pad=True)
                figure.append_text(line)
    figure.append("\n")
    figure.append_text(under)
    return figure, where


def lines_of(text: Text, width: int) -> int:
    """How many lines `text` takes, wrapped at `width`."""
    return sum(max(1, math.ceil(cell_len(line.plain) / max(1, width))) for line in text.split("\n"))


def axes_text(data: FigureData) -> Text:
    """What the axes are, one line for all the panels (plotext drops its own labels where a panel is narrow)."""
    x, y = data.figure.x, data.figure.y
    text = Text()  # Text("↑ ", style="dim") would dim the whole line: a Text's style is its base
    text.append("↑ ", style="dim")
    text.append(y.label + (" (log)" if y.log else ""))
    text.append("   → ", style="dim")
    text.append(x.label + (" (log)" if x.log else ""))
    return text
