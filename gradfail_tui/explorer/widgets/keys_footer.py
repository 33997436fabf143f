"""Textual's Footer, without the FooterKeys it would otherwise keep for the whole session.

The Footer rebuilds its keys whenever a key is enabled or disabled (several times a run), and
each FooterKey is data-bound to the Footer's `compact`: a watcher kept in the Footer's list
of watchers. Textual (8.2) drops a removed widget's watchers only when the watched value next
changes (Textualize/textual#6666), and `compact` never changes here, so every key ever shown
would stay alive. After each rebuild, `mutate_reactive` runs the watchers once, which prunes
those of the keys that are gone (the live ones are set to the value they already have).
"""

from __future__ import annotations

from textual.widgets import Footer


class KeysFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)
