"""`gradfail talk DECK --preflight`: a rehearsal check before going on stage, in seconds, training nothing
(but a few seconds of each live slide, with `--live`).

One typed result a check (`Check`: ok, warning or error, what was checked, what was found and what to
fix), in this order:

- **the deck**: the directory, its paper.json, and for each result slide its records read back (every
  run's events parsed) and its verdict judged again (deck.py's `load_deck`, as the talk reads it);
- **the terminal**: its size against what the slides need (`MIN_SIZE`, `BEST_SIZE`), its colours and
  whether it is a terminal at all (a `Terminal` is passed in, so tests need none);
- **live slides** (`--live`): each trains a few hundred steps of its first run on a real engine process
  (`EngineProbe`, at most `PROBE_S` seconds), extrapolated to the whole slide against `--slide-seconds`;
- **the network**: the deck was read with every socket connection refused and counted (`no_network`), and
  the file system it lies on is named; `gradfail serve`'s page is made (the serve module's
  `offline_templates`, passed in by the command) and searched for addresses outside the machine;
- **notes**: the speaker's notes file (or the shipped notes) loads;
- **characters**: a test pattern of what the plots draw with, for the speaker to look at.

Only what would break the talk is an error (a missing or unreadable deck or record, a terminal too small,
a notes file the talk would refuse); the rest are warnings. `exit_code` is 2 when there is an error.
No Textual here; the command prints the checks with Rich (`print_checks`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from engine import paper, walltimes
from engine.catalog import load_preset
from engine.claims import Outcome
from engine.client import EngineExited, EngineProcess, RunRequest
from engine.events import EngineReady, Metrics, RunFinished, RunStarted
from engine.groups import GroupPreset, MemberRun
from engine.registry import UnknownFamily, get_family
from gradfail_tui.talk.deck import Deck, Slide, SlideKind, load_deck
from gradfail_tui.talk.notes import SHIPPED, NotesError, load_notes

MIN_SIZE = (80, 24)  # below this the slides do not fit: the talk is not usable
BEST_SIZE = (120, 36)  # the figures' panels side by side, the words unwrapped
PROBE_STEPS = 300  # a live slide's timed run: its first run, at most this many steps ...
PROBE_S = 3.0  # ... and at most this long (then stopped, and the estimate is a lower bound)
STOP_GRACE_S = 2.0  # after a stop, the step in flight may end; then the engine is ended
READY_S = 90.0  # how long the engine may take to start (torch's import on a busy machine)
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "ceph", "glusterfs", "9p", "davfs", "fuse.sshfs"}
NETWORK_FS_PREFIXES = ("fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.davfs")
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import\s+["']?https?:""")
FONT_URL = re.compile(r"""\{\{\s*config\.static\.url\s*\}\}(fonts/[^"')\s]+)""")

# What the plots and the slides draw with: the speaker looks at each line (no empty boxes, no "?").
PATTERN = (
    ("braille", "⣿⣿ ⠁⠂⠄⡀⢀⠈⠐⠠ ⡇⢸ ⣀⣤⣶", "thin lines"),
    ("blocks", "▄▀█ ▌▐ ▖▗▘▝ ▚▞ ▙▛▜▟", "the talk's lines"),
    ("boxes", "┌──┬──┐ ├──┼──┤ └──┴──┘ │", "frames"),
    ("legend", "██ run  ●● dashed  ╍╍ level  ━━ ┄┄", "legends"),
    ("keys", "→ ← ✓ ✗ · ±", "footer, verdicts"),
)


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"  # worth fixing; the talk goes on
    ERROR = "error"  # the talk would break: fix it first (exit 2)


@dataclass(frozen=True)
class Check:
    """One line of the preflight: how it went, what was checked, what was found (and what to do)."""

    level: Level
    what: str
    says: str
    detail: tuple[str, ...] = ()  # lines printed under it (the test pattern)


@dataclass(frozen=True)
class Terminal:
    """What the talk will draw on."""

    width: int
    height: int
    is_terminal: bool = True
    color_system: str | None = "truecolor"  # rich's: truecolor, 256, standard, windows, or None
    no_color: bool = False  # NO_COLOR set: Textual draws in monochrome
    encoding: str = "utf-8"

    @classmethod
    def detect(cls) -> Terminal:
        """This process's terminal: stdout's, else (output piped) the one on stderr or stdin, where the talk
        would draw; COLUMNS and LINES win, as they do for the talk."""
        found = next((fd for fd in (1, 2, 0) if _isatty(fd)), None)
        size = shutil.get_terminal_size()  # stdout's (or COLUMNS and LINES)
        if found not in (None, 1):
            real = os.get_terminal_size(found)
            size = os.terminal_size((_env_int("COLUMNS") or real.columns, _env_int("LINES") or real.lines))
        return cls(
            size.columns,
            size.lines,
            is_terminal=found == 1,
            color_system=Console(force_terminal=found is not None or None).color_system,
            no_color="NO_COLOR" in os.environ,
            encoding=getattr(sys.stdout, "encoding", None) or "ascii",
        )

    @property
    def utf8(self) -> bool:
        return self.encoding.lower().replace("-", "").replace("_", "") in {"utf8", "utf8mb4"}


def _env_int(name: str) -> int:
    try:
        return max(0, int(os.environ.get(name, "")))
    except ValueError:
        return 0


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


@dataclass(frozen=True)
class Pace:
    """A live slide's timed run: `steps` steps of run `label` took `seconds`; `cut`: stopped at the time
    cap before its steps were done; `error`: why it could not be timed."""

    label: str = ""
    steps: int = 0
    seconds: float = 0.0
    cut: bool = False
    error: str = ""


class Probe:
    """Times a run for a few seconds; a context manager (what it starts, it stops)."""

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def measure(self, member: MemberRun) -> Pace:
        raise NotImplementedError


class EngineProbe(Probe):
    """One engine process (started on the first measurement, as `gradfail talk --live` starts one) that
    trains each live slide's first run for at most `PROBE_STEPS` steps or `PROBE_S` seconds. Nothing is
    recorded."""

    def __init__(self, device: str = "auto", steps: int = PROBE_STEPS, cap_s: float = PROBE_S):
        self.device, self.steps, self.cap_s = device, steps, cap_s
        self.engine: EngineProcess | None = None
        self.broken = ""  # why the engine cannot train, once known

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.close()

    def _ready(self) -> EngineProcess | None:
        if self.engine is None and not self.broken:
            self.engine = EngineProcess().start()
            deadline = time.monotonic() + READY_S
            while not self.broken:
                item = self.engine.get(max(0.0, deadline - time.monotonic()))
                if isinstance(item, EngineReady):
                    break
                if isinstance(item, EngineExited):
                    self.broken = item.describe()
                elif item is None:
                    self.broken = f"the engine did not start within {READY_S:g} s"
        return None if self.broken else self.engine

    def measure(self, member: MemberRun) -> Pace:
        """Train `member` for a few seconds; its pace from its first reported step on (its setup left out)."""
        engine = self._ready()
        if engine is None:
            return Pace(member.label, error=self.broken)
        steps = min(member.config.steps, self.steps)
        config = dataclasses.replace(member.config, steps=steps, eval_every=min(member.config.eval_every, steps))
        request = RunRequest(member.family, config, member.seed, self.device, run_id=f"preflight-{time.time_ns()}")
        if not engine.send("start", **request.command()):
            return Pace(member.label, error="the engine has gone")
        started = first = stopped = None  # when it started; its first reported (step, time); when stopped
        deadline = time.monotonic() + READY_S
        while True:
            item = engine.get(0.05)
            now = time.monotonic()
            if isinstance(item, EngineExited):
                self.broken = item.describe()
                return Pace(member.label, error=self.broken)
            if isinstance(item, RunStarted):
                started = now
            elif isinstance(item, Metrics) and first is None and item.step > 0:
                first = (item.step, now)
            elif isinstance(item, RunFinished):
                if item.status not in ("completed", "stopped"):
                    return Pace(member.label, error=f"the run ended {item.status}: {item.message}".rstrip(": "))
                cut = stopped is not None
                if first is not None and item.step > first[0]:
                    return Pace(member.label, item.step - first[0], now - first[1], cut)
                return Pace(member.label, item.step, now - (started or now), cut)
            if started is not None and stopped is None and now - started > self.cap_s:
                engine.send("stop", reason="stopped")
                stopped, deadline = now, now + STOP_GRACE_S
            if now > deadline:
                # One step takes longer than the cap (a stop is obeyed between steps): end this engine; the
                # next slide gets a new one.
                engine.discard()
                self.engine = None
                if stopped is None:
                    return Pace(member.label, error="the engine did not start the run")
                return Pace(member.label, 0, now - (started or now), cut=True)


# ---- the checks -------------------------------------------------------------------------------------


def run_preflight(
    deck_path: Path | None,
    terminal: Terminal,
    *,
    slide_seconds: float = 20.0,
    live: bool = False,
    notes: Path | None = None,
    serve_page: Callable[[Path], Path] | None = None,
    probe: Callable[[], Probe] = EngineProbe,
) -> list[Check]:
    """Every check, in order. `serve_page(directory)` writes gradfail serve's page into `directory` (the
    serve module's `offline_templates`); `probe()` times the live slides (an `EngineProbe`)."""
    checks: list[Check] = []
    deck: Deck | None = None
    attempts: list[str] = []
    try:
        with no_network(attempts):
            deck = load_deck(deck_path)
    except Exception as exc:  # the talk would fail the same way: an error, never a traceback
        checks.append(Check(Level.ERROR, "deck", f"cannot be read ({type(exc).__name__}: {exc})"))
    if deck is not None:
        checks += guarded("deck", Level.ERROR, lambda: deck_checks(deck, deck_path, live))
    checks += guarded("terminal", Level.WARNING, lambda: terminal_checks(terminal))
    if deck is not None:
        checks += guarded("live", Level.WARNING, lambda: live_checks(deck, live, slide_seconds, probe))
    checks += guarded("network", Level.WARNING, lambda: [network_check(deck_path, deck, attempts, live)])
    checks += guarded("browser page", Level.WARNING, lambda: [serve_check(serve_page)])
    checks += guarded("notes", Level.ERROR, lambda: [notes_check(notes)])
    checks += guarded("characters", Level.WARNING, lambda: [characters_check(terminal)])
    return checks


def guarded(what: str, level: Level, checks: Callable[[], list[Check]]) -> list[Check]:
    """The checks, or one line saying this check itself failed (never a traceback)."""
    try:
        return checks()
    except Exception as exc:
        return [Check(level, what, f"this check could not run ({type(exc).__name__}: {exc})")]


def exit_code(checks: list[Check]) -> int:
    return 2 if any(c.level is Level.ERROR for c in checks) else 0


def deck_checks(deck: Deck, path: Path | None, live: bool) -> list[Check]:
    """The deck's directory and paper.json, then a line per result slide: its records and its verdict."""
    if path is None:
        if live:
            return [Check(Level.WARNING, "deck", "none given: only the live slides will show runs")] + [
                Check(Level.OK if s.live else Level.WARNING, s.heading, "trains live" if s.live else "no record: empty")
                for s in deck.slides
                if s.kind is SlideKind.RESULT
            ]
        return [Check(Level.ERROR, "deck", "none given: `gradfail talk DIR --preflight`, DIR a prepared deck")]
    if not path.is_dir():
        return [Check(Level.ERROR, "deck", f"{path}: no such directory: prepare it (`gradfail talk --prepare {path}`)")]
    checks = [Check(Level.OK, "deck", f"{path}")]
    if deck.problems:
        fix = "not a deck? prepare one with `gradfail talk --prepare NEWDIR`"
        checks.append(Check(Level.ERROR, paper.MANIFEST, "; ".join(deck.problems) + f": {fix}"))
    else:
        checks.append(
            Check(Level.OK, paper.MANIFEST, f"read: {sum(s.kind is SlideKind.RESULT for s in deck.slides)} results")
        )
    recorded = paper.read_paper(path)
    for number, slide in enumerate((s for s in deck.slides if s.kind is SlideKind.RESULT), 1):
        entry = recorded.entry(slide.preset) or {}
        checks.append(slide_check(slide, path / paper.result_dir(number, slide.preset), entry, live))
    return checks


def slide_check(slide: Slide, where: Path, entry: dict, live: bool) -> Check:
    """One result slide: its records read back, its verdict judged again, and what to do if it is wrong."""
    record = f"`gradfail run --preset {slide.preset} --out {where}`"
    if not slide.runs:
        why = "; ".join(slide.problems) or "nothing recorded"
        if live and slide.live:
            return Check(Level.OK, slide.heading, f"{why}: trains live on its slide (--live)")
        res = paper.result(slide.preset)
        wall = res.cpu_s if res else 0.0
        if slide.live:
            fix = f"record it ({record}), or present with --live (it trains in about {walltimes.clock(wall)})"
        else:
            slow = f" (too slow to train live: {walltimes.clock(wall)})" if wall else ""
            fix = f"record it{slow}: {record}"
        return Check(Level.ERROR, slide.heading, f"{why}: {fix}")
    events = sum(len(run.events) for run in slide.runs)
    read = f"{len(slide.runs)} run{'s' if len(slide.runs) != 1 else ''}, {events:,} events read"
    verdict, level = verdict_words(slide, entry)
    if slide.problems:
        shown = "; ".join(slide.problems[:2]) + (
            f" (and {len(slide.problems) - 2} more)" if len(slide.problems) > 2 else ""
        )
        fix = f"move {where.name}/ aside and record it again: {record}"
        return Check(Level.ERROR, slide.heading, f"{read}, {verdict}; damaged: {shown}: {fix}")
    return Check(level, slide.heading, f"{read}, {verdict}")


def verdict_words(slide: Slide, entry: dict) -> tuple[str, Level]:
    if slide.verdict is None:
        return "its verdict cannot be judged", Level.WARNING
    outcome = str(slide.verdict.outcome)
    said = entry.get("outcome")
    words = outcome + (f" (paper.json said {said})" if said and said != outcome else "")
    if outcome == Outcome.REPRODUCED:
        return words, Level.OK
    if outcome.startswith("needs"):
        scale = outcome.removeprefix("needs --scale ")
        return (
            f"{words}: the deck's scale is too small for its claim: say so, or prepare with --scale {scale}",
            Level.WARNING,
        )
    return f"{words}: say why on the slide, or prepare it again", Level.WARNING


def terminal_checks(terminal: Terminal) -> list[Check]:
    checks = []
    if terminal.is_terminal:
        checks.append(Check(Level.OK, "terminal", "output is a terminal"))
    else:
        checks.append(
            Check(
                Level.WARNING,
                "terminal",
                "output is not a terminal (piped or redirected): the talk needs one; the size and colours below "
                "are the terminal's on stdin or stderr, else what COLUMNS, LINES and the environment say",
            )
        )
    (min_w, min_h), (best_w, best_h) = MIN_SIZE, BEST_SIZE
    size = f"{terminal.width}x{terminal.height}"
    if terminal.width < min_w or terminal.height < min_h:
        checks.append(
            Check(
                Level.ERROR,
                "size",
                f"{size}: too small, the slides need at least {min_w}x{min_h} (they look best at {best_w}x{best_h} "
                "or more): enlarge the window or make the font smaller",
            )
        )
    elif terminal.width < best_w or terminal.height < best_h:
        checks.append(
            Check(
                Level.WARNING,
                "size",
                f"{size}: usable (at least {min_w}x{min_h}); the figures look best at {best_w}x{best_h} or more "
                "(panels side by side): enlarge the window if the font stays legible from the back",
            )
        )
    else:
        checks.append(Check(Level.OK, "size", f"{size}: the slides fit as designed ({best_w}x{best_h} or more)"))
    checks.append(colour_check(terminal))
    return checks


def colour_check(terminal: Terminal) -> Check:
    if terminal.no_color:
        return Check(
            Level.WARNING,
            "colours",
            "NO_COLOR is set: the slides are drawn in monochrome (runs and verdicts lose their colours): unset it",
        )
    system = terminal.color_system
    if system == "truecolor":
        return Check(Level.OK, "colours", "truecolor: the figures' colours as designed")
    if system == "256":
        return Check(
            Level.OK, "colours", "256 colours: close to the design (COLORTERM=truecolor, if the terminal has it)"
        )
    if system in ("standard", "windows"):
        return Check(
            Level.WARNING,
            "colours",
            "16 colours: runs may be hard to tell apart: use a terminal with 256 colours or truecolor "
            "(or set COLORTERM=truecolor if it has them)",
        )
    return Check(
        Level.WARNING,
        "colours",
        f"none detected (TERM={os.environ.get('TERM', '')!r}): the slides may be drawn without colour: "
        "run in a colour terminal (TERM=xterm-256color)",
    )


def live_checks(deck: Deck, live: bool, slide_seconds: float, probe: Callable[[], Probe]) -> list[Check]:
    """With --live, each slide that would train (a fast result: with a record, that record is its fallback
    should it fall behind): timed for a few seconds here, extrapolated to the slide."""
    slides = [s for s in deck.slides if s.kind is SlideKind.RESULT and (s.live or trains_live(s.preset))]
    if not live:
        return [Check(Level.OK, "live", "not asked (--live): nothing trains, no engine starts")]
    if not slides:
        return [Check(Level.OK, "live", "no slide is fast enough to train live: every slide replays its record")]
    checks = []
    with probe() as timer:
        for slide in slides:
            group = load_preset(slide.preset)
            assert isinstance(group, GroupPreset)
            members = group.members()
            where = deck_dir(deck.path, slide.preset)
            checks.append(pace_check(slide, members, timer.measure(members[0]), slide_seconds, where))
    return checks


def trains_live(preset: str) -> bool:
    """Whether `gradfail talk --live` trains this result's slide (fast enough: engine/paper.py)."""
    found = paper.result(preset)
    return found is not None and found.live


def slide_steps(members: list[MemberRun]) -> int:
    """The steps a slide trains: seeds of one run trained together (`batched_seeds`) count once."""
    seen, total = set(), 0
    for m in members:
        try:
            together = get_family(m.family).batched_seeds
        except UnknownFamily:
            together = False
        key = (m.family, repr(m.config)) if together else (m.label, m.seed)
        if key not in seen:
            seen.add(key)
            total += m.config.steps
    return total


def deck_dir(deck: Path | None, preset: str) -> str:
    """Where a result's records go in the deck: DECK/03-thm-variance."""
    number = next((n for n, res in enumerate(paper.RESULTS, 1) if res.preset == preset), 0)
    return str((deck or Path("DECK")) / paper.result_dir(number, preset))


def pace_check(slide: Slide, members: list[MemberRun], pace: Pace, slide_seconds: float, where: str) -> Check:
    what = f"live: {slide.heading}"
    measured = walltimes.lookup(slide.preset)
    reference = f"; measured {walltimes.clock(measured.seconds)} on a {measured.machine}" if measured else ""
    record = f"record it into the deck instead (`gradfail run --preset {slide.preset} --out {where}`)"
    if pace.error:
        return Check(Level.WARNING, what, f"could not be timed here ({pace.error}): {record}")
    total = slide_steps(members)
    if pace.steps:
        estimate = pace.seconds / pace.steps * total
        about = "about"
        basis = f"{pace.steps:,} step{'s' * (pace.steps != 1)} of {pace.label!r} took {pace.seconds:.2f} s"
    else:  # not one step within the cap
        estimate = pace.seconds * total
        about = "over"
        basis = f"one step of {pace.label!r} took over {pace.seconds:.1f} s"
    basis += " (stopped there)" if pace.cut and pace.steps else ""
    basis += f", extrapolated to the slide's {total:,} steps{reference}"
    if estimate <= slide_seconds and pace.cut:  # later steps may be slower (a measurement's grow with d, k)
        return Check(
            Level.WARNING,
            what,
            f"at least {math.ceil(estimate)} s here; {PROBE_S:g} s of it cannot tell whether it fits a {slide_seconds:g} s "
            f"slide ({basis}): rehearse this slide with --live, or {record}",
        )
    fallback = " (the deck's recording is its fallback)" if slide.runs else ""
    if estimate <= slide_seconds:
        return Check(
            Level.OK,
            what,
            f"{about} {math.ceil(estimate)} s here: fits a {slide_seconds:g} s slide{fallback} ({basis})",
        )
    fix = record if estimate > paper.LIVE_LIMIT_S else f"talk over it for {math.ceil(estimate)} s, or {record}"
    if slide.runs:  # talk/live.py switches to the recording once the projected finish is well past the slide
        fix = "it will fall back to the deck's recording (REPLAY) within the slide; leave out --live to replay it"
    return Check(
        Level.WARNING,
        what,
        f"{about} {math.ceil(estimate)} s here, longer than a {slide_seconds:g} s slide ({basis}): {fix}",
    )


@contextlib.contextmanager
def no_network(attempts: list[str]) -> Iterator[list[str]]:
    """While inside: every socket connection or name look-up is refused, and named in `attempts`."""

    def refuse(name: str):
        def refused(*args, **kwargs):
            address = args[1] if name in ("connect", "connect_ex") and len(args) > 1 else args[:1]
            attempts.append(f"{name} {address}")
            raise OSError(f"preflight: no network ({name})")

        return refused

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = refuse("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse("connect_ex")  # type: ignore[method-assign]
    socket.create_connection = refuse("create_connection")  # type: ignore[assignment]
    socket.getaddrinfo = refuse("getaddrinfo")  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo = saved  # type: ignore[method-assign,assignment]


def file_system(path: Path) -> str | None:
    """The type of the file system `path` lies on (Linux: /proc/self/mounts), or None where unknown."""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    resolved, best, kind = path.resolve(), -1, None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = Path(parts[1].replace("\\040", " "))
        if (resolved == point or point in resolved.parents) and len(point.parts) > best:
            best, kind = len(point.parts), parts[2]
    return kind


def network_check(path: Path | None, deck: Deck | None, attempts: list[str], live: bool) -> Check:
    """What was checked of "needs no network": the deck read with sockets refused, where its files lie."""
    said = []
    if deck is not None:
        verdicts = sum(s.verdict is not None for s in deck.slides)
        said.append(
            f"reading the deck and judging its {verdicts} verdicts opened no connection (sockets refused while it ran)"
        )
    if attempts:
        return Check(Level.WARNING, "network", f"reading the deck tried the network: {'; '.join(attempts[:3])}")
    level = Level.OK
    if path is not None and path.is_dir():
        kind = file_system(path)
        if kind is None:
            said.append("the deck's file system: not known here")
        elif kind in NETWORK_FS or kind.startswith(NETWORK_FS_PREFIXES):
            level = Level.WARNING
            said.append(f"the deck is on a network file system ({kind}): copy it onto this machine (rsync -a)")
        else:
            said.append(f"the deck is on a local file system ({kind})")
    said.append(
        "the talk replays these files" + ("; its live engine is a child process on pipes" if live else ", no engine")
    )
    return Check(level, "network", "; ".join(said))


def serve_check(serve_page: Callable[[Path], Path] | None) -> Check:
    """`gradfail serve --talk`: its page, as the server makes it, asks for nothing outside the machine."""
    what = "browser page"
    if serve_page is None:
        return Check(Level.WARNING, what, "not checked (no page maker given)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = serve_page(Path(tmp))
        except ImportError as exc:
            return Check(
                Level.WARNING,
                what,
                f"gradfail serve is not installed ({exc.name or exc}): only for a browser: pip install -e '.[serve]'",
            )
        except (RuntimeError, OSError) as exc:
            return Check(Level.WARNING, what, f"{exc}: under gradfail serve the page would fetch its font online")
        text = (folder / "app_index.html").read_text(encoding="utf-8")
    outside = EXTERNAL.findall(text)
    if outside:
        return Check(Level.WARNING, what, f"gradfail serve's page still asks for {len(outside)} address(es) online")
    fonts = FONT_URL.findall(text)
    spec = importlib.util.find_spec("textual_serve")
    static = Path(spec.origin).parent / "static" if spec and spec.origin else None
    missing = [f for f in fonts if static is None or not (static / f).is_file()]
    if missing:
        return Check(Level.WARNING, what, f"gradfail serve's page needs {', '.join(missing)}, not installed here")
    return Check(
        Level.OK,
        what,
        f"gradfail serve's page asks for nothing outside this machine (no http(s) address; its font, {len(fonts)} "
        "file, served by it)",
    )


def notes_check(path: Path | None) -> Check:
    try:
        notes = load_notes(path)
    except NotesError as exc:
        return Check(Level.ERROR, "notes", f"{exc}: fix the file (or leave --notes out: the shipped notes)")
    if path is None:
        return Check(Level.OK, "notes", f"the shipped notes, for all {len(SHIPPED)} slides (no notes file given)")
    return Check(
        Level.OK,
        "notes",
        f"{path}: yours for {len(notes.own)} slides, the shipped notes for the other {len(SHIPPED) - len(notes.own)}",
    )


def characters_check(terminal: Terminal) -> Check:
    width = max(len(name) for name, _, _ in PATTERN)
    lines = tuple(f"{name:<{width}}  {chars}   ({use})" for name, chars, use in PATTERN)
    if not terminal.utf8:
        return Check(
            Level.WARNING,
            "characters",
            f"the output's encoding is {terminal.encoding}, not UTF-8: the plots cannot be drawn: set LANG=C.UTF-8",
            lines,
        )
    return Check(Level.OK, "characters", "look at each line below: every mark drawn, none an empty box or '?'", lines)


# ---- printing -----------------------------------------------------------------------------------------

MARKS = {Level.OK: "[green]✓[/]", Level.WARNING: "[yellow]![/]", Level.ERROR: "[bold red]✗[/]"}


def print_checks(console: Console, checks: list[Check]) -> None:
    """A line a check after its mark (a long one wraps under its words), then whether the talk is ready."""
    for check in checks:
        print_wrapped(console, MARKS[check.level], f"[bold]{escape(check.what)}[/]: {escape(check.says)}")
        for line in check.detail:
            console.print(Text(f"    {line}", no_wrap=True, overflow="ellipsis"), highlight=False)
    errors = sum(c.level is Level.ERROR for c in checks)
    warnings = sum(c.level is Level.WARNING for c in checks)
    noted = f"{warnings} warning{'s' * (warnings != 1)} (!)" if warnings else ""
    if errors:
        print_wrapped(
            console,
            "",
            f"[bold red]not ready[/]: {errors} error{'s' * (errors != 1)} (✗) would break the talk: fix them first"
            + (f"; {noted}" if noted else ""),
        )
    else:
        print_wrapped(console, "", "[bold green]ready[/]" + (f": {noted} worth a look" if noted else ""))


def print_wrapped(console: Console, mark: str, markup: str) -> None:
    """`mark` and the text, wrapped to the console with its lines under the text's start, no trailing blanks."""
    indent = 2 if mark else 0
    for number, line in enumerate(Text.from_markup(markup).wrap(console, max(20, console.width - indent))):
        line.rstrip()
        lead = Text.from_markup(mark + " ") if mark and number == 0 else Text(" " * indent)
        console.print(lead, line, sep="", highlight=False)


def preflight_command(
    console: Console,
    deck: Path | None,
    slide_seconds: float = 20.0,
    live: bool = False,
    notes: Path | None = None,
    *,
    terminal: Terminal | None = None,
    serve_page: Callable[[Path], Path] | None = None,
    probe: Callable[[], Probe] = EngineProbe,
) -> int:
    """`gradfail talk DECK --preflight`: print every check, return the exit code (2: fix something)."""
    terminal = terminal or Terminal.detect()
    if not terminal.utf8:
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    checks = run_preflight(
        deck, terminal, slide_seconds=slide_seconds, live=live, notes=notes, serve_page=serve_page, probe=probe
    )
    print_checks(console, checks)
    return exit_code(checks)
