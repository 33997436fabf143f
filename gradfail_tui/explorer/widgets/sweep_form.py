"""The setup form of a sweep preset (a phase diagram: many runs over a grid): its scale and device.

A sweep's grid, seeds and mapped metric are fixed by its TOML (`gradfail sweep` takes the rest on
its command line), so the form asks only how to run it: the scale (the default fits a 2-core CPU
in minutes) and the device; it shows the grid as it resolves at that scale and what is mapped.
Like the other forms it posts `FormValidated` (form="sweep") after every change.
"""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from engine.presets import DEFAULT_SCALE
from engine.sweeps import SweepError, SweepPreset, SweepSpec
from gradfail_tui.explorer.choices import SweepChoice
from gradfail_tui.explorer.messages import FormValidated
from gradfail_tui.explorer.widgets.rebuilt_form import RebuiltForm, scale_options
from gradfail_tui.pool import default_workers


class SweepForm(RebuiltForm):
    device_select = "sweep-device"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sweep: SweepPreset | None = None
        self.spec: SweepSpec | None = None
        self.problems: list[str] = ["no sweep chosen yet"]
        self.border_title = "Sweep"

    async def load(self, sweep: SweepPreset) -> None:
        self.sweep = sweep
        self.border_title = f"Sweep · {sweep.name}"
        about = f"[b]{escape(sweep.title)}[/b]  ({escape(sweep.name)})\n{escape(sweep.description)}"
        if sweep.paper:
            about += f"\n[i]paper:[/i] {escape(sweep.paper)}"
        scales = scale_options(sweep.name, sweep.scales)
        await self.rebuild(
            [
                Static(about, classes="family-info"),
                self.select_row("scale", scales, DEFAULT_SCALE, "sweep-scale"),
                self.device_row(),
                self.part(Static("", id="sweep-grid", classes="group-runs")),
            ]
        )
        self.scroll_home(animate=False)
        self.check()

    def check(self) -> list[str]:
        """Resolve the sweep at the chosen scale and device, show its grid, post FormValidated."""
        if self.sweep is None:
            return self.problems
        problems: list[str] = []
        self.spec = None
        try:
            self.spec = self.sweep.resolve(
                str(self.parts["sweep-scale"].value), device=str(self.parts["sweep-device"].value)
            )
        except SweepError as exc:
            problems += exc.problems
        self.parts["sweep-grid"].update(self._grid_text(problems))
        self.problems = problems
        self.post_message(FormValidated(list(problems), form="sweep"))
        return problems

    def _grid_text(self, problems: list[str]) -> str:
        if problems or self.spec is None:
            return "[b]Grid[/b]\n" + "\n".join(f"[$error]✗ {escape(p)}[/]" for p in problems)
        spec, mapping = self.spec, self.spec.mapping
        lanes = ", a cell's seeds as lanes of one model" if spec.batched else ""
        engines = default_workers(spec)  # the engines it will run on, as `gradfail sweep` (engines.py)
        maps = (
            f"the share of seeds with {mapping.describe_success()}"
            if mapping.success is not None
            else mapping.describe()
        )
        lines = [
            f"[b]Grid[/b]  {len(spec.cells)} cells x {len(spec.seeds)} seeds = {spec.run_count:,} runs{lanes}",
            *(f"  {escape(a.key)}: {escape(', '.join(str(v) for v in a.values))}" for a in spec.axes),
            f"[b]Maps[/b]  {escape(maps)} over {escape(mapping.x)}" + (f" x {escape(mapping.y)}" if mapping.y else ""),
            f"[b]Runs on[/b]  {engines} engine{'s' if engines != 1 else ''} at once, as `gradfail sweep` would",
            "[dim]the phase diagram fills in on the Watch tab as cells complete; p pauses and x stops the sweep[/dim]",
        ]
        return "\n".join(lines)

    def choice(self) -> SweepChoice | None:
        """The validated sweep the form describes, or None while it has problems."""
        if self.sweep is None or self.check() or self.spec is None:
            return None
        return SweepChoice(preset=self.sweep, spec=self.spec)
