"""The failure families, each with the paper's claim in one line; Enter picks one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from engine.registry import FamilySpec
from gradfail_tui.messages import FamilyPicked


class FamilyList(OptionList):
    def __init__(self, families: dict[str, FamilySpec], errors: dict[str, str] | None = None,
                 *, id: str | None = None) -> None:
        # Two lines a family: its title, and the claim cut to one line (the form shows it whole).
        options = [Option(Text.assemble((spec.title, "bold"), "\n", (spec.claim, "italic"),
                                        no_wrap=True, overflow="ellipsis"), id=name)
                   for name, spec in families.items()]
        # A family that did not load says so here, rather than vanishing without a word.
        options += [Option(Text(f"{name}: did not load: {why}", style="italic"), id=f"!{name}", disabled=True)
                    for name, why in (errors or {}).items()]
        super().__init__(*options, id=id)
        self.border_title = "Families"

    def highlight_family(self, name: str) -> None:
        try:
            self.highlighted = self.get_option_index(name)
        except OptionDoesNotExist:  # an unknown name leaves the highlight where it is
            pass

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and not event.option.id.startswith("!"):
            self.post_message(FamilyPicked(event.option.id))
