"""Plots printed into the terminal (not inside the TUI): the figure at the end of `gradfail run`."""

from __future__ import annotations

import math

import plotext
from rich.text import Text


# One colour per line, in a fixed order, so a figure's legend tells its runs apart (plotext's "clear"
# theme would draw every line alike). Rich drops them where colour is off (NO_COLOR, a log file).
LINE_COLOURS = ("blue", "red", "green", "orange", "magenta", "cyan", "gray", "yellow")


def render_plot(series: dict[str, list[tuple[float, float]]], title: str, x_label: str = "step",
                width: int = 80, height: int = 14, log_y: bool = False) -> Text:
    """Lines of (x, y) points, one per label, with a legend; returned as Rich text."""
    plt = plotext  # plotext keeps one global figure; clear it first and build it to a string
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    for number, (label, points) in enumerate(series.items()):
        points = [(x, y) for x, y in points if math.isfinite(y) and (y > 0 or not log_y)]
        if points:
            xs, ys = zip(*points)
            plt.plot(list(xs), list(ys), label=label, marker="braille",
                     color=LINE_COLOURS[number % len(LINE_COLOURS)])
    if log_y:
        plt.yscale("log")
    plt.title(title)
    plt.xlabel(x_label)
    return Text.from_ansi(plt.build())
