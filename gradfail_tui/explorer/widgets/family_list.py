"""The failure families, each with the paper's claim in one line, then the paper's figures; Enter picks one.

The figures are the group presets (fig-parity, ...): several runs of those families, shown
overlaid, with the paper's claim checked at the end. They come after the families, under a
heading, marked ▣; their option ids are "group:<name>". Then the sweep presets (phase diagrams:
many runs over a grid), marked ▦, with option ids "sweep:<name>".
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from engine.groups import GroupPreset
from engine.presets import natural_key
from engine.registry import FamilySpec
from engine.sweeps import SweepPreset
from gradfail_tui.explorer.messages import FamilyPicked, GroupPicked, SweepPicked

GROUP_PREFIX = "group:"
GROUP_MARK = "▣"
SWEEP_PREFIX = "sweep:"
SWEEP_MARK = "▦"


def preset_option(title: str, detail: str, option_id: str) -> Option:
    """A group's or a sweep's row: its title in bold over one italic line of detail, cut to the width."""
    return Option(
        Text.assemble((title, "bold"), "\n", (detail, "italic"), no_wrap=True, overflow="ellipsis"), id=option_id
    )


def runs_text(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


class FamilyList(OptionList):
    def __init__(
        self,
        families: dict[str, FamilySpec],
        errors: dict[str, str] | None = None,
        groups: list[GroupPreset] | None = None,
        sweeps: list[SweepPreset] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        # Two lines a family: its title, and the claim cut to one line (the form shows it whole).
        options: list[Option | None] = [
            Option(
                Text.assemble((spec.title, "bold"), "\n", (spec.claim, "italic"), no_wrap=True, overflow="ellipsis"),
                id=name,
            )
            for name, spec in families.items()
        ]
        # A family that did not load says so here, rather than vanishing without a word.
        options += [
            Option(Text(f"{name}: did not load: {why}", style="italic"), id=f"!{name}", disabled=True)
            for name, why in (errors or {}).items()
        ]
        if groups:
            options += [None, Option(Text("Figures of the paper", style="bold"), id="!figures", disabled=True)]
            # In the paper's order (Figure 1, 3, ..., then Theorem 1), whatever the files are called.
            options += [
                preset_option(
                    f"{GROUP_MARK} {group.title}",
                    f"{runs_text(len(group.runs))} · {group.description}",
                    GROUP_PREFIX + group.name,
                )
                for group in sorted(groups, key=lambda g: natural_key(g.title))
            ]
        if sweeps:
            options += [None, Option(Text("Phase diagrams (sweeps)", style="bold"), id="!sweeps", disabled=True)]
            options += [
                preset_option(f"{SWEEP_MARK} {sweep.title}", sweep.description, SWEEP_PREFIX + sweep.name)
                for sweep in sweeps
            ]
        super().__init__(*options, id=id)
        self.border_title = "Families"
        if groups:
            self.border_subtitle = f"{GROUP_MARK} figures below"

    def highlight_family(self, name: str) -> None:
        """Put the cursor on a family, or on a group given as "group:<name>"."""
        try:
            self.highlighted = self.get_option_index(name)
        except OptionDoesNotExist:  # an unknown name leaves the highlight where it is
            pass

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id
        if not option_id or option_id.startswith("!"):
            return
        if option_id.startswith(SWEEP_PREFIX):
            self.post_message(SweepPicked(option_id[len(SWEEP_PREFIX) :]))
        elif option_id.startswith(GROUP_PREFIX):
            self.post_message(GroupPicked(option_id[len(GROUP_PREFIX) :]))
        else:
            self.post_message(FamilyPicked(option_id))
