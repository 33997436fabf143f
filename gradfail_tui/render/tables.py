"""The tables printed at the end of `gradfail run`, as Rich renderables: a run's summary, its seeds',
a group's runs and the paper's claims with their verdict.

The headless display prints them; the group's verdict uses the words the explorer's group panel and
the report use, in the colours of render.colours.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from engine.registry import get_family
from engine.status import RunStatus
from gradfail_tui.render.colours import outcome_look, rich_colour, status_tone
from gradfail_tui.render.format import format_duration, format_metrics, format_value

if TYPE_CHECKING:
    from engine.groups import MemberRun, Verdict
    from engine.registry import FamilySpec
    from engine.state import RunState


def final_colour(status: str) -> str:
    # The end of `gradfail run` only ever shows a final status; one it does not know is a failure.
    return rich_colour(status_tone(status, unknown="error"))


def status_title(head: str, status: str) -> str:
    return f"{head}: [{final_colour(status)}]{status}[/]"


def ending_line(status: str, message: str) -> str:
    """Why a run did not complete, in its status' colour, below its table."""
    return f"[{final_colour(status)}]{message or status}[/]"


def summary_facts(states: list[RunState], wall: float, requested_device: str) -> dict[str, str]:
    """Steps, wall time (with the training rate) and device of a run, or of seeds trained together."""
    lead = states[0]
    training = f"; training {lead.step / lead.t:,.0f} steps/s" if lead.t > 0 and lead.step else ""
    if len(states) > 1 and training:
        training += f" × {len(states)} seeds = {len(states) * lead.step / lead.t:,.0f} seed-steps/s"
    return {
        "steps": f"{lead.step:,} / {lead.total_steps:,}",
        "wall time": f"{format_duration(wall)} (engine start included{training})",
        "device": lead.device_name or lead.device or requested_device,
    }


def facts_line(facts: dict[str, str]) -> str:
    """The facts on one line, below a table that has no room for them (the seeds')."""
    return "  ·  ".join(f"{name} {value}" for name, value in facts.items())


def run_table(spec: FamilySpec, state: RunState, status: str, facts: dict[str, str]) -> Table:
    """One run: each metric's last value and the step it was measured at, then the facts."""
    table = Table(title=status_title(state.label, status), title_justify="left")
    table.add_column("metric")
    table.add_column("last", justify="right")
    table.add_column("at step", justify="right")  # metrics are measured on different schedules
    for name, value in state.latest.items():
        metric = spec.metric(name)
        table.add_row(metric.label if metric else name, format_value(value), f"{state.series[name][-1][0]:,}")
    for name, value in facts.items():
        table.add_row(name, value)
    return table


def seeds_table(spec: FamilySpec, states: list[RunState], statuses: list[str], status: str) -> Table:
    """Seeds of one run: a row per seed (its status and last values), then their mean ± sd."""
    names = [m.name for m in spec.metrics if any(m.name in s.latest for s in states)]
    table = Table(title=status_title(f"{states[0].label} × {len(states)} seeds", status), title_justify="left")
    table.add_column("seed")
    table.add_column("status")
    for name in names:
        table.add_column(name, justify="right")
    for state, seed_status in zip(states, statuses):
        table.add_row(
            str(state.seed), seed_status, *[format_value(state.latest[n]) if n in state.latest else "-" for n in names]
        )
    values = {n: [s.latest[n] for s in states if n in s.latest] for n in names}
    table.add_row(
        "mean ± sd",
        "",
        *[
            f"{format_value(statistics.fmean(v))} ± {format_value(statistics.pstdev(v))}" if v else "-"
            for v in values.values()
        ],
    )
    return table


def group_table(name: str, members: list[MemberRun], states: dict[str, RunState]) -> Table:
    """A group's runs in its order: status, steps and headline values, or "not run"."""
    table = Table(title=f"{name}: {len(states)} of {len(members)} runs", title_justify="left")
    for column in ("run", "status", "steps", "last values"):
        table.add_column(column, justify="right" if column == "steps" else "left")
    for member in members:
        state = states.get(member.label)
        if state is None:
            table.add_row(escape(member.label), RunStatus.NOT_RUN, "-", "")
            continue
        values = format_metrics(state.latest, get_family(member.family).headline_metrics(2))
        table.add_row(escape(member.label), state.status, f"{state.step:,}", values)
    return table


def verdict_table(verdict: Verdict) -> Table:
    """Each of the paper's claims, its outcome and the numbers it was judged on."""
    claims = Table(title="The paper's claims, checked on the recorded numbers", title_justify="left")
    claims.add_column("claim")
    claims.add_column("verdict", no_wrap=True)
    claims.add_column("numbers")
    for result in verdict.results:
        colour = rich_colour(outcome_look(result.outcome).tone)
        claims.add_row(escape(result.claim.says), f"[{colour}]{result.outcome}[/]", escape(result.detail))
    return claims


def verdict_line(verdict: Verdict) -> str:
    """The overall verdict, as Rich markup."""
    return f"[bold]Verdict:[/] [bold {rich_colour(outcome_look(verdict.outcome).tone)}]{verdict.outcome}[/]"


def paper_table(manifest: dict) -> Table:
    """The whole paper (paper.json): each result's verdict in the paper's order, and the summary."""
    table = Table(title=f"{manifest.get('title', 'the paper')}: {manifest.get('summary', '')}", title_justify="left")
    for column in ("result", "group", "status", "verdict"):
        table.add_column(column)
    for entry in manifest.get("results", []):
        outcome = str(entry.get("outcome", "-"))
        colour = rich_colour(outcome_look(outcome).tone) if "outcome" in entry else "default"
        table.add_row(
            escape(str(entry.get("heading", ""))),
            escape(str(entry.get("preset", ""))),
            str(entry.get("status", "")),
            f"[{colour}]{outcome}[/]",
        )
    if "outcome" in manifest:
        colour = rich_colour(outcome_look(manifest["outcome"]).tone)
        table.add_row(
            "[bold]the paper[/]", "", str(manifest.get("status", "")), f"[bold {colour}]{manifest['outcome']}[/]"
        )
    return table
