"""`gradfail talk DECK --export talk.html` (and .pdf): one self-contained file of every slide, its figure
inline as SVG, its words, verdict and numbers, and its speaker notes hidden until asked for; a bad target
fails in one line, leaving nothing behind; without matplotlib, one line saying how to get it. Then the
page in Debian's chromium with the network cut off: paged with the talk's keys, `s` showing the notes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine import paper
from gradfail_tui.talk.deck import SlideKind, load_deck
from gradfail_tui.talk.notes import Notes, load_notes
from tests.conftest import ROOT, gradfail
from tests.talk.decks import write_deck

matplotlib = pytest.importorskip("matplotlib", reason='the figures extra: pip install -e ".[figures]"')

from gradfail_tui.talk import export  # noqa: E402

SKIPPED = "fig-snr"  # recorded "not run": its slide has no figure, and says so


@pytest.fixture(scope="module")
def deck_dir(tmp_path_factory) -> Path:
    return write_deck(tmp_path_factory.mktemp("export") / "deck", skip=(SKIPPED,))


@pytest.fixture(scope="module")
def exported(deck_dir, tmp_path_factory) -> tuple[Path, export.Exported]:
    target = tmp_path_factory.mktemp("out") / "talk.html"
    notes = load_notes(None)
    notes.own["fig-parity"] = "Ask the room first: who thinks d = 30 is learnable?"
    return target, export.export_talk(load_deck(deck_dir), target, notes)


def test_the_page_holds_every_slide_its_figure_verdict_and_hidden_notes(deck_dir, exported):
    target, result = exported
    page = target.read_text(encoding="utf-8")
    deck = load_deck(deck_dir)
    assert result.slides == len(deck.slides) == len(paper.RESULTS) + 2
    assert result.size == target.stat().st_size > 0
    sections = re.findall(r'<section class="slide [^"]*".*?</section>', page, flags=re.S)
    assert len(sections) == len(deck.slides)
    notes = Notes()
    for number, (slide, section) in enumerate(zip(deck.slides, sections), 1):
        assert f'id="slide-{number}"' in section and f"{number} / {len(deck.slides)}" in section
        assert f"<h1>{export.esc(slide.heading)}</h1>" in section
        if slide.kind is SlideKind.RESULT and slide.preset != SKIPPED:
            assert section.count("<svg") == 1, slide.heading  # its figure, inline
            assert "<text" in section  # its text kept as text
            assert export.esc(slide.question) in section and export.esc(slide.claim) in section
            assert slide.verdict is not None and f'<span class="outcome">{slide.verdict.outcome}</span>' in section
            for claim in slide.verdict.results:  # the numbers behind the verdict
                assert export.esc(claim.detail) in section
        elif slide.kind is SlideKind.RESULT:
            assert "<svg" not in section and "not run" in section  # its problem, said on the slide
        words = notes.words(slide) if slide.preset != "fig-parity" else "Ask the room first"
        assert '<details class="notes">' in section and export.esc(words)[:40] in section
        assert '<details class="notes" open' not in section  # hidden until asked for
    assert result.svgs == len(paper.RESULTS) - 1 and result.pngs == 0
    closing = sections[-1]
    assert "reproduced" in closing and "Overall" in closing


def test_the_page_fetches_nothing_from_outside_it(exported):
    target, _ = exported
    page = target.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page  # not even an SVG namespace
    assert not re.search(r'\b(src|href)="(?!#|data:)', page)  # every src and href is in the page
    assert "<link" not in page and "@import" not in page and "url(" not in page.replace("url(#", "")
    assert page.count("<script>") == 1 and "<script src" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two figures' clip paths and markers never clash


def test_the_command_reports_the_size_and_the_pdf_has_a_page_a_slide(deck_dir, tmp_path):
    result = gradfail("talk", str(deck_dir), "--export", "talk.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    size = (tmp_path / "talk.html").stat().st_size
    assert f"talk.html: {len(paper.RESULTS) + 2} slides" in result.stdout and f"{size / 1024:,.0f} KB" in result.stdout

    pdf = tmp_path / "talk.pdf"
    made = export.export_talk(load_deck(deck_dir), pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and made.size == len(data)
    assert len(re.findall(rb"/Type /Page\b", data)) == len(paper.RESULTS) + 2


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("missing/talk.html", "no directory"),
        ("talk.txt", "must end in .html or .pdf"),
        ("a-dir", "is a directory"),
    ],
)
def test_a_bad_target_fails_in_one_line_and_writes_nothing(deck_dir, tmp_path, name, says):
    (tmp_path / "a-dir").mkdir()
    result = gradfail("talk", str(deck_dir), "--export", name, cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir"]


def test_an_unwritable_directory_and_a_failed_write_leave_nothing_behind(deck_dir, tmp_path, monkeypatch):
    deck = load_deck(deck_dir)
    with monkeypatch.context() as patched:  # root may write anywhere: the check is what is tested
        patched.setattr(export.os, "access", lambda *args: False)
        with pytest.raises(export.ExportError, match="permission denied"):
            export.export_talk(deck, tmp_path / "talk.html")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "talk_html", lambda *args: "x" * 100)
    monkeypatch.setattr(Path, "write_text", broken)
    (tmp_path / "talk.html").write_bytes(b"the old talk")
    with pytest.raises(export.ExportError, match="No space left on device"):
        export.export_talk(deck, tmp_path / "talk.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.html"]  # no temporary file left
    assert (tmp_path / "talk.html").read_bytes() == b"the old talk"  # and the old file untouched


def test_without_matplotlib_it_says_how_to_get_it(deck_dir, tmp_path):
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    hidden = {"PYTHONPATH": f"{fake}:{ROOT}", "GRADFAIL_FAMILY_MODULES": ""}
    result = gradfail("talk", str(deck_dir), "--export", "talk.html", cwd=tmp_path, **hidden)
    assert result.returncode == 2 and 'pip install "gradfail[figures]"' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "talk.html").exists()


# ---- in a browser ------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get install -y chromium)")
def test_the_page_in_chromium_offline_pages_with_the_talks_keys_and_shows_the_notes(exported, deck_dir):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    target, result = exported
    headings = [slide.heading for slide in load_deck(deck_dir).slides]
    total = len(headings)
    aborted: list[str] = []

    def only_the_file(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.route("**/*", only_the_file)
            page.goto(target.resolve().as_uri())

            def shown() -> tuple[str, str]:
                current = page.locator("section.slide.current")
                assert current.count() == 1
                return current.locator("h1").inner_text(), current.locator(".counter").inner_text()

            assert shown() == (headings[0], f"1 / {total}")
            for key, number in [("ArrowRight", 2), ("PageDown", 3), (" ", 4), ("ArrowLeft", 3), ("PageUp", 2)]:
                page.keyboard.press(key)
                assert shown() == (headings[number - 1], f"{number} / {total}"), key
            page.keyboard.press("p")
            assert shown()[1] == f"1 / {total}"
            page.keyboard.press("n")  # next, as in the terminal's talk
            assert shown()[1] == f"2 / {total}"
            page.keyboard.press("End")
            assert shown() == (headings[-1], f"{total} / {total}")
            page.keyboard.press("Home")
            for key in ["1", "0", "Enter"]:  # a slide's number, then Enter
                page.keyboard.press(key)
            assert shown() == (headings[9], f"10 / {total}")
            notes = page.locator("section.slide.current details.notes")
            assert not notes.is_visible()
            page.keyboard.press("s")
            assert notes.is_visible() and notes.locator("p").first.is_visible()
            page.keyboard.press("s")
            assert not notes.is_visible()
            page.keyboard.press("Home")
            page.keyboard.press("ArrowRight")
            assert page.locator("section.slide.current svg").first.is_visible()  # Figure 1, drawn
            box = page.locator("section.slide.current svg").first.bounding_box()
            assert box is not None and box["width"] > 600  # large, on a 1600x900 screen
        finally:
            browser.close()
    assert aborted == []  # nothing asked for beyond the file itself
