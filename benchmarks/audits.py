"""Record what `gradfail audit` measured, where gradfail reads it, and regenerate the README's table.

    gradfail audit fig-parity --blocks 10 --workers 2 --out audit-fig-parity
    python benchmarks/audits.py audit-fig-parity            # record it (its group, scale and seeds)
    python benchmarks/audits.py audit-fig-flat --note "thin: ..."  # with a word on what it leaves out
    python benchmarks/audits.py --table                     # regenerate README.md's table only

An audit directory's blocks are judged again from their records, as `gradfail report` judges them, and
the group's line (every claim reproduced) is what is kept: how many blocks, of those that ended with a
verdict, from which first seed, with the date, the machine and the command. The entry replaces the
group's entry for its scale in presets/measured/audits.toml; the README's table of groups (between its
marker comments) is generated again from that file and presets/measured/walltimes.toml.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import audit_figures, walltimes  # noqa: E402
from engine.audit import read_audit  # noqa: E402
from engine.record import RecordError  # noqa: E402

README = ROOT / "README.md"


def figure_of(path: Path, note: str) -> audit_figures.AuditFigure:
    """The audit at `path` as one entry: its group's tally over the blocks that ended with a verdict."""
    audit = read_audit(path)
    manifest, group = audit.manifest, audit.tallies[-1]
    if audit.problems:
        print("\n".join(f"  ! {p}" for p in audit.problems))
    if group.judged == 0:
        raise SystemExit(f"{path}: no block has ended with a verdict: nothing to record")
    how = f"gradfail audit {manifest['preset']} --blocks {len(manifest['blocks'])}"
    how += f" --first-seed {manifest['first_seed']}" if manifest.get("first_seed") else ""
    how += f" --scale {manifest['scale']}" if manifest.get("scale", "default") != "default" else ""
    if group.judged < len(manifest["blocks"]):
        how += f" ({group.judged} block{'s' if group.judged != 1 else ''} ended with a verdict)"
    setup = setup_of_blocks(path, manifest)
    if setup != audit_figures.preset_setup(str(manifest["preset"]), str(manifest.get("scale", "default"))):
        print(
            f"  ! {manifest['preset']} has changed since this audit (its claims or its runs' settings): the figure is"
        )
        print("    recorded, but said beside no verdict until the preset is audited again (and a test fails)")
    day = str(manifest.get("ended_at") or manifest.get("started_at") or datetime.date.today().isoformat())[:10]
    where = f"{os.cpu_count()}-core CPU" if manifest.get("device", "cpu") == "cpu" else str(manifest.get("device"))
    return audit_figures.AuditFigure(
        str(manifest["preset"]),
        str(manifest.get("scale", "default")),
        group.reproduced,
        group.judged,
        int(manifest.get("first_seed", 0)),
        day,
        where,
        how,
        setup,
        note,
    )


def setup_of_blocks(path: Path, manifest: dict) -> str:
    """The one setup that the audit's judged blocks measured (audit_figures.block_setups); an audit grown
    after its preset changed measured two, and is refused."""
    setups = audit_figures.block_setups(path, manifest["blocks"])
    if len(setups) != 1:
        found = "; ".join(
            f"blocks {', '.join(map(str, numbers))}: {setup or 'no claims'}" for setup, numbers in setups.items()
        )
        raise SystemExit(f"{path}: the blocks measured {len(setups)} setups ({found}): audit it again with --out")
    return next(iter(setups))


def write_table() -> None:
    from engine.paper import RESULTS

    table = audit_figures.groups_table([(r.preset, r.heading) for r in RESULTS], audit_figures.read(), walltimes.read())
    README.write_text(audit_figures.with_table(README.read_text(encoding="utf-8"), table), encoding="utf-8")
    print(f"table regenerated: {README.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audits", nargs="*", type=Path, help="audit directories (as `gradfail audit --out` writes)")
    parser.add_argument("--note", default="", help="a few words on what the figure leaves out")
    parser.add_argument("--table", action="store_true", help="only regenerate README.md's table")
    args = parser.parse_args(argv)
    path = audit_figures.data_path()
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Audit figures: see engine/audit_figures.py.\n"
    figures = audit_figures.parse(text, path.name)
    for directory in [] if args.table else args.audits:
        try:
            new = figure_of(directory, args.note)
        except RecordError as exc:
            print(f"{directory}: {exc}", file=sys.stderr)
            return 2
        figures = audit_figures.replace(figures, new)
        print(f"{new.group} at {new.scale}: {new.describe()}")
    if args.audits and not args.table:
        header = "\n".join(line for line in text.splitlines() if line.startswith("#")) + "\n"
        path.write_text(audit_figures.render(figures, header), encoding="utf-8")
    write_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
