"""The runs panel: this session's runs and the records found under the runs directory.

Enter views a run, `y` replays it (its events drawn over time at the chosen speed, nothing
retrained), space adds it to or takes it out of the overlay of the plots. Below the table, the
highlighted run's settings, how it ended, and anything wrong with its record.

Groups (a figure of the paper: several runs) are rows of their own, marked ▣, above the runs:
Enter (or space) opens one with its runs overlaid and its verdict; its runs are rows too.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from gradfail_tui.explorer.entries import GroupEntry, RunEntry, label_members, scan_groups, scan_recorded
from gradfail_tui.explorer.messages import CompareToggled, RunOpened
from gradfail_tui.explorer.model import ExplorerModel
from gradfail_tui.explorer.widgets.family_list import GROUP_MARK

COLUMNS = ("", "run", "status", "steps", "result", "family", "where")


def result_text(entry: RunEntry, names: tuple[str, ...] = ()) -> str:
    latest = entry.state.latest
    keys = [n for n in names if n in latest] or list(latest)[:2]
    return "  ".join(f"{k} {latest[k]:.3g}" for k in keys)


class RunsTable(DataTable):
    BINDINGS = [
        Binding("enter", "open", "View", id="runs-view"),
        Binding("y", "replay", "Replay", id="runs-replay"),
        Binding("space", "compare", "Compare", id="runs-compare", key_display="␣"),
    ]

    def action_open(self) -> None:
        if key := self.current_key():
            self.post_message(RunOpened(key))

    def action_replay(self) -> None:
        if key := self.current_key():
            self.post_message(RunOpened(key, replay=True))

    def action_compare(self) -> None:
        if key := self.current_key():
            self.post_message(CompareToggled(key))

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None


class RunsPanel(Vertical):
    """The Runs tab over the explorer's model: it lists what the model knows and scans the runs
    directory for records (in a worker thread) when asked; choices go up as messages."""

    def __init__(
        self,
        model: ExplorerModel,
        runs_dir: Path,
        headline: dict[str, tuple[str, ...]] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.border_title = "Runs"
        self.model = model
        self.runs_dir = runs_dir
        self.headline = headline or {}  # family -> the metric names worth showing first

    def redraw(self) -> None:
        """The rows as the model has them, and the highlighted one's details."""
        self.show(self.model.entries, set(self.model.compared), self.model.groups)
        self.describe_key(self.highlighted_key())

    def describe_key(self, key: str | None) -> None:
        group = self.model.group(key)
        if group is not None:
            self.describe_group(group)
        else:
            self.describe(self.model.entry(key), self.model.replay_speed)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan(self) -> None:
        """Read the records under the runs directory (this session's own are known already)."""
        runs, groups = self.model.session_paths()
        found, found_groups = scan_recorded(self.runs_dir, runs), scan_groups(self.runs_dir, groups)
        label_members(found_groups, found)
        self.app.call_from_thread(self._found, found, found_groups)

    def _found(self, found: list[RunEntry], groups: list[GroupEntry]) -> None:
        self.model.recorded_found(found, groups)
        self.redraw()

    def compose(self):
        table = RunsTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        for column in COLUMNS:
            table.add_column(column, key=column or "mark")
        yield table
        with VerticalScroll(id="run-details-scroll"):
            yield Static(
                "No runs yet: runs you start appear here, and records found under the runs directory.", id="run-details"
            )

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def show(self, entries: list[RunEntry], compared: set[str], groups: list[GroupEntry] | None = None) -> None:
        """Show these groups, then these runs, in this order; rows only change where their cells did."""
        table = self.table
        rows = [(g.key, self._group_cells(g)) for g in groups or []]
        rows += [(e.key, self._cells(e, e.key in compared)) for e in entries]
        keys = [key for key, _ in rows]
        if [row.value for row in table.rows] != keys:
            current = table.current_key()
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
            if current in keys:
                table.move_cursor(row=keys.index(current), animate=False)
            return
        for key, cells in rows:
            for column, value in zip(COLUMNS, cells):
                if table.get_cell(key, column or "mark") != value:
                    table.update_cell(key, column or "mark", value)

    @staticmethod
    def _group_cells(group: GroupEntry) -> tuple[str, ...]:
        where = "this session" if group.origin == "session" else (group.path.name if group.path else "")
        result = str(group.verdict.outcome) if group.verdict else group.progress()  # the column says "result"
        if group.sweep is not None:
            result = "phase diagram: select to see it"
        elif group.cell is not None:  # a sweep's cell: the mean and spread of its seeds' mapped values
            mean, sd = group.cell.get("mean"), group.cell.get("sd")
            result = "-" if mean is None else f"mean {mean:.4g}" + (f" ± {sd:.2g}" if sd is not None else "")
        status = group.status + (" ⚠" if group.problems else "")
        kind = "sweep" if group.sweep is not None else "cell" if group.cell is not None else "group"
        return (GROUP_MARK, group.name, status, f"{group.ran}/{len(group.labels)} runs", result, kind, where)

    def describe_group(self, group: GroupEntry) -> None:
        from gradfail_tui.explorer.widgets.group_panel import group_text

        lines = [group_text(group)]
        if group.path:
            lines.append(f"record: {escape(group.path.name)}/")
        if group.problems:
            lines.append(
                f"[$warning b]this record has {len(group.problems)} problem(s); shown is what could be read:[/]"
            )
            lines += [f"[$warning]• {escape(p)}[/]" for p in group.problems[:20]]
        if group.sweep is not None:  # a sweep: its phase diagram (gradfail_tui/render/heatmap.py), not a verdict
            from gradfail_tui.explorer.widgets.sweep_view import sweep_details

            self.query_one("#run-details", Static).update(sweep_details(group, lines))
            return
        if group.cell is not None:
            lines.append("[dim]enter view this cell's runs overlaid[/dim]")
        else:
            lines.append("[dim]enter view its runs overlaid, with the verdict[/dim]")
        self.query_one("#run-details", Static).update("\n".join(lines))

    def _cells(self, entry: RunEntry, compared: bool) -> tuple[str, ...]:
        names = self.headline.get(entry.state.family, ())
        steps = f"{entry.state.step:,}" + (f"/{entry.state.total_steps:,}" if entry.state.total_steps else "")
        where = (entry.where or "this session") if entry.origin == "session" else entry.where
        status = entry.status + (" ⚠" if entry.problems else "")
        return (
            "◆" if compared else "",
            entry.label,
            status,
            steps,
            result_text(entry, names),
            entry.state.family or "?",
            where,
        )

    def describe(self, entry: RunEntry | None, speed: float) -> None:
        details = self.query_one("#run-details", Static)
        if entry is None:
            return
        lines = [
            f"[b]{escape(entry.label)}[/b]  {escape(entry.status)}"
            + (f" at step {entry.state.step:,}" if entry.state.step else "")
        ]
        if entry.state.message:
            lines.append(escape(entry.state.message))
        if entry.path:
            lines.append(f"record: {escape(entry.where or entry.path.name)}")
        config = entry.state.config or entry.manifest.get("config") or {}
        if config:
            lines.append("config: " + escape(", ".join(f"{k}={v}" for k, v in config.items())))
        if entry.state.latest:
            lines.append("last: " + escape(result_text(entry, tuple(entry.state.latest))))
        if entry.problems:
            lines.append(
                f"[$warning b]this record has {len(entry.problems)} problem(s); shown is what could be read:[/]"
            )
            lines += [f"[$warning]• {escape(p)}[/]" for p in entry.problems[:20]]
        lines.append(f"[dim]enter view · y replay at {speed:g}x (+/- to change) · space compare[/dim]")
        details.update("\n".join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.describe_key(event.row_key.value)

    def highlighted_key(self) -> str | None:
        return self.table.current_key()
