"""A result slide says how often its verdict holds over seeds (presets/measured/audits.toml), but only for
the claims that were audited: a record judging other claims says nothing of them."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict

from engine import audit_figures, paper
from engine.catalog import load_preset
from engine.orchestration import group_manifest
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from tests.talk.decks import write_deck
from tests.talk.pilot import text_of


def as_shipped(deck, preset: str, **changed) -> int:
    """Give the result's record the shipped preset's own claims and its runs the preset's settings (write_deck
    gives each its own), with `changed` settings (as --set would); returns its slide's number."""
    number = next(n for n, res in enumerate(paper.RESULTS, 1) if res.preset == preset)
    where = deck / paper.result_dir(number, preset)
    manifest = json.loads((where / "group.json").read_text())
    group = load_preset(preset)
    manifest["claims"] = group_manifest(group, group.members(), "default", "cpu")["claims"]
    (where / "group.json").write_text(json.dumps(manifest))
    configs = {m.label: {**asdict(m.config), **changed} for m in group.members()}
    for run in manifest["runs"]:
        run_json = where / run["dir"] / "run.json"
        recorded = json.loads(run_json.read_text())
        run_json.write_text(json.dumps({**recorded, "config": configs[run["label"]]}))
    return number


def test_a_slide_says_its_groups_audit_only_for_the_setup_audited(tmp_path):
    deck = write_deck(tmp_path / "deck")
    number = as_shipped(deck, "fig-snr")
    slides = load_deck(deck).slides
    expected = audit_figures.lookup("fig-snr").held("default")
    assert expected.startswith("audited: every claim held in ") and slides[number].audited() == expected
    stocks = slides[number - 1]
    assert stocks.preset == "fig-stocks" and stocks.audited() == ""  # its record judges "it climbs": not audited
    assert stocks.audited("default") == audit_figures.lookup("fig-stocks").held("default")  # trained live here
    assert audit_figures.held_for("fig-no-such-group", "default") == ""

    other = write_deck(tmp_path / "other")
    as_shipped(other, "fig-snr", samples=1000)  # the shipped claims, run with --set samples=1000: not audited
    assert load_deck(other).slides[number].audited() == ""


def test_the_verdict_line_carries_the_audit(tmp_path):
    deck = write_deck(tmp_path / "deck")
    number = as_shipped(deck, "fig-snr")  # one run, as write_deck records: its claims can be judged

    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=0.3)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("g", *str(number + 1), "enter")  # slide 1 is the title
            deadline = time.monotonic() + 20
            while "audited" not in text_of(app, "verdict") and time.monotonic() < deadline:
                await pilot.pause(0.1)
            said = " ".join(text_of(app, "verdict").split())
            assert "Verdict:" in said and audit_figures.lookup("fig-snr").held("default") in said

    asyncio.run(go())


def test_the_exported_page_carries_it_too_under_the_verdict(tmp_path):
    from gradfail_tui.talk.export import esc, result_body

    deck = write_deck(tmp_path / "deck")
    number = as_shipped(deck, "fig-snr")
    slides = load_deck(deck).slides
    page = "".join(result_body(slides[number], ""))
    assert f'<span class="count audited">{esc(slides[number].audited())}</span>' in page
    assert "audited" not in "".join(result_body(slides[number - 1], ""))  # its claims were not audited
