"""An "images" snapshot as text: small bitmaps drawn with half blocks or braille, labelled, wrapped.

For the explorer's BitmapView and the report's figures. Half blocks give one character per 1x2
pixels, so a 28x28 image is 28x14 characters; when the images do not fit that way, braille gives
one character per 2x4 pixels. A pixel is on when its value is above one half, so 0/1 and 0..1
grey values both work. Pure functions on lists: no Rich, no Textual.
"""

from __future__ import annotations

from typing import Any

HALF = {(0, 0): " ", (1, 0): "▀", (0, 1): "▄", (1, 1): "█"}
BRAILLE_BITS = (
    (0, 0, 0x01),
    (0, 1, 0x08),
    (1, 0, 0x02),
    (1, 1, 0x10),
    (2, 0, 0x04),
    (2, 1, 0x20),
    (3, 0, 0x40),
    (3, 1, 0x80),
)  # (row, column, bit) inside one 4x2 braille cell
GAP = 2


def _on(value: Any) -> int:
    try:
        return 1 if float(value) > 0.5 else 0
    except (TypeError, ValueError):
        return 0


def binarize(pixels: Any) -> list[list[int]]:
    rows = [list(row) for row in pixels] if isinstance(pixels, list) else []
    width = max((len(r) for r in rows), default=0)
    return [[_on(v) for v in row] + [0] * (width - len(row)) for row in rows]


def labelled_images(data: dict[str, Any]) -> list[tuple[str, list[list[int]]]]:
    """An "images" snapshot's pictures as (label, 0/1 rows), leaving out any without pixels."""
    images = [
        (str(img.get("label", "")), binarize(img.get("pixels")))
        for img in data.get("images") or []
        if isinstance(img, dict)
    ]
    return [(label, bits) for label, bits in images if bits and bits[0]]


def half_blocks(bits: list[list[int]]) -> list[str]:
    width = len(bits[0]) if bits else 0
    lines = []
    for top in range(0, len(bits), 2):
        upper = bits[top]
        lower = bits[top + 1] if top + 1 < len(bits) else [0] * width
        lines.append("".join(HALF[(upper[i], lower[i])] for i in range(width)))
    return lines


def braille(bits: list[list[int]]) -> list[str]:
    height, width = len(bits), len(bits[0]) if bits else 0
    lines = []
    for top in range(0, height, 4):
        chars = []
        for left in range(0, width, 2):
            code = 0
            for dy, dx, bit in BRAILLE_BITS:
                y, x = top + dy, left + dx
                if y < height and x < width and bits[y][x]:
                    code |= bit
            chars.append(chr(0x2800 + code))
        lines.append("".join(chars))
    return lines


def layout(images: list[tuple[str, list[str]]], width: int) -> list[str]:
    """Place drawn images left to right, wrapping at `width`, each with its label below."""
    out: list[str] = []
    row: list[tuple[str, list[str]]] = []
    used = 0
    for label, drawn in images + [("", ["\n"])]:  # a sentinel flushes the last row
        w = max((len(line) for line in drawn), default=0)
        if drawn == ["\n"] or (row and used + w > width):
            cell_widths = [max(max((len(line) for line in d), default=0), 1) for _, d in row]
            height = max((len(d) for _, d in row), default=0)
            for i in range(height):
                out.append(
                    (" " * GAP)
                    .join(d[i].ljust(cw) if i < len(d) else " " * cw for (_, d), cw in zip(row, cell_widths))
                    .rstrip()
                )
            if row:
                out.append((" " * GAP).join(lab[:cw].ljust(cw) for (lab, _), cw in zip(row, cell_widths)).rstrip())
            row, used = [], 0
            if drawn == ["\n"]:
                break
        row.append((label, drawn))
        used += w + GAP
    return out
