"""Measure how long group presets take, and write it where gradfail reads it.

    python benchmarks/walltimes.py fig-parity                 # one group at its default scale
    python benchmarks/walltimes.py fig-tuples --scale cpu     # another scale
    python benchmarks/walltimes.py --all                      # every group preset of the paper
    python benchmarks/walltimes.py fig-parity --device cuda   # on a GPU
    python benchmarks/walltimes.py --table                    # regenerate docs/presets.md's table only
    python benchmarks/walltimes.py --from-record runs/paper-cpu  # the groups of a paper (or a group) run before
    python benchmarks/walltimes.py --from-record runs/paper-cpu fig-tuples  # only the groups named
    python benchmarks/walltimes.py --from-record audit/block-01 --how "gradfail audit ... (block 1)"

Each group is run as a person runs it, `gradfail run --preset NAME --scale SCALE --out DIR` in a
temporary directory, and its wall time is the whole command's (Python's start and torch's import
included). A group whose runs did not all complete is not written (its time says nothing about the
group); `--keep` leaves its record for a look. Each measured entry replaces the group's entry for
that scale in presets/measured/walltimes.toml, with the machine, the load average at the start, the
date, the command and the fingerprint of the runs timed (read from the record); then the table in docs/presets.md (between its marker comments) is generated
again from the file. `gradfail presets show`, engine/paper.py (which results train live in a talk)
and the docs read that file: it is the one place a wall time is kept.

`--from-record DIR` measures nothing: it takes the wall times a finished `gradfail run --preset paper`
(each of its groups) or a finished group recorded, for a scale too long to run again just to time it
(fig-tuples at --scale cpu); the machine is this one, so read it on the machine that ran the record.

The machine is shared and its speed drifts: measure when it is idle (the load average is recorded).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import walltimes  # noqa: E402
from engine.catalog import load_preset  # noqa: E402
from engine.groups import GroupPreset  # noqa: E402
from engine.presets import PresetError  # noqa: E402

DOCS = ROOT / "docs" / "presets.md"


def machine(device: str, with_load: bool = True) -> str:
    """'2-core CPU, load 0.4 (torch 2.13.0+cpu)', or the GPU's name on cuda; the load left out for a record
    read afterwards (--from-record), whose load at its start is not known."""
    import torch  # only to name the machine; the measured run imports it in its own process

    load = f", load {os.getloadavg()[0]:.1f} at the start" if with_load else ""
    where = f"{os.cpu_count()}-core CPU ({platform.machine()}){load}"
    if device.startswith("cuda") and torch.cuda.is_available():
        where = f"{torch.cuda.get_device_name()}, {os.cpu_count()} CPU cores{load}"
    return f"{where} (torch {torch.__version__})"


def measure(group: str, scale: str, device: str, keep: bool) -> walltimes.WallTime | None:
    """Run the group once; its WallTime, or None (and why, on stderr) when it did not complete."""
    tmp = Path(tempfile.mkdtemp(prefix=f"walltime-{group}-"))
    out = tmp / group
    arguments = ["run", "--preset", group, "--scale", scale, "--device", device]
    described = machine(device)
    print(f"{group} at scale {scale}: gradfail {' '.join(arguments)} ...", flush=True)
    # this interpreter's gradfail, found with or without an activated environment
    command = [sys.executable, "-m", "gradfail_tui", *arguments, "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    try:
        manifest = json.loads((out / "group.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        manifest = {}
    status = manifest.get("status", "no group.json")
    if done.returncode not in (0,) or status != "completed":
        print(f"  not written: exit {done.returncode}, status {status}\n{done.stderr[-2000:]}", file=sys.stderr)
        if keep:
            print(f"  its record: {out}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return None
    setup = walltimes.record_runs_setup(out)  # what was timed, read before the record goes
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    how = f"gradfail run --preset {group}" + (f" --scale {scale}" if scale != "default" else "")
    how += f" --device {device}" if device != "cpu" else ""
    print(f"  {walltimes.clock(seconds)} ({seconds:.1f} s), verdict {manifest.get('verdict', {}).get('outcome')}")
    return walltimes.WallTime(group, scale, round(seconds, 1), described, datetime.date.today().isoformat(), how, setup)


def write_table(entries: list[walltimes.WallTime]) -> None:
    DOCS.write_text(walltimes.with_table(DOCS.read_text(encoding="utf-8"), entries), encoding="utf-8")
    print(f"table regenerated: {DOCS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="group presets to measure (fig-parity, ...)")
    parser.add_argument("--all", action="store_true", help="every group preset of the paper, in its order")
    parser.add_argument("--scale", default="default", help="the scale to run them at (default: default)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    parser.add_argument("--table", action="store_true", help="only regenerate docs/presets.md's table")
    parser.add_argument("--keep", action="store_true", help="keep the records of runs that did not complete")
    parser.add_argument("--from-record", type=Path, metavar="DIR", help="take a finished paper's or group's times")
    parser.add_argument(
        "--how",
        help="with --from-record: how the record was made, where the record's own command does not say it all "
        "(a block of an audit, beside another)",
    )
    args = parser.parse_args(argv)

    path = walltimes.data_path()
    text = path.read_text(encoding="utf-8")
    entries = walltimes.parse(text, path.name)
    if args.table:
        write_table(entries)
        return 0
    if args.from_record:
        try:
            read = walltimes.recorded(args.from_record, machine(args.device, with_load=False))
        except walltimes.WallTimeError as exc:
            parser.error(str(exc))
        for measured in [m for m in read if not args.groups or m.group in args.groups]:  # only those named
            measured = dataclasses.replace(measured, how=args.how) if args.how else measured
            entries = walltimes.replace(entries, measured)
            print(f"{measured.group} at scale {measured.scale}: {walltimes.clock(measured.seconds)} ({measured.how})")
        path.write_text(walltimes.render(entries, walltimes.header_of(text)), encoding="utf-8")
        write_table(entries)
        return 0
    groups = list(args.groups)
    if args.all:
        from engine.paper import RESULTS

        groups += [r.preset for r in RESULTS if r.preset not in groups]
    if not groups:
        parser.error("name a group preset (fig-parity), or --all, or --table")
    for group in groups:  # every name checked before the first is timed: a typo costs no run
        try:
            preset = load_preset(group)
            if not isinstance(preset, GroupPreset):
                parser.error(f"{group} is not a group preset: `gradfail presets` marks the groups 'group'")
            preset.members(args.scale)  # GroupError names the scales it has
        except PresetError as exc:  # GroupError is one
            parser.error(str(exc))
    failed = 0
    for group in groups:
        measured = measure(group, args.scale, args.device, args.keep)
        if measured is None:
            failed += 1
            continue
        entries = walltimes.replace(entries, measured)
        path.write_text(walltimes.render(entries, walltimes.header_of(text)), encoding="utf-8")
        print(f"  written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}")
    write_table(entries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
