"""The group band of the watch view: which figure is on screen, how far its runs are, and the verdict.

While a group runs: its title and "run 2 of 3: d = 10" with how each run ended so far. Once its
last run has ended (or it was stopped), each claim with its outcome and the numbers it was
judged on, and the overall verdict: the same words `gradfail run` and `gradfail report` print.
Scrollable (Tab reaches it) when the claims outgrow a short terminal.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import Static

from engine.status import RunStatus
from gradfail_tui.explorer.entries import GroupEntry
from gradfail_tui.render.colours import outcome_look, status_tone, textual_colour


def status_colour(status: str) -> str:
    # A status the map does not know (a record that says too little) is worth a look: a warning, not plain.
    return textual_colour(status_tone(status, unknown="warning"))


def group_text(group: GroupEntry) -> str:
    head = (
        f"[b]{escape(group.title)}[/b]  [dim]{escape(group.name)}"
        + (f" · scale {escape(group.scale)}" if group.scale else "")
        + "[/dim]"
    )
    runs = "  ".join(
        f"{escape(label)} [{status_colour(group.statuses.get(label, RunStatus.WAITING))}]"
        f"{escape(group.statuses.get(label, RunStatus.WAITING))}[/]"
        for label in group.labels
    )
    lines = [head]
    if group.sweep is not None:  # a sweep: its progress; its phase diagram is drawn below this (sweep_view.py)
        engines = f" · on {group.engines} engine{'s' if group.engines != 1 else ''}" if group.engines else ""
        stop = f"{engines} · p pauses, x stops the sweep; what has run stays recorded" if group.running else ""
        # Plain Rich markup: sweep_details draws these lines with Rich, which knows no $theme colours.
        lines.append(f"[b]{escape(group.progress())}[/b]" + (f"[dim]{stop}[/dim]" if stop else ""))
        return "\n".join(lines)
    if group.seeds:
        lines.append(
            f"[$accent b]{escape(group.progress())}[/]  [dim]· mean and min-max band of the seeds"
            " · \\[ and ] pick out a seed" + (" · x stops them" if group.running else "") + "[/dim]"
        )
        return "\n".join(lines)
    if group.running:
        lines.append(f"[$accent b]{escape(group.progress())}[/]  [dim]·[/dim]  {runs}  [dim]· x stops the group[/dim]")
        return "\n".join(lines)
    if any(group.statuses.get(label) != RunStatus.COMPLETED for label in group.labels):
        lines.append(runs)  # when all completed, the verdict line says so
    verdict = group.verdict
    if verdict is None:
        return "\n".join(lines)
    colour = textual_colour(outcome_look(verdict.outcome).tone)
    audit = f" · {escape(group.audit)}" if group.audit else ""  # how often it holds over seeds
    lines.append(
        f"[b]Verdict:[/b] [{colour} b]{escape(verdict.outcome)}[/]  [dim]· {escape(group.progress())}{audit}[/dim]"
    )
    for result in verdict.results:
        look = outcome_look(result.outcome)
        colour, mark = textual_colour(look.tone), look.mark
        lines.append(
            # A colon, not only spaces, between the outcome and the claim: spaces collapse where the line
            # is wrapped or copied ("✓ reproducedk = 10 ...").
            f"[{colour} b]{mark} {escape(result.outcome)}:[/] {escape(result.claim.says)}"
            f"\n    [dim]{escape(result.detail)}[/dim]"
        )
    if not verdict.results:
        lines.append("[dim]this group states no claim to check[/dim]")
    return "\n".join(lines)


class GroupPanel(VerticalScroll):
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""

    def compose(self):
        yield Static("", id="group-text")

    def show(self, group: GroupEntry | None) -> None:
        self.display = group is not None
        self.set_class(group is not None and group.sweep is not None, "-sweep")
        self.set_class(group is not None and group.figure is not None, "-figure")  # smaller, over the figure
        if group is not None and group.sweep is not None:  # its phase diagram, as it stands now
            from gradfail_tui.explorer.widgets.sweep_view import sweep_details

            self._text = ""
            self.query_one("#group-text", Static).update(sweep_details(group, [group_text(group)], hint=False))
            return
        text = group_text(group) if group is not None else ""
        if text != self._text:
            self._text = text
            self.query_one("#group-text", Static).update(text)
