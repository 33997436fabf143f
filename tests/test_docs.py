"""The docs stay true: every repository path, docs link, module and `gradfail` command or option that
README.md and docs/*.md name exists; the wall-time table is generated from the one data file; the
README stays short. In-process and fast: the command tree is Click's, walked without a subprocess."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from engine import walltimes
from engine.audit_figures import TABLE_BEGIN as GROUPS_BEGIN
from engine.audit_figures import TABLE_END as GROUPS_END

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MOST_LINES = 250
# The top of the repository: a path in the docs that starts with one of these must exist.
TOP = ("engine", "gradfail_tui", "tests", "presets", "docs", "benchmarks", ".ci")
TOP_FILES = ("pyproject.toml", "README.md", "LICENSE")
# Pages with prose only: no clock-style wall time outside the generated table (docs/performance.md
# holds the benchmarks' own figures, which are not group wall times).
NO_WALL_TIMES = ("README.md", "presets.md", "talks.md", "explorer.md", "commands.md", "sweeps.md")

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
_TOPS, _FILES = "|".join(map(re.escape, TOP)), "|".join(map(re.escape, TOP_FILES))
PATH = re.compile(rf"(?<![\w/.~<-])((?:{_TOPS})/[\w.*<>/-]*|(?:{_FILES}))(?![\w/])")
MODULE = re.compile(r"(?<![\w./])((?:engine|gradfail_tui|tests)(?:\.\w+)+)")
MD_FILE = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9_-]*\.md)\b")  # DESIGN.md, CHANGELOG.md
CLOCK = re.compile(r"(?<![\w:.])\d{1,2}:\d{2}(?![\d:=\w])")


def prose_and_code(text: str) -> tuple[str, list[str]]:
    """The text without its fenced blocks, and the fenced blocks' lines."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return FENCE.sub("", text), lines


def named_paths(text: str) -> set[str]:
    found = set()
    for match in PATH.finditer(text):
        path = match.group(1).removesuffix("**").rstrip(".,:;")  # bold markdown, punctuation
        found.add(path)
    return found


def exists(path: str) -> bool:
    """A path, a glob (`presets/fig-*.toml`) or a template (`engine/families/<name>/trainer.py`)."""
    pattern = re.sub(r"<[^>]*>", "*", path).rstrip("/")
    if "*" in pattern:
        return any(ROOT.glob(pattern))
    return (ROOT / pattern).exists()


def module_exists(dotted: str) -> bool:
    """`engine.worker`, `engine.trainer.Trainer`, `engine.__version__`: the longest prefix that is a module
    or package exists, and the part after it (if any) is a name its source defines or imports."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            return n == len(parts) or re.search(rf"\b{re.escape(parts[n])}\b", source.read_text()) is not None
    return False


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    prose, _ = prose_and_code(page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", prose, re.M)}


@cache
def command_tree() -> Any:
    """The CLI's command tree (Typer's own Click: a group has `commands`)."""
    from gradfail_tui.cli import app

    return typer.main.get_command(app)


def options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("-"))
    return names


def check_command(words: list[str]) -> list[str]:
    """What is wrong with `gradfail WORDS...` (or `gradfail-tui WORDS...`): unknown subcommands, options."""
    command = command_tree()
    path = ["gradfail"]
    if words[0] == "gradfail-tui":
        command, path = command.commands["tui"], ["gradfail-tui"]
    problems = []
    for word in words[1:]:
        if word in ("|", "&&", ";", "#") or word.startswith("#"):
            break
        if re.fullmatch(r"[A-Z][A-Z_]*", word):
            break  # a placeholder (`gradfail COMMAND --help`): what follows is not checked
        if hasattr(command, "commands") and not word.startswith("-"):
            if word in command.commands:
                command = command.commands[word]
                path.append(word)
                continue
            if not getattr(command, "invoke_without_command", False) and not command.params:
                problems.append(f"{' '.join(path)} has no subcommand {word!r}")
                break
            if path == ["gradfail"]:
                problems.append(f"gradfail has no subcommand {word!r}")
                break
        if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
            name = word.split("=", 1)[0]
            if name not in options(command):
                problems.append(f"{' '.join(path)} has no option {name}")
    return problems


def commands_in(text: str) -> list[list[str]]:
    """Every `gradfail ...` in the fenced blocks and the inline code of a page, as words."""
    prose, code = prose_and_code(text)
    found = []
    lines = [re.sub(r"(^|\s)#.*", "", line) for line in code]  # a shell comment is prose
    candidates = lines + SPAN.findall(prose)
    for candidate in candidates:
        for part in re.split(r"&&|;|\|", candidate):
            part = part.strip()
            if part.startswith("$ "):
                part = part[2:]
            if re.match(r"gradfail(-tui)?(\s|$)", part):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    words = part.split()
                found.append(words)
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_path_and_module_a_page_names_exists(page):
    text = page.read_text(encoding="utf-8")
    missing = sorted(p for p in named_paths(text) if not exists(p))
    assert not missing, f"{page_id(page)} names paths that are not in the repository: {missing}"
    # A page named bare in capitals (DESIGN.md) is one of ours: at the top or in docs/.
    pages = sorted({m for m in MD_FILE.findall(text) if not (ROOT / m).is_file() and not (ROOT / "docs" / m).is_file()})
    assert not pages, f"{page_id(page)} names pages that are not in the repository: {pages}"
    modules = sorted({m.rstrip(".") for m in MODULE.findall(text) if not module_exists(m.rstrip("."))})
    assert not modules, f"{page_id(page)} names modules that do not exist: {modules}"


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_link_of_a_page_leads_somewhere(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not checked here
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        if not where.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target} (no such heading in {where.name})")
    assert not broken, f"{page_id(page)} links to: {broken}"


@pytest.mark.parametrize("page", DOCS, ids=page_id)
def test_every_gradfail_command_and_option_a_page_names_exists(page):
    problems = []
    for words in commands_in(page.read_text(encoding="utf-8")):
        problems += [f"`{' '.join(words)}`: {p}" for p in check_command(words)]
    assert not problems, f"{page_id(page)}:\n" + "\n".join(problems)


def test_the_checks_catch_what_is_wrong():
    """The checks above fail on a path, a link, a module, a command and an option that do not exist."""
    assert exists("engine/loop.py") and exists("presets/fig-*.toml") and exists("engine/families/<name>/trainer.py")
    assert not exists("engine/nonesuch.py") and not exists("presets/nonesuch-*.toml")
    assert named_paths("see `engine/loop.py` and presets/fig-parity.toml.") == {
        "engine/loop.py",
        "presets/fig-parity.toml",
    }
    assert module_exists("engine.worker") and module_exists("engine.trainer.Trainer")
    assert not module_exists("engine.nonesuch")
    assert check_command(["gradfail", "run", "--preset", "parity5", "--steps=300"]) == []
    assert check_command(["gradfail", "presets", "show", "fig-parity"]) == []
    assert check_command(["gradfail-tui", "--preset", "parity5", "--start"]) == []
    assert check_command(["gradfail", "run", "--nonesuch"]) == ["gradfail run has no option --nonesuch"]
    assert check_command(["gradfail", "nonesuch"]) == ["gradfail has no subcommand 'nonesuch'"]
    assert check_command(["gradfail", "COMMAND", "--help"]) == []
    code = "```sh\n# gradfail and torch on every node\ngradfail sweep --grid d=4:8:2   # a comment --x\n```\n"
    assert commands_in(code + "then `gradfail audit --blocks 2`") == [
        ["gradfail", "sweep", "--grid", "d=4:8:2"],
        ["gradfail", "audit", "--blocks", "2"],
    ]
    assert slug("## In a browser: `gradfail serve`".lstrip("# ")) == "in-a-browser-gradfail-serve"


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MOST_LINES, (
        f"README.md has {lines} lines: move details to docs/ (at most {README_MOST_LINES})"
    )


def test_the_wall_time_table_is_generated_from_the_data_file():
    doc = (ROOT / "docs" / "presets.md").read_text(encoding="utf-8")
    assert walltimes.with_table(doc, walltimes.read()) == doc, (
        "docs/presets.md's wall-time table differs from presets/measured/walltimes.toml: "
        "run python benchmarks/walltimes.py --table"
    )


def test_wall_times_are_written_only_in_the_data_file():
    """No clock-style time (4:30) in the prose pages outside the generated table: a wall time has one source."""
    found = []
    for page in DOCS:
        if page.name not in NO_WALL_TIMES:
            continue
        text = page.read_text(encoding="utf-8")
        for begin, finish in ((walltimes.TABLE_BEGIN, walltimes.TABLE_END), (GROUPS_BEGIN, GROUPS_END)):
            start, end = text.find(begin), text.find(finish)
            if start >= 0:  # a generated table: its times come from the data file
                text = text[:start] + text[end:]
        found += [f"{page.name}: {m.group(0)}" for m in CLOCK.finditer(text)]
    assert not found, f"wall times written outside presets/measured/walltimes.toml: {found}"


def test_the_shipped_wall_times_name_groups_and_scales_that_exist():
    from engine.catalog import load_preset
    from engine.paper import RESULTS

    entries = walltimes.read()
    assert entries, "presets/measured/walltimes.toml is missing or empty"
    for w in entries:
        group = load_preset(w.group)
        assert w.scale in group.scales, f"{w.group} has no scale {w.scale}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", w.date), w
    assert all(r.cpu_s > 0 for r in RESULTS), "every result of the paper has a measured default-scale wall time"
    assert walltimes.lookup("fig-tuples", "cpu") is not None


def test_the_wall_times_file_round_trips_and_rejects_what_is_wrong(tmp_path):
    text = walltimes.data_path().read_text(encoding="utf-8")
    entries = walltimes.parse(text)
    assert walltimes.parse(walltimes.render(entries, walltimes.header_of(text))) == entries
    new = walltimes.WallTime("fig-parity", "paper", 12.5, "a machine", "2026-12-04", "gradfail run", "0123456789ab")
    placed = walltimes.replace(entries, new)
    groups = [w.group for w in placed]
    assert new in placed and groups.index("fig-parity") == placed.index(new) - 1  # after its group's entry
    again = walltimes.replace(placed, walltimes.WallTime("fig-parity", "paper", 13.0, "m", "2026-12-05", "g", "s"))
    assert len(again) == len(placed) and again[placed.index(new)].seconds == 13.0
    with pytest.raises(walltimes.WallTimeError, match=r"\[fig-x.default\]: missing \['date'\]"):
        walltimes.parse('[fig-x.default]\nseconds = 3\nmachine = "m"\nhow = "h"\nsetup = "s"\n')
    with pytest.raises(walltimes.WallTimeError, match="seconds: expected a positive number"):
        walltimes.parse('[fig-x.default]\nseconds = "3"\nmachine = "m"\ndate = "d"\nhow = "h"\nsetup = "s"\n')
    with pytest.raises(walltimes.WallTimeError, match=r"\[fig-x.default\]: missing \['setup'\]"):
        walltimes.parse('[fig-x.default]\nseconds = 3\nmachine = "m"\ndate = "d"\nhow = "h"\n')  # what was timed?
    assert walltimes.clock(9) == "0:09" and walltimes.clock(1720) == "28:40" and walltimes.clock(3723) == "1:02:03"


GALLERY = ROOT / "docs" / "gallery.md"
GALLERY_IMAGES = ROOT / "docs" / "img" / "gallery"
GALLERY_MOST_BYTES = 150_000


def test_the_gallery_shows_every_figure_the_papers_groups_declare():
    """docs/gallery.md (written by docs/gallery.py) has an image, the paper's caption and a verdict for
    every group of the paper that declares a figure: a new group, or a renamed figure, is flagged here
    until the gallery is drawn again. Its images are all shown, and small."""
    from engine.catalog import load_preset
    from engine.paper import RESULTS

    page = GALLERY.read_text(encoding="utf-8")
    assert "python docs/gallery.py" in page, "the gallery says how it is regenerated"
    missing = []
    for result in RESULTS:
        figure = load_preset(result.preset).figure
        if figure is None or not figure.declared:
            continue
        image = f"img/gallery/{figure.name}.png"
        if f"]({image})" not in page or not (ROOT / "docs" / image).is_file():
            missing.append(f"{result.preset}: no {image}")
        if figure.caption and figure.caption not in page:
            missing.append(f"{result.preset}: its caption is not quoted (or differs from the preset's)")
        if not re.search(rf"`{re.escape(result.preset)}` at the \w+ scale: \*\*[^*]+\*\*", page):
            missing.append(f"{result.preset}: no verdict line")
    assert not missing, "docs/gallery.md is out of date (python docs/gallery.py DECK):\n" + "\n".join(missing)
    images = sorted(GALLERY_IMAGES.glob("*"))
    unshown = [p.name for p in images if f"](img/gallery/{p.name})" not in page]
    assert not unshown, f"docs/img/gallery/ holds images the gallery does not show: {unshown}"
    large = [f"{p.name}: {p.stat().st_size:,} bytes" for p in images if p.stat().st_size > GALLERY_MOST_BYTES]
    assert not large, f"gallery images over {GALLERY_MOST_BYTES:,} bytes: {large}"


def test_the_readme_groups_table_is_generated_from_the_measured_files():
    from engine import audit_figures
    from engine.paper import RESULTS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = audit_figures.groups_table([(r.preset, r.heading) for r in RESULTS], audit_figures.read(), walltimes.read())
    assert audit_figures.with_table(readme, table) == readme, (
        "README.md's table of groups differs from presets/measured/: run python benchmarks/audits.py --table"
    )
    assert all(f"`{r.preset}`" in table for r in RESULTS)  # every result of the paper has its row


@pytest.mark.parametrize("measured", ["wall times", "audits"])
def test_every_measured_figure_is_of_its_preset_as_it_is_now(measured):
    """A wall time says how long one set of runs took (their settings and seed counts at that scale), an
    audit how often the claims held for one setup (the claims too): a preset changed since must be measured
    again before its figure is said anywhere."""
    from engine import audit_figures

    entries, current, now, again = {
        "wall times": (walltimes.read(), walltimes.is_current, walltimes.preset_runs_setup,
                       "time it again (python benchmarks/walltimes.py GROUP --scale S)"),
        "audits": (audit_figures.read(), audit_figures.is_current, audit_figures.preset_setup,
                   "audit it again (gradfail audit; benchmarks/audits.py DIR)"),
    }[measured]  # fmt: skip
    stale = [
        f"{e.group} at {e.scale}: measured {e.setup}, now {now(e.group, e.scale) or 'no group'}"
        for e in entries
        if not current(e)
    ]
    assert not stale, f"{again}, or remove the entry:\n" + "\n".join(stale)


def test_the_audit_figures_name_groups_and_scales_that_exist_and_reject_what_is_wrong():
    from engine import audit_figures
    from engine.catalog import load_preset

    figures = audit_figures.read()
    assert figures, "presets/measured/audits.toml is missing or empty"
    for f in figures:
        assert f.scale in load_preset(f.group).scales, f"{f.group} has no scale {f.scale}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", f.date) and f.how.startswith(f"gradfail audit {f.group} "), f
    text = audit_figures.data_path().read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert audit_figures.parse(audit_figures.render(figures, header)) == figures
    assert figures[0].describe().startswith(f"{figures[0].reproduced} of {figures[0].blocks} (")
    entry = '[fig-x.default]\nblocks = 2\nfirst_seed = 0\ndate = "d"\nmachine = "m"\nhow = "h"\nsetup = "s"\n'
    with pytest.raises(audit_figures.AuditFigureError, match=r"\[fig-x.default\]: wrong or missing \['reproduced'\]"):
        audit_figures.parse(entry)
    with pytest.raises(audit_figures.AuditFigureError, match="reproduced <= blocks"):
        audit_figures.parse(entry + "reproduced = 3\n")
    # a group audited only at a larger scale (its claims need it) is shown there, the scale named
    only_cpu = audit_figures.AuditFigure("g", "cpu", 1, 1, 0, "2026-12-05", "m", "gradfail audit g --blocks 1", "s")
    row = audit_figures.groups_table([("g", "G")], [only_cpu], []).splitlines()[-1]
    assert row == "| G | `g` | 1 of 1 (21% to 100%) at `--scale cpu` | - |"
    assert "not audited" in audit_figures.groups_table([("g", "G")], [], []).splitlines()[-1]
    took = [
        walltimes.WallTime("g", scale, seconds, "m", "d", "h", "s")
        for scale, seconds in (("default", 75), ("cpu", 1500))
    ]
    row = audit_figures.groups_table([("g", "G")], [only_cpu], took).splitlines()[-1]
    assert row.endswith("| 1:15; 25:00 at `--scale cpu` |")  # the wall time of the scale audited too
