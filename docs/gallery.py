"""Regenerate the gallery of the paper's figures, docs/gallery.md and its images in docs/img/gallery/,
from a recorded whole-paper deck (which it only reads):

    gradfail run --preset paper --out deck && python docs/gallery.py deck

Each result's figure is the one `gradfail report DECK --figures OUT` writes: the group's declared
figure (its preset's `[figure]`), its numbers read from the records (gradfail_tui.report.declared_data)
and drawn by gradfail_tui/render/vector.py, here as a PNG only, at GALLERY_DPI (four panels in
two rows of two, not one row: readable in a page's column), stored with a 64-colour palette (the figures are flat colours and lines: a third of the size, and no visible
change). Beside it: the paper's caption (the preset's `caption`), the group that drew it, the scale,
and its verdict judged again on the record, as `gradfail report` judges it. Images of figures no
longer in the deck are removed from docs/img/gallery/, and nothing else there is touched.

Needs the `figures` extra (matplotlib, which brings Pillow). Here in docs/ beside the page it writes,
not in benchmarks/: it measures nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.claims import Outcome  # noqa: E402
from engine.groups import GroupError, judge_record  # noqa: E402
from engine.paper import TITLE, RecordedPaper, read_paper  # noqa: E402
from engine.record import RecordedGroup  # noqa: E402
from gradfail_tui.report import declared_data, declared_figure  # noqa: E402

Judged = tuple[dict[str, Any], RecordedGroup | None, str]  # RecordedPaper.judged(): entry, group, outcome

PAGE = ROOT / "docs" / "gallery.md"
IMAGES = ROOT / "docs" / "img" / "gallery"
GALLERY_DPI = 150  # sharp on a high-density screen, small once paletted (all under 100 KB)
PALETTE_COLOURS = 64
MOST_COLUMNS = 3  # panels in a row, on a page about 900 pixels wide; more are laid out in rows of half
COMMAND = "gradfail run --preset paper --out deck && python docs/gallery.py deck"

# What a reader should know to read a figure beside the paper's, that neither the figure nor the
# verdict says. Keyed by group, and by (group, scale) where it holds at that scale only.
NOTES: dict[Any, str] = {
    "parity-wider-deeper": (
        "The figure is gradfail's: Figure 1's task learned by a network 4x as wide and by one of 3 layers, "
        "at d = 10 and d = 30."
    ),
    "thm-variance": (
        "The figure is gradfail's: the variance computed exactly, over all 2^d parities and all 2^d "
        "inputs, beside the bound."
    ),
    "thm2-periodic": (
        "The paper has no experiment for Theorem 2: this one is gradfail's (cos(<v, x>) with ||v|| = r). "
        "The run r = 2, d = 30 trains 100 steps only: it is there for the gradient's variance at "
        "initialisation (a claim), so its curve stops near the start."
    ),
    ("fig-tuples", "default"): (
        "At the default scale each run trains one seed for 1,000 to 3,000 iterations (the paper: 20,000 "
        "and 2,500), too few seeds to judge the claims about end-to-end at k = 2 and 3 (some seeds "
        "learn k = 2, by luck); `gradfail run --preset fig-tuples --scale cpu` trains 20 seeds of "
        "end-to-end at k = 2 and 3 and judges every claim."
    ),
    ("fig-pwl", "default"): (
        "At the default scale the linear and conv learners stop at 10,000 steps, so there is no "
        "50,000-iteration column; `--scale paper` trains the original schedules."
    ),
    "fig-flat": (
        "Each panel pictures the first of its run's three seeds (seed 0), while the claims judge all "
        "three: a panel may show the seed that failed (the non-flat approximation's claim is that one "
        "sometimes does). `gradfail report` lists each seed's numbers."
    ),
    ("fig-snr", "default"): (
        "At the default scale the estimator resolves an SNR down to about 3e-5, not to float32's "
        "1.2e-7: end-to-end from k = 2 is drawn as an upper bound, and the claims about float32 need "
        "`--scale large` (about 1e7 tuples)."
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="python docs/gallery.py")
    parser.add_argument("deck", type=Path, help="a directory written by `gradfail run --preset paper --out DECK`")
    args = parser.parse_args(argv)
    from gradfail_tui.render import vector

    if not vector.available():
        print(f"the gallery's figures need matplotlib: {vector.INSTALL_HINT}", file=sys.stderr)
        return 2
    if not (args.deck / "paper.json").is_file():
        print(f"{args.deck}: not a paper deck (no paper.json): gradfail run --preset paper --out DECK", file=sys.stderr)
        return 2
    recorded = read_paper(args.deck)
    judged = recorded.judged()
    images = write_images(judged, IMAGES)
    PAGE.write_text(page(recorded, judged, images), encoding="utf-8")
    for path in [*images.values(), PAGE]:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")
    for problem in recorded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def write_images(judged: list[Judged], folder: Path) -> dict[str, Path]:
    """Each result's figure as folder/<figure name>.png, by group preset; removes the gallery's other PNGs."""
    from PIL import Image

    from gradfail_tui.render import vector

    written: dict[str, Path] = {}
    for entry, group, _ in judged:
        data = declared_data(group) if group is not None else None
        if data is None:
            continue
        if data.columns > MOST_COLUMNS:  # four panels in a row are unreadable in a page's column: 2 x 2
            data = replace(data, columns=math.ceil(data.columns / 2))
        (path,) = vector.save(data, folder, data.figure.name, ("png",), dpi=GALLERY_DPI)
        with Image.open(path) as image:
            paletted = image.convert("RGB").quantize(PALETTE_COLOURS, dither=Image.Dither.NONE)
        paletted.save(path, optimize=True)
        written[str(entry.get("preset"))] = path
    for old in folder.glob("*.png"):
        if old not in written.values():
            old.unlink()
    return written


def page(recorded: RecordedPaper, judged: list[Judged], images: dict[str, Path]) -> str:
    """docs/gallery.md: an introduction, then per result its figure, the paper's caption and the verdict."""
    manifest = recorded.manifest
    scale = str(manifest.get("scale") or "default")
    date = str(manifest.get("started_at") or "")[:10]
    when = f", recorded {date}" if date else ""
    summary = str(manifest.get("summary") or "")
    lines = [
        "# A gallery of the paper's figures",
        "",
        "<!-- generated by docs/gallery.py from a recorded deck: edit the script, not this page -->",
        "",
        f"gradfail's version of each figure of *{TITLE}* (Shalev-Shwartz, Shamir, Shammah, ICML 2017), "
        "and of the results it states without one, each drawn from one recorded run of the whole paper: "
        f"`gradfail run --preset paper` at the {scale} scale{when}" + (f" ({summary})." if summary else "."),
        "",
        "Each figure is drawn as `gradfail report DECK --figures OUT` draws it, from the records alone: the "
        "group preset's `[figure]` table, drawn by gradfail_tui/render/vector.py (here four panels in two "
        "rows of two, where the report has one row). Under it, quoted, the paper's caption (the preset's "
        "`caption`), then the group preset that drew it and its verdict on that run. What a verdict means: "
        "[presets.md](presets.md#group-presets-one-command-per-result-of-the-paper).",
        "",
        "To draw it again from a new run (`gradfail presets show paper` says how long each result takes; "
        "add `--scale paper` on a GPU for the original schedules):",
        "",
        "```sh",
        COMMAND,
        "```",
        "",
    ]
    for entry, group, outcome in judged:
        preset = str(entry.get("preset", ""))
        lines += [f"## {entry.get('heading') or preset}", ""]
        path = images.get(preset)
        figure = declared_figure(preset)
        if path is None or figure is None:
            why = "declares none" if figure is None else "has no record in the deck"
            lines += [f"No figure: `{preset}` {why}.", ""]
        else:
            lines += [f"![{figure.title}]({path.relative_to(PAGE.parent).as_posix()})", ""]
            if figure.caption:
                lines += [f"> **The paper:** {figure.caption}", ""]
        lines += [verdict_line(preset, scale, group, outcome, entry), ""]
        note = NOTES.get((preset, scale)) or NOTES.get(preset)
        if note:
            lines += [note, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def verdict_line(preset: str, scale: str, group: RecordedGroup | None, outcome: str, entry: dict[str, Any]) -> str:
    """'`fig-parity` at the default scale: **reproduced** (2 claims, each reproduced).'"""
    line = f"**gradfail:** `{preset}` at the {scale} scale: **{outcome}**"
    counts = claim_counts(group)
    total = sum(counts.values())
    if len(counts) == 1:
        (only,) = counts
        line += f" (its claim, {only})" if total == 1 else f" ({total} claims, each {only})"
    elif counts:
        line += f" ({total} claims: " + ", ".join(f"{n} {o}" for o, n in counts.items()) + ")"
    recorded = entry.get("outcome")
    if isinstance(recorded, str) and recorded != outcome:
        line += f" (when it ran it was recorded as {recorded}; judged again on the record as it is now)"
    if outcome.startswith("needs --scale"):
        larger = outcome.removeprefix("needs --scale ").strip()
        line += (
            f": judged at a scale too small to show every claim, not a failure; "
            f"`gradfail run --preset {preset} --scale {larger}` can show them."
        )
    else:
        line += "."
    return line


def claim_counts(group: RecordedGroup | None) -> Counter[str]:
    """How many of the group's claims came out each way, judged on the record ({} when it cannot be)."""
    if group is None or not group.runs:
        return Counter()
    try:
        verdict = judge_record(group)
    except GroupError:
        return Counter()
    order = list(Outcome)
    found = Counter(str(result.outcome) for result in verdict.results)
    return Counter(dict(sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)))


if __name__ == "__main__":
    sys.exit(main())
