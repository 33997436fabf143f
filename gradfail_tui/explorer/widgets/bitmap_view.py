"""An "images" snapshot in the explorer: its bitmaps drawn with half blocks, or braille when they are large.

The drawing is render.bitmaps' (the report draws the same); this widget picks the one that fits.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from gradfail_tui.render.bitmaps import braille, half_blocks, labelled_images, layout


class BitmapView(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="snapshot-body")
        self.data: dict[str, Any] = {}

    def set_data(self, data: dict[str, Any]) -> None:
        self.data = data
        self.refresh()

    def render(self) -> RenderResult:
        images = labelled_images(self.data)
        if not images:
            return Text("no images in this snapshot")
        width, height = max(self.size.width, 1), max(self.size.height, 1)
        drawn = [(label, half_blocks(bits)) for label, bits in images]
        if len(layout(drawn, width)) > height or any(len(bits[0]) > width for _, bits in images):
            drawn = [(label, braille(bits)) for label, bits in images]
        return Text("\n".join(layout(drawn, width)), no_wrap=True, overflow="crop")
