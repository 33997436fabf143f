"""`gradfail talk DECK --preflight`: a line a check, exit 2 only for what would break the talk, never a
traceback. Decks from tests/talk/decks.py; the terminal is passed in; live slides are timed by a fake."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from engine import paper
from gradfail_tui.talk import preflight
from gradfail_tui.talk.preflight import Level, Pace, Probe, Terminal, preflight_command, run_preflight
from tests.talk.decks import write_deck

BIG = Terminal(120, 36)
HEADINGS = [res.heading for res in paper.RESULTS]


def offline_page(directory: Path) -> Path:
    (directory / "app_index.html").write_text('<link href="{{ config.static.url }}css/xterm.css">', encoding="utf-8")
    return directory


def check(deck: Path | None, terminal: Terminal = BIG, **options) -> tuple[int, str]:
    """The preflight's exit code and what it printed."""
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    options.setdefault("serve_page", offline_page)
    code = preflight_command(console, deck, terminal=terminal, **options)
    return code, out.getvalue()


def line(text: str, what: str) -> str:
    """The printed line of the check named `what`."""
    found = [row for row in text.splitlines() if row[2:].startswith(f"{what}:")]
    assert found, f"no line for {what!r} in:\n{text}"
    return found[0]


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    return write_deck(tmp_path_factory.mktemp("preflight") / "deck")


def test_a_good_deck_in_a_big_terminal_is_ready_with_a_line_per_check(deck):
    code, text = check(deck)
    assert code == 0, text
    for what in ["deck", "paper.json", *HEADINGS, "terminal", "size", "colours", "live", "network", "browser page"]:
        assert line(text, what).startswith("✓"), line(text, what)
    assert "reproduced" in line(text, HEADINGS[0]) and "2 runs, 84 events read" in line(text, HEADINGS[0])
    assert "no connection" in line(text, "network") and "local file system" in line(text, "network")
    assert line(text, "notes").startswith("✓") and "shipped notes" in line(text, "notes")
    assert line(text, "characters").startswith("✓")
    for chars in ("⣿", "▄▀█", "┌──┬──┐", "██", "●●", "╍╍"):
        assert chars in text
    assert text.rstrip().splitlines()[-1] == "ready"
    assert "Traceback" not in text


def test_a_slide_without_its_records_is_an_error_naming_how_to_record_it(tmp_path):
    code, text = check(write_deck(tmp_path / "deck", skip=("fig-stocks",)))
    assert code == 2
    row = line(text, "Figure 4: the stocks problem")
    assert row.startswith("✗") and "not run" in row
    assert "gradfail run --preset fig-stocks --out" in row and "06-fig-stocks" in row
    assert "--live" in row  # fast enough to train live instead
    assert "not ready: 1 error" in text


def test_a_damaged_record_is_an_error(tmp_path):
    path = write_deck(tmp_path / "deck")
    events = next((path / "01-fig-parity").glob("*/events.jsonl"))
    events.write_bytes(events.read_bytes()[:-30])  # cut off in the middle of its last line
    group = path / "05-fig-tuples" / "group.json"
    group.write_text(group.read_text()[:50])
    code, text = check(path)
    assert code == 2
    parity, tuples = line(text, HEADINGS[0]), line(text, "Figure 3: tuples of line images")
    assert parity.startswith("✗") and "events.jsonl line" in parity and "record it again" in parity
    assert tuples.startswith("✗") and "group.json" in tuples
    assert "Traceback" not in text


@pytest.mark.parametrize("missing", ["nowhere", "empty"])
def test_a_missing_deck_or_a_directory_that_is_not_one_is_an_error(tmp_path, missing):
    path = tmp_path / missing
    if missing == "empty":
        path.mkdir()
    code, text = check(path)
    assert code == 2
    if missing == "nowhere":
        assert line(text, "deck").startswith("✗") and "no such directory" in line(text, "deck")
    else:
        assert line(text, "paper.json").startswith("✗") and "missing" in line(text, "paper.json")
    assert line(text, "size").startswith("✓")  # the other checks still run
    code, text = check(None)
    assert code == 2 and "none given" in line(text, "deck")


def test_the_terminals_size_colours_and_kind(deck):
    code, text = check(deck, Terminal(70, 20))
    assert code == 2
    assert line(text, "size").startswith("✗") and "70x20" in text and "at least 80x24" in line(text, "size")
    code, text = check(deck, Terminal(100, 30))
    assert code == 0 and line(text, "size").startswith("!") and "120x36" in line(text, "size")
    code, text = check(deck, Terminal(120, 36, is_terminal=False, color_system=None, no_color=True))
    assert code == 0
    assert line(text, "terminal").startswith("!") and "not a terminal" in line(text, "terminal")
    assert line(text, "colours").startswith("!") and "NO_COLOR" in line(text, "colours")
    for system, mark in [("256", "✓"), ("standard", "!"), (None, "!")]:
        _, text = check(deck, Terminal(120, 36, color_system=system))
        assert line(text, "colours").startswith(mark)
    _, text = check(deck, Terminal(120, 36, encoding="ascii"))
    assert line(text, "characters").startswith("!") and "UTF-8" in line(text, "characters")


def test_a_verdict_not_reproduced_is_a_warning_not_an_error(tmp_path):
    path = write_deck(tmp_path / "deck")
    group = path / "01-fig-parity" / "group.json"
    manifest = json.loads(group.read_text())
    manifest["claims"][0]["at_least"] = 2.0
    group.write_text(json.dumps(manifest))
    code, text = check(path)
    assert code == 0
    row = line(text, HEADINGS[0])
    assert row.startswith("!") and "not reproduced (paper.json said reproduced)" in row


class FakeProbe(Probe):
    """Times nothing: answers each run with the pace given, and notes that it was closed."""

    def __init__(self, pace: Pace):
        self.pace, self.asked, self.closed = pace, [], False

    def __exit__(self, *exc: object) -> None:
        self.closed = True

    def measure(self, member):
        self.asked.append(member.label)
        return self.pace


@pytest.mark.parametrize(
    ("pace", "mark", "says"),
    [
        (Pace("d = 5", 300, 0.03), "✓", "about 6 s here: fits a 20 s slide"),
        (Pace("d = 5", 300, 3.0), "!", "about 600 s here, longer than a 20 s slide"),
        (Pace("d = 5", 0, 3.5, cut=True), "!", "over 210000 s here"),
        (Pace("d = 5", 300, 0.03, cut=True), "!", "cannot tell whether it fits a 20 s slide"),
        (Pace("d = 5", error="the engine did not start"), "!", "could not be timed here"),
    ],
)
def test_a_live_slide_is_timed_and_extrapolated_to_the_slide(tmp_path, pace, mark, says):
    path = write_deck(tmp_path / "deck", skip=("fig-parity",))
    probe = FakeProbe(pace)
    code, text = check(path, live=True, probe=lambda: probe)
    assert code == 0, text  # fast enough to train live: its missing record is no error with --live
    assert line(text, HEADINGS[0]).startswith("✓") and "trains live" in line(text, HEADINGS[0])
    row = line(text, f"live: {HEADINGS[0]}")
    assert row.startswith(mark) and says in row, row
    assert probe.asked[0] == "d = 5" and probe.closed  # its first run (then the recorded fast slides'), closed
    if not pace.error:
        assert "extrapolated to the slide's 60,000 steps" in row  # its 3 runs' 20,000 steps
    code, text = check(path, probe=lambda: probe)  # without --live: an error, and nothing is timed
    assert code == 2 and "present with --live" in line(text, HEADINGS[0])
    assert line(text, "live").startswith("✓") and "not asked" in line(text, "live")


def test_live_with_every_slide_recorded_times_the_fast_ones_their_recording_the_fallback(deck):
    from engine import paper

    probe = FakeProbe(Pace("x", 1, 30.0))  # 30 s a step: too slow for any slide
    code, text = check(deck, live=True, probe=lambda: probe)
    fast = [r for r in paper.RESULTS if r.live]
    assert code == 0 and len(probe.asked) == len(fast) > 0
    for result in fast:
        row = line(text, f"live: {result.heading}")
        assert row.startswith("!") and "fall back to the deck's recording" in row, row
    fits = FakeProbe(Pace("x", 300_000, 0.003))
    code, text = check(deck, live=True, probe=lambda: fits)
    assert "the deck's recording is its fallback" in line(text, f"live: {fast[0].heading}")


def test_the_network_check_refuses_and_counts_connections_and_restores_the_socket_module():
    saved = socket.socket.connect, socket.create_connection, socket.getaddrinfo
    attempts: list[str] = []
    with preflight.no_network(attempts):
        with pytest.raises(OSError):
            socket.create_connection(("example.org", 443))
        with pytest.raises(OSError):
            socket.getaddrinfo("example.org", 443)
    assert len(attempts) == 2 and (socket.socket.connect, socket.create_connection, socket.getaddrinfo) == saved
    check_ = preflight.network_check(None, None, attempts, False)
    assert check_.level is Level.WARNING and "tried the network" in check_.says


def test_the_browser_page_check(deck):
    def not_installed(directory):
        raise ModuleNotFoundError("no textual_serve", name="textual_serve")

    def changed(directory):
        raise RuntimeError("app_index.html: the web-font link changed shape")

    def online(directory):
        (directory / "app_index.html").write_text('<link href="https://fonts.googleapis.com/css?family=X">')
        return directory

    for page, says in [(not_installed, "not installed"), (changed, "changed shape"), (online, "online")]:
        code, text = check(deck, serve_page=page)
        assert code == 0 and line(text, "browser page").startswith("!") and says in line(text, "browser page")


def test_the_real_browser_page_asks_for_nothing_outside_the_machine(deck):
    pytest.importorskip("textual_serve")
    from gradfail_tui.serve.server import offline_templates

    code, text = check(deck, serve_page=offline_templates)
    assert line(text, "browser page").startswith("✓"), line(text, "browser page")


def test_the_notes_file_loads_or_is_an_error(deck, tmp_path):
    mine = tmp_path / "notes.toml"
    mine.write_text('[fig-parity]\nnotes = "Ask the room first."\n')
    code, text = check(deck, notes=mine)
    assert code == 0 and "yours for 1 slides" in line(text, "notes")
    mine.write_text('[fig-parrity]\nnotes = "x"\n')
    code, text = check(deck, notes=mine)
    assert code == 2 and line(text, "notes").startswith("✗") and "no such slide" in line(text, "notes")


def test_a_check_that_fails_is_one_line_not_a_traceback(deck, monkeypatch):
    def broken(terminal):
        raise ValueError("a bug")

    monkeypatch.setattr(preflight, "terminal_checks", broken)
    checks = run_preflight(deck, BIG, serve_page=offline_page)
    failed = [c for c in checks if c.what == "terminal"]
    assert len(failed) == 1 and "could not run (ValueError: a bug)" in failed[0].says
    assert any(c.what == "notes" for c in checks)  # the checks after it still ran


def test_the_talk_command_runs_the_preflight(deck, tmp_path):
    from gradfail_tui.cli import app

    runner = CliRunner()
    env = {"COLUMNS": "120", "LINES": "36"}
    result = runner.invoke(app, ["talk", str(deck), "--preflight"], env=env)
    assert result.exit_code == 0, result.output
    assert "paper.json: read" in result.output and "ready" in result.output
    result = runner.invoke(app, ["talk", str(tmp_path / "nowhere"), "--preflight"], env=env)
    assert result.exit_code == 2 and "no such directory" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["talk", str(deck), "--preflight"], env={"COLUMNS": "70", "LINES": "20"})
    assert result.exit_code == 2 and "too small" in result.output


@pytest.mark.slow
def test_the_engine_probe_times_a_few_steps_of_a_real_run():
    from engine.catalog import load_preset

    member = load_preset("fig-parity").members()[0]
    with preflight.EngineProbe(device="cpu", steps=100) as probe:
        pace = probe.measure(member)
    assert not pace.error and pace.steps > 0 and pace.seconds > 0 and pace.label == "d = 5"


def test_the_terminal_is_found_on_stdin_or_stderr_when_the_output_is_piped(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    monkeypatch.setattr(preflight, "_isatty", lambda fd: fd == 0)
    monkeypatch.setattr(preflight.os, "get_terminal_size", lambda fd=1: preflight.os.terminal_size((70, 20)))
    found = Terminal.detect()
    assert (found.width, found.height, found.is_terminal) == (70, 20, False)
    monkeypatch.setenv("COLUMNS", "132")
    assert Terminal.detect().width == 132
