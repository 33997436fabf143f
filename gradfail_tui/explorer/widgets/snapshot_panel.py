"""One snapshot, whatever its kind: "lines" as a plot, "images" as bitmaps, "table" as a DataTable.

The panel knows nothing of families: it draws the Snapshot event's data by its kind (see
engine.events.Snapshot), so a family that lands later gets its pictures drawn without UI code.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.widgets import DataTable, Static

from engine.events import Snapshot
from gradfail_tui.explorer.widgets.bitmap_view import BitmapView
from gradfail_tui.explorer.widgets.lines_plot import LinesPlot


class SnapshotPanel(Vertical):
    def __init__(self, name: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel snapshot-panel")
        self.snapshot_name = name
        self.kind: str | None = None
        self.shown: tuple[int, int] | None = None  # (step, id of data) drawn last
        self.body: LinesPlot | BitmapView | DataTable | Static | None = None
        self.border_title = name

    def show(self, snapshot: Snapshot) -> None:
        """Draw this snapshot (a newer one of the same name replaces the older)."""
        if self.shown == (snapshot.step, id(snapshot.data)) and self.kind == snapshot.kind:
            return
        data = snapshot.data if isinstance(snapshot.data, dict) else {}
        title = str(data.get("title") or snapshot.name)
        self.border_title = f"{title} · step {snapshot.step:,}"
        if snapshot.kind != self.kind or self.body is None:
            self.kind = snapshot.kind
            if self.body is not None:
                self.body.remove()
            self.body = self._body(snapshot.kind)
            self.mount(self.body)
        self.shown = (snapshot.step, id(snapshot.data))
        self._fill(data)

    def _body(self, kind: str):
        if kind == "lines":
            return LinesPlot()
        if kind == "images":
            return BitmapView()
        if kind == "table":
            table = DataTable(show_cursor=False, zebra_stripes=True, classes="snapshot-body")
            table.can_focus = True
            return table
        return Static("", classes="snapshot-body unknown-kind")

    def _fill(self, data: dict[str, Any]) -> None:
        body = self.body
        if isinstance(body, (LinesPlot, BitmapView)):
            body.set_data(data)
        elif isinstance(body, DataTable):
            body.clear(columns=True)
            columns = [str(c) for c in data.get("columns") or []]
            body.add_columns(*columns)
            for row in data.get("rows") or []:
                cells = [_cell(v) for v in (row if isinstance(row, list) else [row])]
                body.add_row(*(cells + [""] * (len(columns) - len(cells)))[: max(len(columns), 1)])
        elif isinstance(body, Static):
            body.update(
                f"A snapshot of kind {self.kind!r}, which this version cannot draw; "
                f"its fields: {', '.join(map(str, data)) or 'none'}."
            )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
