"""The Setup tab: the families and figures on the left, the form of the one picked on the right, Start.

It owns what the form says: which form is shown (`mode`: a family's run or a figure's group) and
its problems (Start stays disabled while there are any). Starting posts what to run, validated
(`JobRequested`); the app decides whether it can start now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Button, Input, Static

from engine.groups import GroupPreset
from engine.presets import Preset
from engine.registry import FamilySpec
from engine.sweeps import SweepPreset
from gradfail_tui.explorer.messages import (
    FamilyPicked,
    FormValidated,
    GroupPicked,
    JobRequested,
    SweepPicked,
)
from gradfail_tui.explorer.widgets.config_form import ConfigForm
from gradfail_tui.explorer.widgets.family_list import GROUP_PREFIX, SWEEP_PREFIX, FamilyList
from gradfail_tui.explorer.widgets.group_form import GroupForm
from gradfail_tui.explorer.widgets.sweep_form import SweepForm

RUN, GROUP, SWEEP = "run", "group", "sweep"  # the three forms


@dataclass(frozen=True)
class Offer:
    """What the Setup tab offers: the families (and why any did not load), single-run presets, group
    presets (the figures), sweep presets (the phase diagrams), and the presets that did not load."""

    families: dict[str, FamilySpec]
    presets: list[Preset] = field(default_factory=list)
    groups: list[GroupPreset] = field(default_factory=list)
    sweeps: list[SweepPreset] = field(default_factory=list)
    family_errors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class SetupPane(Horizontal):
    mode: reactive[str] = reactive(RUN, init=False)
    problems: reactive[tuple[str, ...]] = reactive(("no family chosen yet",), init=False)

    def __init__(self, offer: Offer, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.families, self.family_errors, self.presets = offer.families, offer.family_errors, offer.presets
        self.groups, self.sweeps = offer.groups, offer.sweeps

    def compose(self):
        yield FamilyList(self.families, self.family_errors, self.groups, self.sweeps, id="families")
        with Vertical(id="setup-right"):
            yield ConfigForm(self.presets, id="form")
            yield GroupForm(id="group-form")
            yield SweepForm(id="sweep-form")
            with Horizontal(id="actions"):
                yield Button("Start (s)", id="start", variant="success", disabled=True, compact=True)
                yield Static("", id="start-problems")

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    @property
    def group_form(self) -> GroupForm:
        return self.query_one(GroupForm)

    def watch_mode(self, mode: str) -> None:
        self.query_one("#setup-right").set_class(mode == GROUP, "-group")
        self.query_one("#setup-right").set_class(mode == SWEEP, "-sweep")
        self.watch_problems(self.problems)  # the hint names what Start starts

    def watch_problems(self, problems: tuple[str, ...]) -> None:
        self.query_one("#start", Button).disabled = bool(problems)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        self.query_one("#start-problems", Static).update(
            f"[$error]✗ {escape(problems[0])}[/]{more}"
            if problems
            else f"[dim]Enter in a field, s or the button starts the {self.mode}[/dim]"
        )

    # -- picking ---------------------------------------------------------------------------------
    async def pick_first(self, name: str | None = None) -> None:
        """What the tab opens on: the preset named (a run's, a group's or a sweep's), else the first family."""
        chosen = next((p for p in self.presets if p.name == name), None)
        first = chosen.family if chosen else next(iter(self.families), None)
        if first:
            await self.pick_family(first, chosen.name if chosen else None)
        if name is not None:  # each does nothing unless it knows the name
            await self.pick_group(name)
            await self.pick_sweep(name)

    async def pick_family(self, name: str, preset: str | None = None) -> None:
        spec = self.families.get(name)
        if spec is None:
            return
        self.query_one(FamilyList).highlight_family(name)
        self.mode = RUN
        await self.form.load(spec, preset)

    async def pick_group(self, name: str) -> None:
        """Show a group preset (a figure): its runs, its claims, its scales."""
        group = next((g for g in self.groups if g.name == name), None)
        if group is None:
            return
        self.query_one(FamilyList).highlight_family(GROUP_PREFIX + name)
        self.mode = GROUP
        await self.group_form.load(group)

    async def pick_sweep(self, name: str) -> None:
        """Show a sweep preset (a phase diagram): its grid at a scale."""
        sweep = next((s for s in self.sweeps if s.name == name), None)
        if sweep is None:
            return
        self.query_one(FamilyList).highlight_family(SWEEP_PREFIX + name)
        self.mode = SWEEP
        await self.query_one(SweepForm).load(sweep)

    async def on_sweep_picked(self, message: SweepPicked) -> None:
        await self.pick_sweep(message.name)
        self.query_one("#sweep-scale").focus()

    async def on_family_picked(self, message: FamilyPicked) -> None:
        await self.pick_family(message.name)
        fields = self.form.query(".value")
        if fields:
            fields.first().focus()

    async def on_group_picked(self, message: GroupPicked) -> None:
        await self.pick_group(message.name)
        self.query_one("#group-scale").focus()

    def set_devices(self, devices: list[str]) -> None:
        self.form.set_devices(devices)
        self.group_form.set_devices(devices)
        self.query_one(SweepForm).set_devices(devices)

    def on_form_validated(self, message: FormValidated) -> None:
        """Only the form on screen decides (the other one may check itself when devices arrive);
        the message goes on up, so the app refreshes its keys."""
        if message.form == self.mode:
            self.problems = tuple(message.problems)

    # -- starting --------------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    @on(Input.Submitted)
    def _start_asked(self) -> None:
        self.request_start()

    def request_start(self) -> bool:
        """Post what the form on screen says to run; False (and the form's problems shown) if it cannot."""
        form = {GROUP: self.group_form, SWEEP: self.query_one(SweepForm)}.get(self.mode, self.form)
        choice = form.choice()
        if choice is None:
            self.notify("Fix the settings first: " + escape("; ".join(form.problems)), severity="warning", timeout=6)
            return False
        self.post_message(JobRequested(choice))
        return True
