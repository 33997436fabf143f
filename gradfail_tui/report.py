"""`gradfail report`: a Markdown report of recorded runs and groups, read from their records alone.

One section per directory given: for a group (`gradfail run --preset fig-...`) the paper's claim,
the verdict judged again from the recorded numbers (so an interrupted group reads "incomplete"),
its figures; for a single run, its family's figure. Then, for every run, the table of numbers,
the decoded curves and other "lines" pictures at three moments (first, middle and last recorded,
as the paper's Figure 6 shows them), "table" pictures as Markdown tables, the config (what differs
from the family's defaults, and all of it folded), the versions and whatever of the record could
not be read.

The figures are the terminal's own (gradfail_tui.render: a group's declared figure as the talk and
`gradfail run` draw it, the explorer's bitmaps), printed into a recording Rich console and saved with
`Console.export_svg`, one file each in a folder beside the report: report.md gets report_files/.
With matplotlib (the `figures` extra) each group's declared figure is also written as vector SVG, PDF
and PNG (render/vector.py), named after the paper's figure, and the report shows those; `write_figures`
writes only these (`gradfail report DIR --figures OUT`). Torch-free.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text

from engine import audit_figures
from engine.catalog import group_figure as group_figure_of
from engine.catalog import load_preset
from engine.config import differences
from engine.events import Snapshot
from engine.figures import Figure, FigureData, figure_data
from engine.groups import GroupError, GroupPreset, judge_record, recorded_states
from engine.paper import TITLE as PAPER_TITLE
from engine.paper import RecordedPaper, overall, read_paper
from engine.paper import summarise as count_outcomes
from engine.presets import PresetError
from engine.record import (
    GROUP_MANIFEST,
    JobKind,
    NotARecord,
    RecordedGroup,
    RecordedRun,
    check_record_dir,
    read_record,
    record_kind,
    safe_name,
)
from engine.registry import FamilySpec, UnknownFamily, get_family
from engine.state import RunState
from engine.status import RunStatus
from engine.sweeps import SweepRecord, boundaries, facets
from gradfail_tui.render import vector
from gradfail_tui.render.bitmaps import half_blocks, labelled_images, layout
from gradfail_tui.render.figure import render_figure
from gradfail_tui.render.format import format_cell, format_duration, format_value, unique_name
from gradfail_tui.render.heatmap import (
    boundary_curves,
    ended_text,
    heatmap,
    in_order,
    interval_text,
    passed_text,
    settings_text,
    value_range,
)
from gradfail_tui.render.plots import family_figure, overlay_figure, snapshot_renderable

FIGURE_WIDTH = 100  # terminal columns the figures are drawn at (the widest the terminal draws)
FIGURE_HEIGHT = 16  # rows, as print_group draws a group's figure
SNAPSHOT_WIDTH = 64  # three curves side by side in the report
MOMENTS = ("first", "middle", "last")
PANEL_ROWS = 14  # terminal rows per row of a declared figure's panels, all of them on one page
VECTOR_HINT = f"the figures as vector SVG, PDF and PNG need matplotlib: {vector.INSTALL_HINT}"


class ReportError(Exception):
    """The report cannot be written; `problems` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ReportWritten:
    path: Path
    files_dir: Path
    figures: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the records could not say (also in the report)
    notes: list[str] = field(default_factory=list)  # said once, not a problem: how to get the vector figures


def files_dir_for(output: Path) -> Path:
    """Where the SVGs of `output` go: report.md -> report_files/."""
    return output.with_name(output.stem + "_files")


def write_report(paths: list[Path], output: Path, force: bool = False) -> ReportWritten:
    """Write the report of the records at `paths` to `output`, its figures beside it.

    Raises ReportError when a path holds no record or the report would replace one without `force`.
    """
    problems = []
    for path in paths:
        if record_kind(path) in (JobKind.PAPER, JobKind.AUDIT):
            continue
        try:
            check_record_dir(path)
        except NotARecord as exc:
            problems.append(str(exc))
    files_dir = files_dir_for(output)
    if output.is_dir():
        problems.append(f"-o {output}: is a directory; give the Markdown file to write (report.md)")
    elif output.exists() and not force:
        problems.append(f"-o {output}: exists; give --force to replace it (and the figures in {files_dir.name}/)")
    if files_dir.exists() and not files_dir.is_dir():
        problems.append(f"{files_dir}: exists and is not a directory; the report's figures go there")
    if problems:
        raise ReportError(problems)

    figures = Figures(files_dir)
    written = ReportWritten(output, files_dir)
    lines = [
        "# gradfail report",
        "",
        "Written by `gradfail report` from the run records alone (nothing was trained again); "
        "each claim is judged again on the recorded numbers.",
        "",
    ]
    for number, path in enumerate(paths, 1):
        figures.prefix = f"{number:02d}"
        kind = record_kind(path)
        if kind is JobKind.PAPER:
            lines += paper_section(read_paper(path), figures, written)
            continue
        if kind is JobKind.AUDIT:
            lines += audit_section(path, written)
            continue
        record = read_record(path)
        if isinstance(record, RecordedGroup):
            lines += (sweep_section if kind is JobKind.SWEEP else group_section)(record, figures)
        else:
            lines += run_section(record, figures)
        written.problems += [f"{path}: {p}" for p in record.problems + figures.take_problems()]
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        figures.save(clear_old=force)
        output.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    except OSError as exc:
        raise ReportError([f"cannot write the report: {exc.strerror or exc} ({exc.filename or output})"]) from None
    written.figures = figures.paths
    if figures.any_declared and not figures.vector:
        written.notes.append(VECTOR_HINT)
    return written


def write_figures(paths: list[Path], folder: Path, force: bool = False) -> list[Path]:
    """Only the groups' declared figures, as vector SVG, PDF and PNG in `folder`, named after the paper's
    figure (figure-5.svg); a paper directory gives each of its groups'. Needs matplotlib.

    Raises ReportError when matplotlib is missing, a path holds no record, no path has a declared
    figure, or a file would be replaced without `force`."""
    if not vector.available():
        raise ReportError([f"--figures: {VECTOR_HINT}"])
    problems, found = [], []
    for path in paths:
        kind = record_kind(path)
        if kind is JobKind.PAPER:
            found += [data for _, group, _ in read_paper(path).judged() if group and (data := declared_data(group))]
            continue
        try:
            check_record_dir(path)
        except NotARecord as exc:
            problems.append(str(exc))
            continue
        record = read_record(path)
        data = declared_data(record) if isinstance(record, RecordedGroup) and kind is not JobKind.SWEEP else None
        if data is None:
            problems.append(
                f"{path}: declares no figure (a group preset's [figure] does: gradfail run --preset fig-...)"
            )
        else:
            found.append(data)
    if not found and not problems:
        problems.append(
            "no group here declares a figure (a group preset's [figure] does: gradfail run --preset fig-...)"
        )
    if folder.exists() and not folder.is_dir():
        problems.append(f"--figures {folder}: exists and is not a directory")
    stems: list[str] = []
    for data in found:
        stems.append(unique_name(slug(data.figure.name), set(stems), "{name}-{n}"))
    clashes = [folder / f"{s}.{fmt}" for s in stems for fmt in vector.FORMATS if (folder / f"{s}.{fmt}").exists()]
    if clashes and not force:
        problems.append(f"--figures {folder}: {clashes[0].name} exists; give --force to replace it")
    if problems:
        raise ReportError(problems)
    written: list[Path] = []
    try:
        for stem, data in zip(stems, found, strict=True):
            written += vector.save(data, folder, stem)
    except OSError as exc:
        raise ReportError([f"cannot write the figures: {exc.strerror or exc} ({exc.filename or folder})"]) from None
    return written


# ---- figures ---------------------------------------------------------------------------------


class Figures:
    """The report's SVG files: drawn as the terminal draws them, kept until `save`, linked by name."""

    def __init__(self, files_dir: Path):
        self.files_dir = files_dir
        self.prefix = ""
        self.svgs: dict[str, str] = {}
        self.problems: list[str] = []
        self.declared: dict[str, FigureData] = {}  # a declared figure's file stem -> its data, for matplotlib
        self.vector = vector.available()
        self.any_declared = False  # a declared figure was drawn (without matplotlib: say how to get its files)

    def figure(self, data: FigureData) -> list[str]:
        """A declared figure: drawn as the terminal draws it (every panel on one page), and, with
        matplotlib, as vector SVG, PDF and PNG too, which the report then shows. Markdown lines."""
        panels = max(1, len(data.panels))
        columns = max(1, min(data.columns, panels, FIGURE_WIDTH // 36))
        height = max(FIGURE_HEIGHT + 8, math.ceil(panels / columns) * PANEL_ROWS + 6)
        text, page = render_figure(data, FIGURE_WIDTH, height, keys=False)  # every page is drawn: no keys to name
        pages = [text] + [
            render_figure(data, FIGURE_WIDTH, height, page=n, keys=False)[0] for n in range(1, page.pages)
        ]
        name = data.figure.name
        self.any_declared = True
        terminal = self.add(f"{name}-terminal", data.figure.title, lambda c: [c.print(p) for p in pages])
        if not self.vector:
            return [terminal, ""] if terminal else []
        stem = self._unique(f"{self.prefix}-{slug(name)}")
        self.declared[stem] = data
        self.svgs[stem + ".svg"] = ""  # its name taken; written by `save`
        where = f"{self.files_dir.name}/{stem}"
        lines = [f"![{md_text(data.figure.title)}]({where}.svg)", ""]
        also = [f"[PDF]({where}.pdf)", f"[PNG]({where}.png)"]
        if terminal:
            also.append("[as the terminal draws it](" + terminal.rsplit("(", 1)[1])
        return lines + ["Also: " + " · ".join(also), ""]

    @property
    def paths(self) -> list[Path]:
        paths = [self.files_dir / name for name in self.svgs if name.removesuffix(".svg") not in self.declared]
        return paths + [self.files_dir / f"{stem}.{fmt}" for stem in self.declared for fmt in vector.FORMATS]

    def add(self, name: str, title: str, draw, width: int = FIGURE_WIDTH) -> str | None:
        """Record what `draw(console)` prints as an SVG; returns the Markdown image, or None if it drew nothing."""
        console = Console(
            record=True, width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor", no_color=False
        )  # a file, not the user's terminal
        draw(console)
        if not console.export_text(clear=False).strip():
            return None
        stem = self._unique(f"{self.prefix}-{slug(name)}")
        self.svgs[stem + ".svg"] = console.export_svg(title=title, unique_id=f"gf-{stem}")
        return f"![{md_text(title)}]({self.files_dir.name}/{stem}.svg)"

    def plot(self, name: str, title: str, renderable: RenderableType | None, width: int = FIGURE_WIDTH) -> str | None:
        if renderable is None:  # a figure with nothing to draw
            return None
        return self.add(name, title, lambda console: console.print(renderable), width)

    def note(self, problem: str) -> None:
        self.problems.append(problem)

    def take_problems(self) -> list[str]:
        taken, self.problems = self.problems, []
        return taken

    def save(self, clear_old: bool) -> None:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        if clear_old:  # --force: figures of the replaced report must not linger beside the new one
            for fmt in vector.FORMATS:
                for old in self.files_dir.glob(f"*.{fmt}"):
                    old.unlink()
        for name, svg in self.svgs.items():
            if name.removesuffix(".svg") not in self.declared:
                (self.files_dir / name).write_text(svg, encoding="utf-8")
        for stem, data in self.declared.items():
            vector.save(data, self.files_dir, stem)

    def _unique(self, stem: str) -> str:
        return unique_name(stem, {name.removesuffix(".svg") for name in self.svgs}, "{name}-{n}")


def slug(text: str) -> str:
    return safe_name(text, empty="figure").lower()


# ---- sections --------------------------------------------------------------------------------


@dataclass
class Member:
    """One run of a section: its label, its record, what it looked like at the end, its family."""

    label: str
    record: RecordedRun | None  # None: listed in group.json but never started
    state: RunState | None
    spec: FamilySpec | None
    status: str = ""

    @property
    def family(self) -> str:
        if self.state is not None and self.state.family:
            return self.state.family
        return str(self.record.manifest.get("family", "")) if self.record else ""


def sweep_section(sweep: RecordedGroup, figures: Figures) -> list[str]:
    """A sweep (`gradfail sweep`): what it ran, the phase diagram(s), every cell, every run.
    Runs are listed, not given a section each: a sweep may hold thousands."""
    record = SweepRecord.from_manifest(sweep.manifest)
    what = record.mapping.describe()
    success = record.mapping.success is not None
    runs, wall, ended = record.runs, record.wall_s, record.ended
    lines = [
        f"## Sweep: {md_text(record.title or sweep.path.name)}",
        "",
        f"`{sweep.path}`: **{record.status}**, {ended}/{len(runs)} runs ended"
        + (f", wall time {format_duration(wall)} ({ended / wall * 60:,.1f} runs/min)" if wall > 0 and ended else ""),
        "",
        f"Base: {record.preset or record.family}"
        + (" with " + ", ".join(f"{k}={v}" for k, v in record.base.items()) if record.base else "")
        + f"; seeds {', '.join(str(s) for s in record.seeds)}"
        + ("; seeds trained as lanes of one model" if record.batched else "")
        + f"; device {record.device}.",
        "",
        "Grid: " + "; ".join(f"{a.key} = {', '.join(str(v) for v in a.values)}" for a in record.grid),
        "",
        (
            f"Mapped: the share of each cell's seeds with {md_text(record.mapping.describe_success())}, k of n, "
            "with its 95% Wilson interval: a completed seed is judged by that test, a diverged one did not pass, "
            "and one that failed or was interrupted is left out of n."
            if success
            else f"Mapped: {what} of each run, mean over its seeds."
        ),
        "",
    ]
    found = facets(record)
    if found:
        low, high = (0.0, 1.0) if success else value_range(found)
        name = record.mapping.describe_success() if success else what
        for facet in found:
            title = name + (f" at {facet.title}" if facet.title else "")
            drawn = heatmap(facet, low, high, title=title, success=success)
            image = figures.plot(f"sweep-{title}", title, drawn, width=FIGURE_WIDTH)
            if image:
                lines += [image, ""]
        lines += [
            f"Colour scale: {format_value(low)} (dark) to {format_value(high)} (yellow); "
            + (
                "each cell shows k/n of its seeds that passed; `·` waiting, `…` running, `✗` every run failed, "
                "`!` some seeds left out."
                if success
                else "`·` waiting, `…` running, `✗` every run failed, `!` some runs failed."
            ),
            "",
        ]
    keys = record.keys
    columns = (
        ["passed", "95% interval", "left out", f"{what} (mean)"] if success else [f"{what} (mean)", "sd", "min", "max"]
    )
    lines += ["### Cells", "", "| " + " | ".join([*keys, *columns, "runs"]) + " |"]
    lines.append("|" + "---|" * (len(keys) + len(columns) + 1))
    for cell in in_order(list(record.cells), keys):
        mean = format_value(cell.mean) if cell.mean is not None else "-"
        if success:
            counted = cell.successes
            numbers = [passed_text(counted), interval_text(counted), str(counted.left_out or "-"), mean]
        else:
            spread = [cell.sd, min(cell.values, default=None), max(cell.values, default=None)]
            numbers = [mean, *(format_value(x) if x is not None else "-" for x in spread)]
        lines.append(
            "| " + " | ".join(settings_text(cell, keys, record.mapping.x) + numbers + [ended_text(cell)]) + " |"
        )
    lines += boundary_section(record, figures)
    passed_column = ("| passed " if success else "", "---|" if success else "")
    lines += [
        "",
        "### Runs",
        "",
        f"| run | status | steps | value {passed_column[0]}| record |",
        f"|---|---|---|---|{passed_column[1]}---|",
    ]
    early = sum(1 for run in runs if run.stopped_early)
    if early:
        lines[-2:-2] = [  # before the table's head
            f"{early} run{'s' if early != 1 else ''} stopped early once passed (`--stop-when-decided`): "
            "completed at the step named in its status; the others trained their full budget.",
            "",
        ]
    for run in runs:
        where = f"`{run.dir}`" if run.dir else RunStatus.NOT_RUN
        passed = {True: "yes", False: "no", None: "-"}[run.passed] + " | " if success else ""
        status = f"{run.status} (stopped early: {md_cell(run.stopped_early)})" if run.stopped_early else run.status
        lines.append(
            f"| {md_cell(run.label)} | {status} | {run.steps:,} | "
            f"{format_value(run.value) if run.value is not None else '-'} | {passed}{where} |"
        )
    return lines + [""] + problems_lines([*sweep.problems, *record.problems])


def boundary_section(record: SweepRecord, figures: Figures) -> list[str]:
    """A success map's boundaries along x (where the share of seeds that passed crosses one half), one
    line per row, and the boundary drawn against y; the refinement that located them, if any."""
    found = boundaries(record)
    if not found or not any(b.judged for b in found):
        return []
    plan = record.refinement
    lines = ["", "### Boundaries", ""]
    if plan is not None:
        lines += [
            f"Refined along {plan.axis} (`--refine {plan.cells}`): {plan.cells - plan.left} extra cells in "
            f"{plan.rounds} round{'s' if plan.rounds != 1 else ''}, each bisecting a boundary not yet located to {plan.resolution:g}; the refined "
            f"cells are marked `+`.",
            "",
        ]
    lines += [f"- {md_text(b.describe(plan.resolution if plan else None))}" for b in found]
    for number, curve in enumerate(boundary_curves(found, FIGURE_WIDTH)):
        image = figures.plot(f"sweep-boundary-{number}", f"{found[0].x_key}* against {found[0].y_key}", curve)
        if image:
            lines += ["", image]
    return lines


def group_section(group: RecordedGroup, figures: Figures) -> list[str]:
    manifest = group.manifest
    title = str(manifest.get("title") or group.path.name)
    states = recorded_states(group)
    members = [
        Member(label, run, states[label], family_spec(states[label].family or run.manifest.get("family")))
        for label, run in group.runs
    ]
    recorded = {m.label for m in members}
    for item in manifest.get("runs") or []:  # runs the group never got to
        if isinstance(item, dict) and item.get("label") not in recorded:
            status = str(item.get("status", RunStatus.NOT_RUN))
            if status not in (RunStatus.NOT_RUN, RunStatus.WAITING):  # it ran, but its directory is gone
                status = f"no record ({GROUP_MANIFEST} says {status})"
            members.append(Member(str(item.get("label", "?")), None, None, None, status))

    lines = [f"## {md_text(title)}", ""]
    facts = [f"`{group.path}`"]
    for key, name in (("preset", "preset"), ("scale", "scale"), ("status", "status")):
        if manifest.get(key):
            facts.append(f"{name} {md_text(str(manifest[key]))}")
    facts.append(f"{len(group.runs)} of {len(members)} runs recorded")
    facts += wall_time(manifest)
    lines += [" · ".join(facts), ""]
    if manifest.get("description"):
        lines += [md_text(str(manifest["description"])), ""]
    if manifest.get("paper"):
        lines += [f"**The paper:** {md_text(str(manifest['paper']))}", ""]
    lines += verdict_lines(group)
    data = declared_data(group, members)
    lines += figures.figure(data) if data is not None else group_figures(manifest, members, title, figures)
    lines += runs_sections(members, figures, metrics_to_show(manifest, members))
    lines += problems_lines(group.problems)
    return lines


def wall_time(manifest: dict[str, Any]) -> list[str]:
    """A group's, paper's or audit's wall time, as a fact of its header line; for one still running (or
    stopped without a word), when it started: its wall time is written only when it ends."""
    if manifest.get("status") == RunStatus.RUNNING:
        return [f"since {manifest['started_at']}"] if manifest.get("started_at") else []
    wall = manifest.get("wall_s")
    return [f"wall time {format_duration(wall)}"] if isinstance(wall, (int, float)) else []


def paper_section(recorded: RecordedPaper, figures: Figures, written: ReportWritten) -> list[str]:
    """`gradfail run --preset paper`: the summary of every result, judged again, then a section each."""
    manifest = recorded.manifest
    judged = recorded.judged()
    outcomes = [outcome for _, _, outcome in judged]
    lines = [f"# {md_text(str(manifest.get('title') or PAPER_TITLE))}", ""]
    facts = [f"`{recorded.path}`"] + [
        f"{key} {md_text(str(manifest[key]))}" for key in ("scale", "device", "status") if manifest.get(key)
    ]
    facts += wall_time(manifest)
    lines += [" · ".join(facts), "", f"**Verdict: {overall(outcomes)}** ({count_outcomes(outcomes)})", ""]
    lines += ["| result | group | verdict |", "|---|---|---|"]
    for entry, _, outcome in judged:
        lines.append(f"| {md_cell(str(entry.get('heading', '')))} | `{entry.get('preset', '')}` | **{outcome}** |")
    lines.append("")
    base = figures.prefix
    for number, (entry, group, _) in enumerate(judged, 1):
        figures.prefix = f"{base}-{number:02d}"
        if group is None:
            _, why = recorded.group(entry)
            lines += [f"## {md_text(str(entry.get('heading', '')))}", "", md_text(why), ""]
            continue
        lines += group_section(group, figures)
        written.problems += [f"{group.path}: {p}" for p in group.problems + figures.take_problems()]
    written.problems += [f"{recorded.path}: {p}" for p in recorded.problems]
    return lines


def run_section(run: RecordedRun, figures: Figures) -> list[str]:
    state = RunState.from_record(run.events, run.manifest, label=run.label)
    spec = family_spec(state.family or run.manifest.get("family"))
    member = Member(run.label, run, state, spec)
    title = run.label + (f" ({spec.title})" if spec else "")
    lines = [f"## {md_text(title)}", "", f"`{run.path}` · status {run.status}", ""]
    preset = single_preset(run.manifest.get("preset"))
    if preset is not None and preset.description:
        lines += [md_text(preset.description), ""]
    if preset is not None and preset.paper:
        lines += [f"**The paper:** {md_text(preset.paper)}", ""]
    elif spec is not None:
        lines += [f"**The paper** ({md_text(spec.paper_ref)}): {md_text(spec.claim)}", ""]
    lines += [
        "**Verdict:** no claim checked: a single run states none "
        "(the group presets, `gradfail run --preset fig-...`, check the paper's claims)",
        "",
    ]
    if state.changes:  # settings changed mid-run (the figure marks each)
        said = "; ".join(f"after step {c.step:,}: {c.describe()}" for c in state.changes)
        lines += [f"**Changed during the run:** {md_text(said)}", ""]
    if spec is not None:
        image = figures.plot(f"{run.label}-figure", f"{run.label}", family_figure(spec, [state], FIGURE_WIDTH))
        lines += [image, ""] if image else []
    lines += runs_sections([member], figures, [m.name for m in spec.metrics] if spec else sorted(state.latest))
    lines += problems_lines(run.problems)
    return lines


def is_seed_group(manifest: dict[str, Any], labels: list[str]) -> bool:
    """A `--seeds N` group: so its manifest says, or, with no manifest to say, its runs' directory names."""
    kind = manifest.get("kind")
    return kind == JobKind.SEEDS or (not kind and bool(labels) and all(re.fullmatch(r"seed-\d+", x) for x in labels))


def verdict_lines(group: RecordedGroup) -> list[str]:
    claims = [c for c in group.manifest.get("claims") or [] if isinstance(c, dict)]
    if not claims:
        if is_seed_group(group.manifest, [label for label, _ in group.runs]):
            return ["**Verdict:** no claim checked: several seeds of one run state none", ""]
        if any(p.startswith(GROUP_MANIFEST) for p in group.problems):
            return [f"**Verdict: incomplete**: the claims are kept in {GROUP_MANIFEST}, which could not be read", ""]
        return ["**Verdict:** no claim checked: this group states none", ""]
    try:
        verdict = judge_record(group)
    except GroupError as exc:  # a claim edited by hand into something no preset may say
        return [f"**Verdict: incomplete**: the claims in {GROUP_MANIFEST} cannot be judged ({md_text(str(exc))})", ""]
    audited = audit_figures.held_for_record(group)  # how often it holds over seeds, where this setup was audited
    lines = [f"**Verdict: {verdict.outcome}**" + (f" ({audited})" if audited else "")]
    lines += ["", "| claim | outcome | numbers |", "|---|---|---|"]
    for result in verdict.results:
        cited = f" (the paper: {result.claim.paper})" if result.claim.paper else ""
        lines.append(f"| {md_cell(result.claim.says + cited)} | **{result.outcome}** | {md_cell(result.detail)} |")
    recorded = group.manifest.get("verdict")
    if isinstance(recorded, dict) and recorded.get("outcome") not in (None, verdict.outcome):
        lines += [
            "",
            f'(When the group ended, the verdict recorded was "{md_text(str(recorded["outcome"]))}"; '
            "the one above is judged again on the records as they are now.)",
        ]
    return lines + [""]


def group_figures(manifest: dict[str, Any], members: list[Member], title: str, figures: Figures) -> list[str]:
    """The group's metrics with every run overlaid (as `gradfail run` prints them at the end), or,
    for a group of seeds, the family's figure with each seed and their mean; else each run's own."""
    ran = [m for m in members if m.state is not None]
    lines: list[str] = []
    specs = {m.spec for m in ran}
    if is_seed_group(manifest, [m.label for m in ran]) and len(specs) == 1 and None not in specs and ran:
        spec = specs.pop()
        image = figures.plot("seeds", title, family_figure(spec, [m.state for m in ran], FIGURE_WIDTH))
        return [image, ""] if image else []
    plot = [p for p in manifest.get("plot") or [] if isinstance(p, str)]
    if plot:
        for metric in plot:
            image = figures.plot(
                metric, f"{title}: {metric}", group_figure(title, metric, ran, bool(manifest.get("log_y")))
            )
            lines += [image, ""] if image else [f"(no run recorded {metric})", ""]
        return lines
    for member in ran:
        if member.spec is not None:
            image = figures.plot(
                f"{member.label}-figure", member.label, family_figure(member.spec, [member.state], FIGURE_WIDTH)
            )
            lines += [f"**{md_text(member.label)}**", "", image, ""] if image else []
    return lines


def declared_figure(preset: Any) -> Figure | None:
    """The figure the group preset `preset` declares ([figure]); None if it declares none or cannot be read."""
    figure = group_figure_of(preset)
    return figure if figure is not None and figure.declared else None


def declared_data(group: RecordedGroup, members: list[Member] | None = None) -> FigureData | None:
    """The numbers of the group's declared figure, from its records (every snapshot, for its pictures)."""
    figure = declared_figure(group.manifest.get("preset"))
    if figure is None:
        return None
    if members is None:
        states = recorded_states(group)
        members = [Member(label, run, states[label], None) for label, run in group.runs]
    ran = [m for m in members if m.state is not None and m.record is not None]
    snapshots = {m.label: [e for e in m.record.events if isinstance(e, Snapshot)] for m in ran}
    return figure_data(figure, {m.label: m.state for m in ran}, snapshots)


def group_figure(title: str, metric: str, members: list[Member], log_y: bool) -> Text | None:
    """One metric of every run, overlaid: the figure `gradfail run` prints at the end of a group."""
    return overlay_figure(
        title,
        metric,
        {m.label: m.state for m in members},
        [m.spec for m in members],
        log_y=log_y,
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
    )


def metrics_to_show(manifest: dict[str, Any], members: list[Member]) -> list[str]:
    """The plotted metrics, those the claims read, and each family's headline, in that order."""
    names = [p for p in manifest.get("plot") or [] if isinstance(p, str)]
    for claim in manifest.get("claims") or []:
        if isinstance(claim, dict):
            names += [claim[k] for k in ("metric", "over") if isinstance(claim.get(k), str)]
    for member in members:
        if member.spec is not None:
            names += member.spec.headline_metrics(2)
    return list(dict.fromkeys(names))


# ---- per run: numbers, pictures, config, versions --------------------------------------------


def runs_sections(members: list[Member], figures: Figures, metrics: list[str]) -> list[str]:
    lines = [
        "### Runs",
        "",
        "| run | family | status | steps | wall time | how it ended |",
        "|---|---|---|---|---|---|",
    ]
    for m in members:
        if m.state is None:
            lines.append(f"| {md_cell(m.label)} |  | {md_cell(m.status)} | - | - |  |")
            continue
        total = f" / {m.state.total_steps:,}" if m.state.total_steps else ""
        preset = m.record.manifest.get("preset") if m.record else None
        family = m.family + (f" ({preset})" if preset else "")
        lines.append(
            f"| {md_cell(m.label)} | {md_cell(family)} | {md_cell(m.state.status)} | {m.state.step:,}{total} "
            f"| {format_duration(m.state.t) if m.state.t else '-'} | {md_cell(m.state.message)} |"
        )
    rows = []
    for m in members:
        if m.state is None:
            continue
        shown = [n for n in metrics if m.state.series.get(n)]
        shown += [n + "_upper" for n in shown if m.state.series.get(n + "_upper") and n + "_upper" not in shown]
        for name in shown:
            points = m.state.series[name]
            ys = [y for _, y in points]
            rows.append(
                f"| {md_cell(m.label)} | `{name}` | {format_value(points[-1][1])} | {points[-1][0]:,} "
                f"| {format_value(min(ys))} | {format_value(max(ys))} |"
            )
    lines += ["", "### Numbers", ""]
    if rows:
        lines += [
            "Each metric's last recorded value (and the step it was measured at), and the lowest and highest.",
            "",
            "| run | metric | last | at step | min | max |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    else:
        lines += ["(no metric was recorded)", ""]
    for m in members:
        if m.record is not None:
            lines += snapshot_lines(m, figures)
    lines += config_lines(members)
    lines += versions_lines(members)
    return lines


def snapshot_lines(member: Member, figures: Figures) -> list[str]:
    """Each picture the run recorded: "lines" at three moments, "images" and "table" as last seen."""
    by_name: dict[str, list[Snapshot]] = {}
    for event in member.record.events:
        if isinstance(event, Snapshot):
            by_name.setdefault(event.name, []).append(event)
    lines: list[str] = []
    for name, snaps in by_name.items():
        last = snaps[-1]
        title = str(last.data.get("title", name)) if isinstance(last.data, dict) else name
        heading = f"#### {md_text(member.label)}: {md_text(title)}"
        try:
            if last.kind == "lines":
                chosen = three_moments(snaps)
                images = [
                    figures.add(
                        f"{member.label}-{name}-{moment}",
                        f"{member.label}: {name}, step {snap.step:,}",
                        lambda c, s=snap: c.print(snapshot_renderable(s, SNAPSHOT_WIDTH)),
                        width=SNAPSHOT_WIDTH,
                    )
                    for moment, snap in chosen
                ]
                steps = ", ".join(f"{moment} recorded (step {snap.step:,})" for moment, snap in chosen)
                lines += [heading, "", f"At the {steps}:", "", " ".join(i for i in images if i), ""]
            elif last.kind == "table":
                lines += [heading, "", f"At step {last.step:,}:", ""] + markdown_table(last.data) + [""]
            elif last.kind == "images":
                image = figures.add(
                    f"{member.label}-{name}",
                    f"{member.label}: {name}, step {last.step:,}",
                    lambda c, data=last.data: c.print(bitmaps(data)),
                )
                lines += [heading, "", f"At step {last.step:,}:", "", image or "(no images)", ""]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # data a family or a hand wrote wrong
            figures.note(f"{member.label}: snapshot {name!r} cannot be drawn ({type(exc).__name__}: {exc})")
            lines += [heading, "", f"(cannot be drawn: {md_text(str(exc))})", ""]
    return lines


def three_moments(snaps: list[Snapshot]) -> list[tuple[str, Snapshot]]:
    """The first, middle and last snapshot recorded (fewer when fewer were)."""
    indices = (0, len(snaps) // 2, len(snaps) - 1)
    return [(moment, snaps[i]) for n, (moment, i) in enumerate(zip(MOMENTS, indices)) if i not in indices[:n]]


def bitmaps(data: dict[str, Any]) -> Text:
    """An "images" snapshot drawn as the explorer draws it: half blocks, labelled, wrapped."""
    drawn = [(label, half_blocks(bits)) for label, bits in labelled_images(data)]
    return Text("\n".join(layout(drawn, FIGURE_WIDTH)), no_wrap=True) if drawn else Text("")


def markdown_table(data: dict[str, Any]) -> list[str]:
    columns = [str(c) for c in data.get("columns", [])]
    rows = data.get("rows", [])
    if not columns:
        return ["(an empty table)"]
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [format_cell(c) for c in row]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return lines


def config_lines(members: list[Member]) -> list[str]:
    lines = ["### Config", ""]
    for m in members:
        if m.record is None:
            continue
        config = m.record.manifest.get("config") or (m.state.config if m.state else {})
        seed = m.record.manifest.get("seed", m.state.seed if m.state else "?")
        if not isinstance(config, dict):
            lines += [f"- **{md_text(m.label)}**: config not recorded", ""]
            continue
        if m.spec is not None:
            changed = differences(config, m.spec.config_cls())
            differs = ", ".join(f"`{k} = {v}`" for k, v in changed.items()) or "none"
            lines.append(
                f"- **{md_text(m.label)}** ({m.family}, seed {seed}): differs from the family's defaults: {differs}"
            )
        else:
            lines.append(
                f"- **{md_text(m.label)}** (seed {seed}): the family {m.family or '?'} is not known to this "
                "gradfail, so its defaults cannot be compared"
            )
        lines += ["", "  <details><summary>the full config</summary>", "", "  ```json"]
        lines += ["  " + line for line in json.dumps(config, indent=2, sort_keys=True).splitlines()]
        lines += ["  ```", "", "  </details>", ""]
    return lines


def versions_lines(members: list[Member]) -> list[str]:
    """gradfail, python, torch and the device, once for all runs that share them."""
    by_setup: dict[str, list[str]] = {}
    for m in members:
        if m.record is None:
            continue
        manifest = m.record.manifest
        versions = manifest.get("versions") if isinstance(manifest.get("versions"), dict) else {}
        parts = [f"{name} {versions[name]}" for name in ("gradfail", "python", "torch") if versions.get(name)]
        device = manifest.get("device_name") or (m.state.device_name if m.state else "") or manifest.get("device")
        parts.append(f"device {device}" if device else "device not recorded")
        by_setup.setdefault(" · ".join(parts) if len(parts) > 1 else "versions not recorded", []).append(m.label)
    lines = ["### Versions", ""]
    for setup, labels in by_setup.items():
        who = "" if len(by_setup) == 1 else f" ({', '.join(labels)})"
        lines.append(f"- {md_text(setup)}{md_text(who)}")
    return lines + [""]


def problems_lines(problems: list[str]) -> list[str]:
    if not problems:
        return []
    return (
        [
            "### Problems with the record",
            "",
            "What could not be read; everything else above is what the record holds.",
            "",
        ]
        + [f"- {md_text(p)}" for p in problems]
        + [""]
    )


# ---- helpers ---------------------------------------------------------------------------------


def family_spec(name: Any) -> FamilySpec | None:
    try:
        return get_family(str(name)) if name else None
    except UnknownFamily:
        return None


def single_preset(name: Any):
    """The single-run preset a run was started from, for its description and the paper's words."""
    if not isinstance(name, str) or not name:
        return None
    try:
        preset = load_preset(name)
    except PresetError:
        return None  # renamed or removed since the run: the record still has its config
    return None if isinstance(preset, GroupPreset) else preset


def md_text(text: str) -> str:
    """Plain text in Markdown, kept readable: escaped only where it would turn into code, emphasis,
    a tag or a table's column (`<=` and test_acc stay as they are)."""
    text = re.sub(r"([\\`*|])", r"\\\1", text)
    text = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)
    text = re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)
    return text.replace("\n", " ")


def md_cell(text: str) -> str:
    return md_text(str(text))


# ---- an audit (`gradfail audit`) -----------------------------------------------------------------


def audit_section(path: Path, written: ReportWritten) -> list[str]:
    """An audit directory: per claim k of n blocks reproduced, the 95% Wilson interval, the blocks that
    could not judge it and the margin's spread; then each block's verdict. Every block is judged again
    on its group's records (`gradfail report block-01` gives one block's figures and numbers)."""
    from engine.audit import GROUP_CLAIM, pooled_rows, read_audit, tally_cells
    from engine.record import RecordError

    try:
        recorded = read_audit(path)
    except RecordError as exc:
        written.problems.append(f"{path}: {exc}")
        return [f"## Audit: `{path}`", "", md_text(str(exc)), ""]
    manifest = recorded.manifest
    blocks = [entry for entry in manifest["blocks"] if isinstance(entry, dict)]
    facts = [f"`{path}`", f"{len(blocks)} seed blocks from seed {manifest.get('first_seed')}"]
    facts += [f"{key} {md_text(str(manifest[key]))}" for key in ("scale", "device", "status") if manifest.get(key)]
    facts += wall_time(manifest)
    lines = [f"## Audit: {md_text(str(manifest.get('title') or manifest.get('preset') or path.name))}", ""]
    lines += [" · ".join(facts), ""]
    lines += [
        "How often each claim came out reproduced over the blocks that could judge it (k/n), with its 95% "
        "Wilson interval; blocks whose runs did not complete are counted apart (incomplete). The margin is "
        "how far the claim's value was from its threshold (or the nearest rival's value), positive when it "
        "holds with room; dec: in decades (docs/audit.md).",
        "",
        "| claim | reproduced | 95% interval | incomplete | margin min / median / max |",
        "|---|---|---|---|---|",
    ]
    for t in recorded.tallies:
        cells = " | ".join(md_cell(cell) for cell in tally_cells(t))
        says = f"**{md_cell(t.says)}**" if t.says == GROUP_CLAIM else md_cell(t.says)
        lines.append(f"| {says} | {cells} |")
    if pooled := pooled_rows(recorded.tallies):
        lines += [
            "",
            "The claims that count seeds, their seeds pooled over the judged blocks: how likely one seed is to "
            "show what the claim counts, with its 95% Wilson interval.",
            "",
            "| claim | run | seeds counted | rate (95% interval) |",
            "|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in pooled]
    lines += ["", "| block | seed | directory | status | verdict | claims |", "|---|---|---|---|---|---|"]
    for entry, verdict in zip(blocks, recorded.verdicts, strict=False):
        claims = " · ".join(str(c.get("outcome")) for c in (verdict or {}).get("claims") or [])
        outcome = f"**{(verdict or {}).get('outcome')}**" if verdict else "-"
        where = f"`{entry['dir']}`" if entry.get("dir") else "-"
        lines.append(
            f"| {entry.get('block')} | {entry.get('seed')} | {where} | {md_cell(str(entry.get('status')))} "
            f"| {outcome} | {md_cell(claims) or '-'} |"
        )
    written.problems += [f"{path}: {p}" for p in recorded.problems]
    return lines + [""]
