"""A talk exported to one file, to present from a USB stick on any machine: `gradfail talk DECK --export talk.html`.

HTML: one self-contained page (nothing fetched from outside it: no web font, no script or style from
elsewhere). Every slide in order, each with its figure drawn by gradfail_tui/render/vector.py as inline
SVG (text kept as text; a PNG in a data: address instead where its SVG would be over `SVG_LIMIT`, as a
figure of many thousand points would be), its question, the paper's claim, why, the verdict and the
numbers behind each claim, and the speaker notes (`Notes.for_slide`) in a closed <details> under it.
Without JavaScript the page shows every slide one under the other; with it, one slide fills the
window and the talk's keys page through (`KEYS`), `s` shows or hides the speaker notes (`n` is next, as in the terminal), a slide's number then
Enter jumps to it. Large print: sized by the window's width, legible from the back of a room at 1600x900.

PDF (`--export talk.pdf`): one landscape page per slide, its figure (vector) under its words and verdict,
from matplotlib's PDF backend; no notes (the HTML has them).

matplotlib (the `figures` extra) is imported inside the functions that draw; the file is written to a
temporary file beside the target and renamed onto it, so a failed export leaves nothing half-written.
No Textual and no torch here.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.claims import Outcome
from engine.figures import FigureData, figure_data
from engine.state import RunState
from gradfail_tui.render import vector
from gradfail_tui.talk.deck import Deck, Slide, SlideKind
from gradfail_tui.talk.notes import Notes, slide_key

FORMATS = ("html", "pdf")
FIGURE_FONT = 14.0  # points: the figures' text, at about 18 to 24 px on a 1600-pixel-wide screen
MIN_ASPECT = 2.0  # a figure of one panel widened to this width:height, to use a slide's width
SVG_LIMIT = 768 * 1024  # bytes: a figure's SVG over this is embedded as a PNG (smaller, and quick to draw)
PAGE = (16.0, 9.0)  # inches: a PDF page, the shape of a projector's screen
# (keys, what they do): the footer of every slide says them, and docs/talks.md lists them.
KEYS = (
    ("→ PageDown space n", "next"),
    ("← PageUp p", "back"),
    ("Home End", "first, last"),
    ("3 Enter", "slide 3"),
    ("s", "speaker notes"),
)


class ExportError(ValueError):
    """An export that cannot be made: the message says what is wrong in one line."""


@dataclass(frozen=True)
class Exported:
    path: Path
    slides: int
    svgs: int  # figures embedded as SVG
    pngs: int  # and as PNG (their SVG over SVG_LIMIT)
    size: int  # bytes

    def summary(self) -> str:
        if self.path.suffix.lower() == ".pdf":
            return f"{self.path}: {self.slides} pages, {self.svgs} figures (vector), {self.size / 1024:,.0f} KB"
        figures = f"{self.svgs} figures as SVG" + (f", {self.pngs} as PNG (their SVG too big)" if self.pngs else "")
        return f"{self.path}: {self.slides} slides, {figures}, {self.size / 1024:,.0f} KB"


def export_format(path: Path) -> str:
    """The format `path` asks for ("html" or "pdf"), once it is sure the file can be written there."""
    if path.is_dir():
        raise ExportError(f"--export {path}: is a directory; give a file name ending in .html or .pdf")
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "htm":
        fmt = "html"
    if fmt not in FORMATS:
        raise ExportError(f"--export {path}: the name must end in .html or .pdf")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"--export {path}: no directory {parent} to write it in")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ExportError(f"--export {path}: cannot write there (permission denied)")
    return fmt


def export_talk(deck: Deck, path: Path, notes: Notes | None = None) -> Exported:
    """Write the talk of `deck` to `path` (.html or .pdf); raises ExportError, leaving nothing behind."""
    fmt = export_format(path)
    if not vector.available():
        raise ExportError(f"--export draws the figures with matplotlib: {vector.INSTALL_HINT}")
    notes = notes or Notes()
    if fmt == "pdf":
        write_atomically(path, lambda target: write_pdf(deck, target))
        svgs, pngs = sum(1 for s in deck.slides if slide_data(s) is not None), 0
    else:
        figures = {number: figure_markup(slide, number) for number, slide in enumerate(deck.slides, 1)}
        page = talk_html(deck, notes, {n: markup for n, (markup, _) in figures.items()})
        write_atomically(path, lambda target: target.write_text(page, encoding="utf-8"))
        svgs = sum(1 for _, kind in figures.values() if kind == "svg")
        pngs = sum(1 for _, kind in figures.values() if kind == "png")
    return Exported(path, len(deck.slides), svgs, pngs, path.stat().st_size)


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` a temporary file beside `path`, then rename it onto `path` (removed if anything fails)."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        temporary.chmod(0o644)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"--export {path}: cannot write it ({exc.strerror or exc})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ---- figures -----------------------------------------------------------------------------------


def slide_data(slide: Slide) -> FigureData | None:
    """The numbers of a result slide's figure, from its whole records (None: no figure, or no run)."""
    if slide.kind is not SlideKind.RESULT or slide.figure is None or not slide.runs:
        return None
    states = {run.label: RunState.from_record(run.events, run.manifest, label=run.label) for run in slide.runs}
    return landscape(figure_data(slide.figure, states, {run.label: run.snapshots() for run in slide.runs}))


def landscape(data: FigureData) -> FigureData:
    """A picture of more rows than columns (Figure 6: a row per learner, a column per step) turned on its
    side, a column per learner, to fit a screen wider than it is high (its title saying so)."""
    columns = max(1, data.columns)
    rows = math.ceil(len(data.panels) / columns)
    if data.figure.picture is None or rows <= columns or len(data.panels) != rows * columns:
        return data
    grid = [data.panels[row * columns : (row + 1) * columns] for row in range(rows)]
    figure = replace(data.figure, title=data.figure.title.replace("one row per", "one column per"))
    panels = [grid[row][column] for column in range(columns) for row in range(rows)]
    return replace(data, figure=figure, panels=panels, columns=rows)


def figure_markup(slide: Slide, number: int) -> tuple[str, str]:
    """A slide's figure for the page, and how it is embedded ("svg", "png", or "" for none)."""
    data = slide_data(slide)
    if data is None:
        return "", ""
    drawn = {"salt": slide_key(slide), "font_size": FIGURE_FONT, "min_aspect": MIN_ASPECT}
    try:
        svg = inline_svg(vector.slide_image(data, "svg", **drawn).decode("utf-8"), prefix=f"s{number}-")
        png = vector.slide_image(data, "png", **drawn) if len(svg.encode()) > SVG_LIMIT else b""
    except Exception as exc:  # a record matplotlib cannot draw must not lose the other slides
        return f'<p class="problem">(this figure could not be drawn: {esc(str(exc))})</p>', ""
    width, height = svg_size(svg)
    aspect = f"--aspect: {width / height:.4f}" if width and height else "--aspect: 1.6"
    title = esc(data.figure.title)
    if not png:
        return f'<figure class="plot" style="{aspect}" role="img" aria-label="{title}">{svg}</figure>', "svg"
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f'<figure class="plot" style="{aspect}"><img alt="{title}" src="{uri}"></figure>', "png"


def inline_svg(svg: str, prefix: str) -> str:
    """matplotlib's SVG document as an element for a page: no XML prolog, no doctype, no metadata, no
    namespace declarations (an HTML page needs none), its ids prefixed so that two figures' never clash."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m[1]}"', svg)
    refer = r'(url\(#|href="#)([^)"]+)'
    svg = re.sub(refer, lambda m: m[1] + (prefix if m[2] in ids else "") + m[2], svg)
    return svg.strip()


def svg_size(svg: str) -> tuple[float, float]:
    found = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    return (float(found[1]), float(found[2])) if found else (0.0, 0.0)


# ---- the page ----------------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def outcome_class(outcome: object) -> str:
    """The CSS class of an outcome: reproduced, not-reproduced, or pending (needs a scale, incomplete)."""
    if outcome == Outcome.REPRODUCED:
        return "reproduced"
    if outcome == Outcome.NOT_REPRODUCED:
        return "not-reproduced"
    return "pending"


def talk_html(deck: Deck, notes: Notes, figures: dict[int, str]) -> str:
    """The whole page: every slide, `figures` by slide number (1 the title)."""
    total = len(deck.slides)
    title = deck.slides[0].heading if deck.slides else "gradfail talk"
    sections = [
        slide_html(slide, number, total, notes, figures.get(number, "")) for number, slide in enumerate(deck.slides, 1)
    ]
    keys = " · ".join(f"<kbd>{esc(k)}</kbd> {esc(does)}" for k, does in KEYS)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + f'\n<footer id="keys" aria-hidden="true">{keys}<span id="goto"></span></footer>\n'
        f"<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    )


def slide_html(slide: Slide, number: int, total: int, notes: Notes, figure: str) -> str:
    parts = [
        f'<section class="slide {slide.kind}" id="slide-{number}" aria-label="slide {number} of {total}">',
        f'<header><h1>{esc(slide.heading)}</h1><span class="counter">{number} / {total}</span></header>',
    ]
    if slide.kind is SlideKind.RESULT:
        parts += result_body(slide, figure)
    elif slide.kind is SlideKind.CLOSING:
        parts += closing_body(slide)
    else:
        parts += [f'<p class="line">{esc(line)}</p>' for line in slide.lines]
    parts += [f'<p class="problem">{esc(problem)}</p>' for problem in slide.problems]
    said = notes.for_slide(slide)
    if said:
        paragraphs = "".join(f"<p>{esc(line)}</p>" for line in said.splitlines() if line.strip())
        parts.append(f'<details class="notes"><summary>Speaker notes</summary>{paragraphs}</details>')
    parts.append("</section>")
    return "\n".join(parts)


def result_body(slide: Slide, figure: str) -> list[str]:
    parts = [f'<p class="question">{esc(slide.question)}</p>'] if slide.question else []
    parts.append(figure or '<p class="nofigure">(no figure: nothing recorded for it)</p>')
    words = []
    if slide.claim:
        words.append(f'<p class="claim"><b>The paper:</b> {esc(slide.claim)}</p>')
    if slide.why:
        words.append(f'<p class="why"><b>Why:</b> {esc(slide.why)}</p>')
    if slide.verdict is not None:
        outcome = slide.verdict.outcome
        held = sum(1 for r in slide.verdict.results if r.outcome == Outcome.REPRODUCED)
        counted = f"{held} of {len(slide.verdict.results)} claims reproduced" if slide.verdict.results else ""
        audited = slide.audited()
        verdict = (
            f'<div class="verdict {outcome_class(outcome)}"><span class="label">Verdict</span>'
            f'<span class="outcome">{esc(str(outcome))}</span><span class="count">{esc(counted)}</span>'
            + (f'<span class="count audited">{esc(audited)}</span>' if audited else "")
            + "</div>"
        )
    else:
        verdict = (
            '<div class="verdict pending"><span class="label">Verdict</span><span class="outcome">none</span></div>'
        )
    parts.append(f'<div class="words"><div>{"".join(words)}</div>{verdict}</div>')
    if slide.verdict is not None and slide.verdict.results:
        rows = "".join(
            f'<li class="{outcome_class(r.outcome)}"><span class="badge">{esc(str(r.outcome))}</span> '
            f'{esc(r.claim.says)}<br><span class="detail">{esc(r.detail)}</span></li>'
            for r in slide.verdict.results
        )
        parts.append(f'<div class="numbers"><h2>The numbers behind the verdict</h2><ul>{rows}</ul></div>')
    return parts


def closing_body(slide: Slide) -> list[str]:
    rows = []
    for line in slide.lines:
        heading, _, outcome = line.rpartition(": ")
        if heading and outcome in {str(o) for o in Outcome}:
            rows.append(
                f'<li><span class="result">{esc(heading)}</span>'
                f'<span class="badge {outcome_class(outcome)}">{esc(outcome)}</span></li>'
            )
        else:
            rows.append(f'<li class="line">{esc(line)}</li>')
    return [f'<ul class="verdicts">{"".join(rows)}</ul>']


CSS = """\
:root { font-size: clamp(15px, 1.55vw, 34px); --ink: #111; --muted: #444; --rule: #ccc;
  --good: #17692a; --bad: #b3131f; --pending: #8a5a00; }
* { box-sizing: border-box; }
html, body { margin: 0; background: #fff; color: var(--ink);
  font-family: "DejaVu Sans", "Segoe UI", "Helvetica Neue", Arial, sans-serif; line-height: 1.3; }
.slide { min-height: 100vh; padding: 2.5vh 3vw 3.5rem; border-bottom: 3px solid var(--rule);
  display: flex; flex-direction: column; gap: 0.5rem; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem; }
h1 { font-size: 1.9rem; margin: 0; line-height: 1.15; }
.counter { font-size: 0.9rem; color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
p { margin: 0; }
.question { font-size: 1.15rem; font-style: italic; color: var(--muted); }
.plot { margin: 0 auto; width: min(100%, calc(60vh * var(--aspect))); }
.plot svg, .plot img { display: block; width: 100%; height: auto; aspect-ratio: var(--aspect); }
.plot svg text { font-family: "DejaVu Sans", "Segoe UI", "Helvetica Neue", Arial, sans-serif !important; }
.words { display: grid; grid-template-columns: 1fr auto; gap: 0.3rem 2rem; align-items: start; }
.words p + p { margin-top: 0.3rem; }
.verdict { border: 4px solid currentColor; border-radius: 0.4rem; padding: 0.2rem 0.8rem; text-align: center;
  display: flex; flex-direction: column; min-width: 12rem; }
.verdict .label { font-size: 0.7rem; text-transform: uppercase; letter-spacing: 0.08em; }
.verdict .outcome { font-size: 1.4rem; font-weight: bold; }
.verdict .count { font-size: 0.75rem; }
.verdict .audited { max-width: 12rem; align-self: center; color: var(--muted); }
.reproduced { color: var(--good); } .not-reproduced { color: var(--bad); } .pending { color: var(--pending); }
.numbers { margin-top: 1rem; border-top: 2px solid var(--rule); font-size: 0.8rem; }
.numbers h2 { font-size: 0.95rem; margin: 0.5rem 0; }
.numbers ul { margin: 0; padding-left: 0; list-style: none; }
.numbers li { color: var(--ink); margin-bottom: 0.4rem; }
.badge { display: inline-block; font-weight: bold; border: 2px solid currentColor; border-radius: 0.3rem;
  padding: 0 0.3rem; font-size: 0.85em; }
li.reproduced .badge { color: var(--good); } li.not-reproduced .badge { color: var(--bad); }
li.pending .badge { color: var(--pending); }
.detail { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 0.9em; color: var(--muted); }
.problem { color: var(--bad); font-weight: bold; }
.nofigure { color: var(--muted); font-size: 1.2rem; margin: 3rem auto; }
.title { justify-content: center; text-align: center; }
.title header { flex-direction: column; align-items: center; }
.title .counter { position: absolute; top: 2.5vh; right: 3vw; }
.title h1 { font-size: 3rem; margin-bottom: 1rem; }
.title .line { font-size: 1.3rem; }
.verdicts { list-style: none; padding: 0; margin: 1rem 0 0; font-size: 1.15rem; }
.verdicts li { display: flex; justify-content: space-between; gap: 2rem; padding: 0.3rem 0;
  border-bottom: 1px solid var(--rule); }
.verdicts li.line { display: block; border: 0; margin-top: 0.8rem; font-weight: bold; }
.notes { margin-top: 1rem; border: 2px dashed var(--rule); padding: 0.4rem 0.8rem; font-size: 0.85rem;
  background: #fffbe6; }
.notes summary { cursor: pointer; font-weight: bold; }
.notes p { margin-top: 0.4rem; }
#keys { display: none; }
kbd { font-family: inherit; font-weight: bold; }
.paged .slide { display: none; height: 100vh; overflow-y: auto; border: 0; }
.paged .slide.current { display: flex; }
.paged .notes:not([open]) { display: none; }
.paged .notes[open] { position: fixed; left: 3vw; right: 3vw; bottom: 2.2rem; max-height: 45vh; overflow-y: auto;
  margin: 0; font-size: 0.9rem; border: 3px solid var(--pending); box-shadow: 0 0 1rem rgba(0, 0, 0, 0.35); }
.paged #keys { display: block; position: fixed; left: 0; right: 0; bottom: 0; padding: 0.3rem 3vw;
  font-size: 0.6rem; color: var(--muted); background: rgba(255, 255, 255, 0.92); border-top: 1px solid var(--rule); }
#goto { float: right; font-weight: bold; color: var(--ink); }
@media print {
  .slide { break-after: page; min-height: 0; border: 0; }
  .notes, #keys { display: none !important; }
}
"""

SCRIPT = """\
(function () {
  "use strict";
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var notes = Array.prototype.slice.call(document.querySelectorAll("details.notes"));
  var goto = document.getElementById("goto");
  var current = 0, typed = "", shown = false;
  function show(index) {
    current = Math.max(0, Math.min(slides.length - 1, index));
    slides.forEach(function (slide, i) { slide.classList.toggle("current", i === current); });
    slides[current].scrollTop = 0;
    try { history.replaceState(null, "", "#slide-" + (current + 1)); } catch (e) { /* a file: page may refuse */ }
    document.title = slides[current].querySelector("h1").textContent;
  }
  function toggleNotes() {
    shown = !shown;
    notes.forEach(function (details) { details.open = shown; });
  }
  function setTyped(value) { typed = value; goto.textContent = typed ? "slide " + typed + " (Enter)" : ""; }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var key = event.key;
    if (/^[0-9]$/.test(key)) { setTyped(typed + key); }
    else if (key === "Enter" && typed) { show(parseInt(typed, 10) - 1); setTyped(""); }
    else if (key === "ArrowRight" || key === "PageDown" || key === " " || key === "n") { show(current + 1); setTyped(""); }
    else if (key === "ArrowLeft" || key === "PageUp" || key === "p") { show(current - 1); setTyped(""); }
    else if (key === "Home") { show(0); }
    else if (key === "End") { show(slides.length - 1); }
    else if (key === "s") { toggleNotes(); }
    else if (key === "Escape") { setTyped(""); return; }
    else { return; }
    event.preventDefault();
  });
  document.body.classList.add("paged");
  var start = /^#slide-(\\d+)$/.exec(location.hash);
  show(start ? parseInt(start[1], 10) - 1 : 0);
})();
"""


# ---- PDF ---------------------------------------------------------------------------------------


def write_pdf(deck: Deck, path: Path) -> None:
    """One landscape page per slide: its heading, words and verdict, and its figure under them (vector)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42, "font.size": 13}), PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"] = deck.slides[0].heading if deck.slides else "gradfail talk"
        info["CreationDate"] = None
        for number, slide in enumerate(deck.slides, 1):
            pdf.savefig(pdf_page(slide, number, len(deck.slides)))


def pdf_page(slide: Slide, number: int, total: int):
    """A slide as one matplotlib Figure the size of `PAGE`."""
    from matplotlib.figure import Figure as MplFigure

    data = slide_data(slide)
    if data is not None:
        fig = vector.draw(data)
        fig.set_size_inches(*PAGE)
        fig.suptitle("")  # said above the panels instead, under the slide's words
        fig.get_layout_engine().set(rect=(0.02, 0.02, 0.96, 0.68))
        fig.text(0.5, 0.72, data.figure.title, ha="center", va="bottom", fontsize=14)
    else:
        fig = MplFigure(figsize=PAGE, facecolor="white")
    page_words(fig, slide, number, total)
    return fig


def page_words(fig, slide: Slide, number: int, total: int) -> None:
    """A slide's words on its PDF page: at the top (a result slide) or filling it (title, closing)."""
    fig.text(0.98, 0.97, f"{number} / {total}", ha="right", va="top", fontsize=12, color="#444444")
    if slide.kind is not SlideKind.RESULT:
        lines = slide.lines + slide.problems
        fig.text(0.5, 0.8, textwrap.fill(slide.heading, 50), ha="center", va="top", fontsize=30, weight="bold")
        fig.text(0.5, 0.62, "\n".join(textwrap.fill(line, 100) for line in lines), ha="center", va="top", fontsize=17)
        return
    fig.text(0.03, 0.97, slide.heading, ha="left", va="top", fontsize=26, weight="bold")
    said = [slide.question, f"The paper: {slide.claim}", f"Why: {slide.why}"] + slide.problems
    fig.text(0.03, 0.89, "\n".join(textwrap.fill(s, 120) for s in said if s.strip()), ha="left", va="top", fontsize=14)
    outcome = slide.verdict.outcome if slide.verdict else "none"
    colour = {"reproduced": "#17692a", "not-reproduced": "#b3131f"}.get(outcome_class(outcome), "#8a5a00")
    fig.text(0.97, 0.89, f"Verdict: {outcome}", ha="right", va="top", fontsize=18, weight="bold", color=colour)
    if audited := slide.audited():
        fig.text(0.97, 0.85, textwrap.fill(audited, 34), ha="right", va="top", fontsize=11, color="#444444")
