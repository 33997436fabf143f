"""Two terminals, one talk: the presenting `gradfail talk DECK` and the speaker view (`--speaker`) follow each
other through small files on this machine, nothing on the network.

Each running view (a writer) keeps one file of its own, `<deck key>-<writer>.json`, in a per-user runtime
directory: `$XDG_RUNTIME_DIR/gradfail/` where the system provides one (private to the user, in memory,
cleared at logout), else `gradfail-<uid>/` in the temporary directory, made private (0700). Not in the
deck's directory: a deck is often a copy on a read-only medium or shared with others, a file there would
travel with every `rsync` and export of it, and two people presenting one shared deck would follow each
other. The key is a digest of the deck's resolved path, so talks of different decks never meet.

A file holds the talk's state (`TalkState`: the slide, the figure's panels, the blank screen, when the
talk started) with a sequence number, the writer's id, role and process id, and a heartbeat; the
presenter adds its run's state ("replaying 40% at 1x") for the speaker view. Every view polls the others'
files a few times a second (`Channel.newer`). The newest state wins, a Lamport clock: a change is written
with a number above every number seen, a tie goes to the presenter, then to the larger writer id, so
two views pressing keys at once settle on one slide. A file is written whole (a temporary file, then
`os.replace`), so a reader never sees half of one.

A file left by a view that has gone (its process dead, or its heartbeat older than `STALE_S`: killed,
suspended, the machine asleep) is ignored and removed, so a new talk starts on its title slide; a view
that starts while another lives joins the talk where it is (a presenter restarted mid-talk comes back on
the speaker's slide, with the talk's clock). No Textual here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

STALE_S = 5.0  # a writer whose heartbeat is older than this has gone
BEAT_S = 1.0  # how often a writer rewrites its file when nothing changed (its heartbeat)


class Role(StrEnum):
    PRESENTER = "presenter"  # the audience's screen: `gradfail talk DECK`
    SPEAKER = "speaker"  # the speaker's notes: `gradfail talk DECK --speaker`


RANK = {Role.SPEAKER: 0, Role.PRESENTER: 1}  # who wins a tie


class FollowError(OSError):
    """No private place to keep the talk's state in; the message says where and why."""


@dataclass(frozen=True)
class TalkState:
    """What both views share: which slide, which panels of its figure, whether the screen is blank, and
    when the talk started (on the views' clock, None before its first slide change)."""

    slide: int = 0
    page: int = 0
    blank: bool = False
    started: float | None = None


@dataclass(frozen=True)
class Post:
    """One writer's file, as read back."""

    writer: str
    role: Role
    pid: int
    seq: int
    beat: float
    state: TalkState
    run: str = ""  # the presenter's run, for the speaker view: "replaying 40% at 1x", "training live: ..."

    @property
    def order(self) -> tuple[int, int, str]:
        return (self.seq, RANK[self.role], self.writer)

    @classmethod
    def parse(cls, data: object) -> Post | None:
        """A post from a file's JSON; None if it is not one (a file of another version, garbled)."""
        try:
            assert isinstance(data, dict)
            fields = data["state"]
            started = fields.get("started")
            state = TalkState(
                slide=int(fields["slide"]),
                page=int(fields.get("page", 0)),
                blank=bool(fields.get("blank", False)),
                started=None if started is None else float(started),
            )
            return cls(
                writer=str(data["writer"]),
                role=Role(data["role"]),
                pid=int(data["pid"]),
                seq=int(data["seq"]),
                beat=float(data["beat"]),
                state=state,
                run=str(data.get("run", "")),
            )
        except (AssertionError, KeyError, TypeError, ValueError, AttributeError):
            return None


def runtime_dir() -> Path:
    """This user's private directory for the talks' state files (made if missing); FollowError if the
    place found is not private (another user's, a link, open to others)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        where = Path(base) / "gradfail"
    else:
        user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
        where = Path(tempfile.gettempdir()) / f"gradfail-{user}"
    try:
        where.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(where)
    except OSError as exc:
        raise FollowError(f"{where}: cannot be made ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise FollowError(f"{where}: not a directory of this user's; remove it or set XDG_RUNTIME_DIR")
    if info.st_mode & 0o077:
        raise FollowError(f"{where}: open to other users (chmod 700 it)")
    return where


def deck_key(deck: Path | None) -> str:
    """The name a deck's talk goes by: a digest of its resolved path ("no-deck" without one)."""
    if deck is None:
        return "no-deck"
    return "talk-" + hashlib.sha256(str(deck.resolve()).encode()).hexdigest()[:16]


def alive(pid: int) -> bool:
    """Whether process `pid` exists (on this machine); True where that cannot be told."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class Channel:
    """This view's end of the talk's files: `publish` what it shows, `newer` what another view changed."""

    def __init__(self, directory: Path, key: str, role: Role, clock: Callable[[], float] = time.time):
        self.directory = directory
        self.key = key
        self.role = role
        self.clock = clock  # the views' shared clock: wall time, or a test's fake one given to both
        self.writer = uuid.uuid4().hex[:12]
        self.pid = os.getpid()
        self.seq = 0  # the number of the state this view shows (its own or one adopted)
        self.adopted = (0, RANK[role], self.writer)  # the order of the state shown
        self.seen = 0  # the highest number seen in any file
        self.last: tuple | None = None  # what was last written, and when (for the heartbeat)
        self.written_at = -float("inf")
        self.posts: list[Post] = []  # the other views' posts, as last read by `newer`

    @classmethod
    def for_deck(cls, deck: Path | None, role: Role, clock: Callable[[], float] = time.time) -> Channel:
        return cls(runtime_dir(), deck_key(deck), role, clock)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.key}-{self.writer}.json"

    def others(self) -> list[Post]:
        """The live views' posts but this one's; a file of a view that has gone is removed."""
        posts = []
        for path in self.directory.glob(f"{self.key}-*.json"):
            if path == self.path:
                continue
            try:
                post = Post.parse(json.loads(path.read_text(encoding="utf-8")))
            except FileNotFoundError:
                continue  # removed while listed: its view has just gone
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                post = None  # half a file cannot happen (os.replace); a garbled one is ignored
            if post is None:
                continue
            if self.clock() - post.beat > STALE_S or not alive(post.pid):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            posts.append(post)
        return posts

    def newer(self) -> Post | None:
        """The newest live post of another view, if it is newer than what this view shows (then adopt
        its state: this view shows it from now on), else None."""
        posts = self.posts = self.others()
        self.seen = max([self.seen, *(p.seq for p in posts)])
        newest = max(posts, key=lambda p: p.order, default=None)
        if newest is None or newest.order <= self.adopted:
            return None
        self.seq, self.adopted = newest.seq, newest.order
        return newest

    def presenter(self) -> Post | None:
        """The live presenter's post as `newer` last read it (the latest heartbeat, if several), or None."""
        presenters = [p for p in self.posts if p.role is Role.PRESENTER]
        return max(presenters, key=lambda p: p.beat, default=None)

    def publish(self, state: TalkState, run: str = "", changed: bool = False) -> None:
        """Write this view's post: `changed` (a key pressed here) numbers it above all seen, so it wins;
        otherwise it is written only when its content differs or the heartbeat is due."""
        if changed:
            self.seq = max(self.seen, self.seq) + 1
            self.seen = self.seq
            self.adopted = (self.seq, RANK[self.role], self.writer)
        content = (self.seq, state, run)
        now = self.clock()
        if content == self.last and now - self.written_at < BEAT_S:
            return
        post = {
            "writer": self.writer,
            "role": str(self.role),
            "pid": self.pid,
            "seq": self.seq,
            "beat": now,
            "state": asdict(state),
            "run": run,
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            tmp.write_text(json.dumps(post), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            return  # a full disk must not end the talk: the other view stops following, said on it
        self.last, self.written_at = content, now

    def close(self) -> None:
        """Remove this view's file: it has gone."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def started_now(state: TalkState, now: float) -> TalkState:
    """The state with the talk's clock started, if it was not."""
    return state if state.started is not None else replace(state, started=now)
