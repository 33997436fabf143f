"""Speaker notes: shipped for every slide, the verdict's numbers from the records, a speaker's file on top."""

from __future__ import annotations

import pytest

from engine import paper
from gradfail_tui.talk.deck import load_deck
from gradfail_tui.talk.notes import SHIPPED, NotesError, load_notes, slide_key
from tests.talk.decks import write_deck


def test_every_slide_of_the_paper_has_shipped_notes(tmp_path):
    deck = load_deck(None)
    assert [slide_key(s) for s in deck.slides] == ["title", *(r.preset for r in paper.RESULTS), "closing"]
    assert set(SHIPPED) == {slide_key(s) for s in deck.slides}
    notes = load_notes(None)
    assert all(len(notes.words(slide)) > 40 for slide in deck.slides)


def test_a_slides_notes_carry_its_verdicts_numbers_and_a_speakers_file_replaces_the_words(tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck"))
    slide = next(s for s in deck.slides if s.preset == "fig-parity")
    assert slide.verdict is not None
    text = load_notes(None).for_slide(slide)
    assert text.startswith(SHIPPED["fig-parity"])
    for result in slide.verdict.results:
        assert result.detail in text and str(result.outcome) in text
    own = tmp_path / "notes.toml"
    own.write_text('[fig-parity]\nnotes = "Ask the room first."\n')
    mine = load_notes(own)
    assert mine.for_slide(slide).startswith("Ask the room first.")
    other = next(s for s in deck.slides if s.preset == "fig-flat")
    assert mine.words(other) == SHIPPED["fig-flat"]  # a slide the file does not name keeps the shipped notes


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[fig-parrity]\nnotes = "x"\n', "[fig-parrity]: no such slide"),
        ("[fig-parity]\nnotes = 3\n", '[fig-parity]: expected only notes = "..."'),
        ("[fig-parity\n", "not valid TOML"),
    ],
)
def test_a_bad_notes_file_names_what_is_wrong(tmp_path, text, says):
    path = tmp_path / "notes.toml"
    path.write_text(text)
    with pytest.raises(NotesError, match=None) as caught:
        load_notes(path)
    assert says in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(NotesError, match="cannot be read"):
        load_notes(tmp_path / "missing.toml")
