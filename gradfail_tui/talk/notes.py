"""Speaker notes: what to say on each slide, shipped for every slide and overridable by the speaker.

A slide's notes are three things: the words shipped here (`SHIPPED`: what to say, what to point at on
the figure), the numbers behind its verdict (each claim's outcome and the numbers it was judged on, from
the records: they are never written by hand), and, where the speaker gave a notes file, their words in
place of the shipped ones. The speaker view, the exported deck and the preflight read them through
`load_notes` and `Notes.for_slide`. No Textual here.

A notes file is TOML, one table per slide named by its key (`title`, a result's group preset such as
`fig-parity`, `closing`), each with `notes = "..."`; a slide it does not name keeps the shipped notes:

    [fig-parity]
    notes = "Ask the room first: who thinks d = 30 is learnable?"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gradfail_tui.talk.deck import Slide, SlideKind

SHIPPED: dict[str, str] = {
    "title": (
        "Four families of simple problems where gradient-based learning fails or crawls, not because of local "
        "minima or saddle points. Every figure here is a recorded run; every verdict is judged on its numbers."
    ),
    "fig-parity": (
        "Point at the three curves: d = 5 and d = 10 climb to 100%, d = 30 stays on the chance line at 50% "
        "for the whole run. Same network, same optimiser, same data distribution; only d changes."
    ),
    "parity-wider-deeper": (
        "The obvious objection: use a bigger network. Point at d = 30: 4x wider and 3 layers deep, still on "
        "the chance line. The theorem holds for any architecture, so more capacity cannot help."
    ),
    "thm-variance": (
        "The reason, measured: the gradient's variance over all 2^d parities, computed exactly, sits under "
        "the bound G^2 / 2^d and falls with d. An independent estimate by autograd agrees."
    ),
    "thm2-periodic": (
        "Not only parities: a wave cos(<v, x>). Point at r = 2, learned, and r = 8, flat at zero explained "
        "variance. The gradient's variance over the direction v falls with r and with d."
    ),
    "fig-tuples": (
        "One panel per k: red is end-to-end, blue decomposition. Decomposition learns every k; end-to-end "
        "learns k = 1, sometimes k = 2 (a matter of the seed: the numbers say how often), never k = 3 or 4."
    ),
    "fig-stocks": (
        "Two unbiased gradient estimators of the same objective. For k = 10 both reach -1; as k grows, "
        "end-to-end's estimate carries about k times the variance and falls behind."
    ),
    "fig-snr": (
        "The explanation of the tuples: the gradient's signal-to-noise ratio against k, on a log scale. "
        "Red falls by orders of magnitude; blue stays put. Below the dashed resolution line, the estimate "
        "is only an upper bound."
    ),
    "fig-pwl": (
        "A convex problem, and still the architecture matters. Point at the rows: the linear and conv "
        "learners are still off after 10,000 steps; the conditioned conv is exact at 500."
    ),
    "fig-flat": (
        "A step function through flat activations: the gradient is zero almost everywhere. Point at "
        "forward-only, on the label exactly, and at the non-flat approximation that sometimes fails."
    ),
    "closing": (
        "Every verdict on one slide. The failures are not local minima: uninformative gradients, low SNR, "
        "bad conditioning, flat activations. Each comes with a fix: decomposition, conditioning, another update."
    ),
}


def slide_key(slide: Slide) -> str:
    """The name a slide's notes go by: `title`, `closing`, or its result's group preset."""
    return slide.preset if slide.kind is SlideKind.RESULT else str(slide.kind)


class NotesError(ValueError):
    """A notes file that cannot be used; the message names the file and what is wrong."""


@dataclass
class Notes:
    own: dict[str, str] = field(default_factory=dict)  # the speaker's, by slide key

    def words(self, slide: Slide) -> str:
        """What to say: the speaker's words for this slide, else the shipped ones."""
        key = slide_key(slide)
        return self.own.get(key) or SHIPPED.get(key, "")

    def numbers(self, slide: Slide) -> list[str]:
        """The numbers behind the slide's verdict, a line a claim: its outcome, its words, its numbers."""
        if slide.verdict is None:
            return []
        return [f"{r.outcome}: {r.claim.says} ({r.detail})" for r in slide.verdict.results]

    def for_slide(self, slide: Slide) -> str:
        """The whole of a slide's notes: the words, then the numbers."""
        return "\n".join([self.words(slide), *self.numbers(slide)]).strip()


def load_notes(path: Path | None) -> Notes:
    """The speaker's notes file on top of the shipped notes (None: the shipped notes alone)."""
    if path is None:
        return Notes()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotesError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise NotesError(f"{path}: not valid TOML ({exc})") from None
    own, problems = {}, []
    for key, table in data.items():
        if key not in SHIPPED:
            problems.append(f"[{key}]: no such slide (the slides: {', '.join(SHIPPED)})")
        elif not isinstance(table, dict) or not isinstance(table.get("notes"), str) or set(table) != {"notes"}:
            problems.append(f'[{key}]: expected only notes = "..."')
        else:
            own[key] = table["notes"]
    if problems:
        raise NotesError(f"{path}: " + "; ".join(problems))
    return Notes(own)
