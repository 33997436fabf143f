"""A sweep in the Runs tab: its phase diagram and cells, drawn as `gradfail sweep` draws them.

A recorded sweep (sweep.json) is listed with the groups; selecting it shows the heatmap of its
mapped metric (gradfail_tui/render/heatmap.py) above its record's lines, instead of a verdict; a
sweep with a success test (`--success`) shows k/n of each cell's seeds that passed, as `diagram` draws it.
A sweep running in this session is drawn the same way from its job's manifest, which the job keeps
up to date as runs end: the watch view's band and the Runs tab redraw it as cells complete.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from engine.sweeps import SweepRecord
from gradfail_tui.explorer.entries import GroupEntry
from gradfail_tui.render.heatmap import diagram


def sweep_details(group: GroupEntry, lines: list[str], hint: bool = True):
    """The sweep's record lines, then its phase diagram(s) and the colour scale."""
    parts: list = [Text.from_markup(line) for line in lines]
    drawn = diagram(SweepRecord.from_manifest(group.sweep or {}))
    if not drawn:
        return Group(*parts, Text("this sweep's record holds no grid", style="yellow"))
    parts += drawn
    if hint and group.job is None:  # a recorded sweep (one running here has only its runs in flight to show)
        parts.append(Text("enter view its runs overlaid", style="dim"))
    return Group(*parts)
