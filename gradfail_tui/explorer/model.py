"""What the explorer shows, as a plain object: the runs and groups it knows and which are on screen.

The App wires this to widgets; everything here is decided without Textual, so a test can drive it
directly (harlequin's and posting's habit: the domain in plain objects, the App thin). The model
knows nothing of engines either: the orchestration layer trains and records the runs, the model
only lists them and says what to draw.

On screen: the *primary* run (the status line's, whose snapshots are drawn), the runs *compared*
with it (overlaid on every plot), the *replay* going (a recorded run played back into a fresh
state), and the *group* shown (its runs overlaid in the group's order, with its band).

It also decides what the keys do now: which act (`key_state`, the App's check_action), whether a
start must wait (`busy`), what p and x act on (`pause_replay`, `training`, `stop_target`), and what r
starts again, and when (`last_choice`, `restart_due`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Snapshot
from engine.orchestration import Job, JobKind, LiveRun
from engine.state import RunState
from engine.status import RunStatus
from gradfail_tui.explorer.choices import Choice
from gradfail_tui.explorer.entries import (
    REPLAY_SPEEDS,
    SESSION,
    GroupEntry,
    Replay,
    RunEntry,
    is_group_key,
    label_members,
    load_recorded,
)
from gradfail_tui.render.format import unique_name

# The actions whose keys come and go with the model's state (`key_state`); the others always act.
GATED_ACTIONS = ("start", "pause", "stop", "restart", "compare", "live_settings", "step")


@dataclass(frozen=True)
class Stop:
    """What x stops now: the replay on screen, a group's job (its runs not started never start), or one
    run; `notice` is what to tell the person."""

    replay: Replay | None = None
    job: Job | None = None
    run: str | None = None
    notice: str = ""


class ExplorerModel:
    def __init__(self, replay_speed: float = 10):
        self.entries: list[RunEntry] = []  # this session's runs (newest first), then recorded ones
        self.groups: list[GroupEntry] = []  # this session's groups (newest first), then recorded ones
        self.primary: str | None = None  # the key of the run on screen
        self.compared: dict[str, None] = {}  # runs overlaid on the plots, in the order added
        self.replay: Replay | None = None
        self.replay_speed = replay_speed
        self.shown_group: GroupEntry | None = None
        self.picked_seed: str | None = None  # in a band of seeds: the label of the seed picked out, if any
        self.last_choice: Choice | None = None  # the last single config started: r starts it again
        self.restart_after: RunEntry | None = None  # r on a running run: started again once it has ended

    # -- looking up -------------------------------------------------------------------------------
    def entry(self, key: str | None) -> RunEntry | None:
        return next((e for e in self.entries if e.key == key), None) if key else None

    def group(self, key: str | None) -> GroupEntry | None:
        return next((g for g in self.groups if g.key == key), None) if key else None

    @property
    def active(self) -> RunEntry | None:
        """The run of this session that has not ended (the explorer trains one at a time)."""
        return next((e for e in self.entries if e.running), None)

    @property
    def live_group(self) -> GroupEntry | None:
        return next((g for g in self.groups if g.running), None)

    @property
    def live_sweep(self) -> GroupEntry | None:
        """The group going, if it is a sweep (it trains on a pool of engines, and p pauses them all)."""
        group = self.live_group
        return group if group is not None and group.sweep is not None else None

    def group_of(self, entry: RunEntry) -> GroupEntry | None:
        return next((g for g in self.groups if entry.key in g.keys.values()), None)

    def training(self) -> RunEntry | None:
        """The run the engine trains now (running or paused), or None: what live settings and steps act on."""
        entry = self.active
        return entry if entry is not None and entry.status in (RunStatus.RUNNING, RunStatus.PAUSED) else None

    # -- what the keys do now ---------------------------------------------------------------------
    def key_state(self, action: str, form_ready: bool) -> bool | None:
        """Whether an action's key acts now (the App's check_action): True; None, shown disabled; False,
        hidden (live settings and steps, only while a run trains: the footer is narrow). `form_ready`:
        the Setup form on screen has no problem."""
        if action == "start":
            return True if form_ready else None
        if action in ("pause", "stop"):
            return True if self.active is not None or self.replay is not None else None
        if action == "restart":
            return True if self.last_choice is not None and self.live_group is None else None
        if action == "compare":
            return True if self.primary else None
        if action in ("live_settings", "step"):
            # Not in a sweep: its runs are points of its grid (a change mid-run would not be the cell sweep.json
            # says), and steps would reach one engine of its pool while p pauses them all.
            return self.training() is not None and self.live_sweep is None
        return True

    def busy(self, group: bool) -> str | None:
        """Why a new start (of a group, if `group`) must wait, as the person is told; None if it need not:
        the explorer trains one thing at a time."""
        if self.live_group is not None:
            return f"{self.live_group.name} is going: x stops the group."
        if self.active is not None:
            return "A run is going: x stops it, " + ("then s starts the group." if group else "r restarts it.")
        return None

    def stop_target(self) -> Stop | None:
        """What x stops: the replay on screen, else the group going, else the run going (None: nothing)."""
        if self.replaying_primary():
            return Stop(replay=self.replay, notice=f"{self.replay.entry.label}: replay skipped to the end")
        group, entry = self.live_group, self.active
        if group is not None:
            later = (
                "its runs not started stay waiting in sweep.json"
                if group.sweep is not None
                else "the runs after this one are not run"
            )
            return Stop(job=group.job, notice=f"{group.name}: stopping; {later}")
        return Stop(run=entry.key) if entry is not None else None

    def restart_after_stop(self) -> bool:
        """r while a run goes: remember to start the last choice again once it has ended (`restart_due`)."""
        self.restart_after = self.active
        return self.restart_after is not None

    def restart_due(self, ended: RunEntry | None) -> Choice | None:
        """The choice to start again now that `ended` has ended, if r asked for it."""
        if ended is None or ended is not self.restart_after:
            return None
        self.restart_after = None
        return self.last_choice

    # -- runs of this session ---------------------------------------------------------------------
    def unique_label(self, label: str) -> str:
        return unique_name(label, {e.label for e in self.entries if e.origin == SESSION})

    def add_run(self, live: LiveRun) -> RunEntry:
        """A run started from the form: it takes the screen (the group shown, a replay, step aside)."""
        self.leave_group()
        self.stop_replay()
        entry = RunEntry.of_live(live, self.unique_label(live.label))
        self.entries.insert(0, entry)  # newest first, above the recorded runs
        self.primary = entry.key
        return entry

    def start(self, choice: Choice, job: Job) -> RunEntry | GroupEntry:
        """The job a form's choice made takes the screen; a single config's choice is kept for r."""
        if choice.alone:
            self.last_choice = choice
        return self.add_job(job, choice.label)

    def add_job(self, job: Job, label: str) -> RunEntry | GroupEntry:
        """A job started from a form takes the screen: one run as itself; any other job as a group of
        its runs (a group preset's overlay, seeds' band, a sweep's phase diagram), labelled `label`.
        The runs it has from its start (seeds) are listed at once, the rest as they are handed out."""
        if job.kind is JobKind.RUN:
            return self.add_run(job.lives[0])
        self.leave_group()
        self.stop_replay()
        group = GroupEntry.of_job(job, self.unique_label(label) if job.kind is JobKind.SEEDS else None)
        for live in reversed(job.lives):  # newest first: the first run ends up on top
            self.entries.insert(0, RunEntry.of_live(live, live.label, where=f"{job.path.name}/{live.run_dir.name}"))
        self.groups.insert(0, group)
        self.show_group(group)
        return group

    def sweep_run_ended(self, group: GroupEntry, entry: RunEntry) -> None:
        """A sweep's run has ended: its value is in sweep.json and its curves on disk, so it leaves the
        model (a sweep of hundreds of runs does not grow the explorer); the next batch takes the screen."""
        label = next((label for label, key in group.keys.items() if key == entry.key), None)
        if label is not None:
            del group.keys[label]
        self.compared.pop(entry.key, None)
        self.entries = [e for e in self.entries if e is not entry]
        if self.primary == entry.key:
            self.primary = next(iter(group.keys.values()), None)

    def pick_seed(self, direction: int) -> str | None:
        """In a band of seeds, pick out the next (+1) or previous (-1) seed, or none (past either end)."""
        group = self.shown_group
        if group is None or not group.seeds or not group.labels:
            return None
        order = [None, *group.labels]
        index = order.index(self.picked_seed) if self.picked_seed in order else 0
        self.picked_seed = order[(index + direction) % len(order)]
        key = group.keys.get(self.picked_seed) if self.picked_seed else None
        if key is not None:
            self.primary = key
        return self.picked_seed

    def add_group_run(self, group: GroupEntry, live: LiveRun) -> RunEntry:
        """A group's next run; it becomes the primary one only while that group is on screen."""
        entry = RunEntry.of_live(live, live.label, where=f"{group.path.name}/{live.run_dir.name}")
        self.entries.insert(0, entry)
        group.keys[live.label] = entry.key
        if self.shown_group is group:
            self.show_group(group, primary=entry.key)
        return entry

    # -- what is on screen -------------------------------------------------------------------------
    def show_group(self, group: GroupEntry, primary: str | None = None) -> None:
        """Overlay the group's runs (the comparison, in the group's order) and show its band."""
        if self.shown_group is not None and self.shown_group is not group:
            self.leave_group()
        self.shown_group = group
        keys = [group.keys[label] for label in group.labels if label in group.keys]
        self.compared = {key: None for key in keys}
        active = self.active
        running = active.key if active is not None and active.key in keys else None
        self.primary = primary or running or (keys[-1] if keys else None)

    def leave_group(self) -> None:
        """Back to single runs: the group's runs leave the overlay."""
        group, self.shown_group = self.shown_group, None
        self.picked_seed = None
        if group is not None:
            for key in group.keys.values():
                self.compared.pop(key, None)

    def open(self, key: str, replay: bool = False) -> tuple[bool, str | None]:
        """Put a run or a group (its runs overlaid) on screen, a run replayed if asked: (whether it is on
        screen now, what to tell the person)."""
        if not is_group_key(key):
            return self.open_run(key, replay)
        if replay:
            return False, (
                "A group is not replayed as a whole: enter shows its runs; each of its runs can be replayed from its own row"
            )
        group = self.group(key)
        if group is None:
            return False, None
        self.stop_replay()
        self.show_group(group)
        return True, None if group.keys else f"{group.name}: none of its runs has a record to show"

    def open_run(self, key: str, replay: bool = False) -> tuple[bool, str | None]:
        """Put a run on screen, replaying it if asked: (whether it is on screen now, what to tell the person)."""
        entry = self.entry(key)
        if entry is None:
            return False, None
        self.leave_group()  # a run's own row shows that run alone; the group's row shows the group
        if entry.running:
            self.primary = key
            return True, f"{entry.label} is still running: it can be replayed once it has ended" if replay else None
        if self.replay is not None and (replay or self.replay.entry is entry):
            self.stop_replay()
        if replay:
            if entry.origin == SESSION and entry.path is not None:
                entry.events = load_recorded(entry.path).events
            if not entry.events:
                return False, f"{entry.label}: its record holds no events to replay"
            self.replay = Replay(entry, self.replay_speed)
        self.primary = key
        return True, None

    def toggle_compare(self, key: str) -> str | None:
        """Add a run to the overlay or take it out; returns what to tell the person (None: no such run)."""
        entry = self.entry(key)
        if entry is None:
            return None
        if key in self.compared:
            del self.compared[key]
            return f"{entry.label}: taken out of the comparison"
        self.compared[key] = None
        return f"{entry.label}: overlaid on the plots"

    def shown_entries(self) -> list[RunEntry]:
        """The runs drawn, primary first; a group's in the group's order, whichever is primary."""
        keys = ([self.primary] if self.primary else []) + [k for k in self.compared if k != self.primary]
        group = self.shown_group
        if group is not None:
            ordered = [group.keys[label] for label in group.labels if group.keys.get(label) in keys]
            keys = ordered + [k for k in keys if k not in ordered]
        return [e for e in (self.entry(k) for k in keys) if e is not None]

    def status_note(self) -> str:
        """What the status line adds about the primary run: a replay's speed, a wait, a group's progress."""
        entry, replay, group = self.entry(self.primary), self.replay, self.shown_group
        notes = []
        if replay is not None and entry is replay.entry:
            notes.append(f"replay {replay.speed:g}x" + (" (paused)" if replay.paused else ""))
        elif entry is not None and entry.status == RunStatus.WAITING:
            notes.append("waiting for the engine to load")
        # (a sweep's progress is on the second line, with its engines: engines_note)
        if (
            group is not None
            and group.running
            and group.sweep is None
            and entry is not None
            and entry.key in group.keys.values()
        ):
            notes.append(group.progress())
        return " · ".join(notes)

    def engines_note(self) -> str | None:
        """What the status line's second line says of the engines while a sweep goes on its pool, before the
        engine's own word: "sweep on 2 engines: 12/108 runs done, 2 running, 0 failed"; None otherwise."""
        sweep = self.live_sweep
        return sweep.pool_progress() if sweep is not None else None

    def snapshots_source(self) -> RunEntry | None:
        """In a group, the run whose snapshots are drawn: the primary one, where the group shows them."""
        group, entry = self.shown_group, self.entry(self.primary)
        if group is None or entry is None:
            return None
        label = next((label for label, key in group.keys.items() if key == entry.key), None)
        return entry if group.shows_snapshots(label) else None

    def figure_runs(self, group: GroupEntry) -> tuple[dict[str, RunState], dict[str, list[Snapshot]] | None]:
        """What a group's figure is drawn from: its runs' states by their labels in the group, and, for a
        figure of pictures at chosen steps, each run's snapshots in order (else None: the latest of each)."""
        entries = {label: self.entry(group.keys.get(label)) for label in group.labels}
        entries = {label: entry for label, entry in entries.items() if entry is not None}
        states = {label: entry.state for label, entry in entries.items()}
        figure = group.figure
        if figure is None or figure.picture is None:
            return states, None
        return states, {label: entry.snapshot_history() for label, entry in entries.items()}

    def keep_picture(self, key: str, snapshot: Snapshot) -> None:
        """A snapshot of a run training here: kept if its group's figure pictures it at chosen steps (the run's
        state keeps only the latest of each name)."""
        entry = self.entry(key)
        group = self.group_of(entry) if entry is not None else None
        figure = group.figure if group is not None else None
        if figure is not None and figure.picture is not None and figure.picture.snapshot == snapshot.name:
            entry.keep_picture(snapshot, figure.picture.steps)

    # -- replay ------------------------------------------------------------------------------------
    def replaying_primary(self) -> bool:
        """Whether the keys p and x act on the replay (no run of this session is going, or the replay is on screen)."""
        return self.replay is not None and (self.active is None or self.primary == self.replay.entry.key)

    def pause_replay(self) -> bool:
        """p on a replay on screen: pause or resume it; False if p is for the run going instead."""
        if not self.replaying_primary():
            return False
        self.replay.toggle_pause()
        return True

    def stop_replay(self) -> None:
        if self.replay is not None:
            self.replay.finish()
            self.replay = None

    def change_speed(self, direction: int) -> float:
        speeds = REPLAY_SPEEDS
        index = min(range(len(speeds)), key=lambda i: abs(speeds[i] - self.replay_speed))
        self.replay_speed = speeds[max(0, min(len(speeds) - 1, index + direction))]
        if self.replay is not None:
            self.replay.set_speed(self.replay_speed)
        return self.replay_speed

    # -- records found on disk ---------------------------------------------------------------------
    def session_paths(self) -> tuple[set, set]:
        """The directories of this session's runs and groups, which a scan of the disk leaves out."""
        runs = {e.path.resolve() for e in self.entries if e.path is not None and e.origin == SESSION}
        # A job of this session that kept no states (a sweep) is read back as a record once it has ended: its cells become rows.
        groups = {
            g.path.resolve()
            for g in self.groups
            if g.path is not None and g.origin == SESSION and not (g.read_back and not g.running)
        }
        return runs, groups

    def recorded_found(self, found: list[RunEntry], groups: list[GroupEntry]) -> None:
        """Replace the recorded runs and groups with a fresh scan's, keeping what is on screen."""
        shown = self.shown_group if self.shown_group is not None and self.shown_group.origin != SESSION else None
        # The group on screen stays the same object, in its place in the list (the band refers to it).
        recorded_groups = [shown if shown is not None and g.key == shown.key else g for g in groups]
        if shown is not None and shown not in recorded_groups:
            recorded_groups.append(shown)  # on screen: kept even if its directory has gone
        found_keys = {g.key for g in groups}  # an ended sweep of this session, found as a record, is that record now
        session = [g for g in self.groups if g.origin == SESSION and not (g.read_back and g.key in found_keys)]
        self.groups = session + recorded_groups
        known = {e.key: e for e in self.entries if e.origin != SESSION}
        recorded = [known.get(e.key, e) for e in found]
        # Keep a run that is on screen even if its directory has gone meanwhile.
        keep = [e for e in known.values() if e not in recorded and (e.key == self.primary or e.key in self.compared)]
        if shown is not None:  # the entries the band and the plots refer to go by its labels
            label_members([shown], recorded + keep)
        self.entries = [e for e in self.entries if e.origin == SESSION] + recorded + keep
