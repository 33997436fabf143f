"""The setup form of a group preset (a figure of the paper): what it runs, what it checks, at which scale.

A group's runs are fixed by its TOML, so the form only asks how to run them: the scale (the
default fits a 2-core CPU in minutes; `paper` is the original's schedule), optionally fewer or
more steps for every run (a quick look), and the device. The runs and their steps are shown as
they resolve at that scale, and the claims that will be checked when the last run ends. Like the
config form it posts `FormValidated` (form="group") after every change.
"""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Label, Static

from engine.config import ConfigError, Knob
from engine.groups import GroupError, GroupPreset, MemberRun
from engine.presets import DEFAULT_SCALE
from gradfail_tui.explorer.choices import GroupChoice
from gradfail_tui.explorer.messages import FormValidated
from gradfail_tui.explorer.widgets.family_list import runs_text
from gradfail_tui.explorer.widgets.rebuilt_form import FieldInput, RebuiltForm, scale_options

STEPS = Knob(name="steps", type=int, default=0, low=1, help="training steps of every run")


class GroupForm(RebuiltForm):
    device_select = "group-device"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.group: GroupPreset | None = None
        self.problems: list[str] = ["no group chosen yet"]
        self.members: list[MemberRun] = []
        self.border_title = "Figure"

    async def load(self, group: GroupPreset) -> None:
        self.group = group
        self.border_title = f"Figure · {group.name}"
        about = f"[b]{escape(group.title)}[/b]  ({escape(group.name)}, {runs_text(len(group.runs))})"
        if group.description:
            about += f"\n{escape(group.description)}"
        if group.paper:
            about += f"\n[i]paper:[/i] {escape(group.paper)}"
        scales = scale_options(group.name, group.scales)
        await self.rebuild(
            [
                Static(about, classes="family-info"),
                self.select_row("scale", scales, DEFAULT_SCALE, "group-scale"),
                self.part(
                    Vertical(
                        Horizontal(
                            Label("steps", classes="name"),
                            self.part(
                                FieldInput(
                                    "",
                                    placeholder="each run's own at this scale",
                                    id="group-steps",
                                    classes="value",
                                    select_on_focus=False,
                                    compact=True,
                                )
                            ),
                            classes="row",
                        ),
                        Static(
                            f"every run's steps, for a quick look [dim]· blank or {escape(STEPS.allowed())}[/dim]",
                            classes="help",
                        ),
                        self.part(Static("", id="group-steps-problem", classes="problem")),
                        classes="field",
                        id="group-steps-row",
                    )
                ),
                self.device_row(),
                self.part(Static("", id="group-runs", classes="group-runs")),
                Static(self._claims_text(group), id="group-claims", classes="group-claims"),
            ]
        )
        self.scroll_home(animate=False)
        self.check()

    @staticmethod
    def _claims_text(group: GroupPreset) -> str:
        lines = ["[b]Checked when the last run ends[/b]"]
        lines += [f"• {escape(claim.says)}" for claim in group.claims] or ["[dim](this group states no claim)[/dim]"]
        return "\n".join(lines)

    def check(self) -> list[str]:
        """Resolve the runs at the chosen scale and steps, show them, post FormValidated."""
        if self.group is None:
            return self.problems
        problems: list[str] = []
        overrides = {}
        text = self.parts["group-steps"].value.strip()
        if text:
            try:
                overrides["steps"] = STEPS.parse(text)
            except ValueError as exc:
                problems.append(f"steps: {exc}")
        steps_problem = problems[0].partition(": ")[2] if problems else ""
        self.members = []
        if not problems:
            try:
                self.members = self.group.members(
                    str(self.parts["group-scale"].value), overrides, source="the steps field"
                )
            except ConfigError as exc:
                problems += exc.problems
            except GroupError as exc:
                problems.append(str(exc))
        self.parts["group-steps-problem"].update(f"✗ {escape(steps_problem)}" if steps_problem else "")
        self.parts["group-steps-problem"].set_class(bool(steps_problem), "-shown")
        self.parts["group-steps-row"].set_class(bool(steps_problem), "-invalid")
        self.parts["group-runs"].update(self._runs_text(problems))
        self.problems = problems
        self.post_message(FormValidated(list(problems), form="group"))
        return problems

    def _runs_text(self, problems: list[str]) -> str:
        if problems:
            return "[b]Runs[/b]\n" + "\n".join(f"[$error]✗ {escape(p)}[/]" for p in problems)
        width = max(len(m.label) for m in self.members)
        lines = ["[b]Runs, one after another[/b]"]
        for member in self.members:
            steps = getattr(member.config, "steps", None)
            what = member.preset or member.family
            lines.append(
                f"  {escape(member.label.ljust(width))}  {escape(what)}"
                + (f"  {steps:,} steps" if isinstance(steps, int) else "")
                + f"  seed {member.seed}"
            )
        return "\n".join(lines)

    def choice(self) -> GroupChoice | None:
        """The validated group run the form describes, or None while it has problems."""
        if self.group is None or self.check():
            return None
        return GroupChoice(
            group=self.group,
            scale=str(self.parts["group-scale"].value),
            members=list(self.members),
            device=str(self.parts["group-device"].value),
        )
