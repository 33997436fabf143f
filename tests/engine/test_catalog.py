"""The catalog: every preset file read once, singles and groups apart, and what the explorer offers."""

import pytest

from engine.catalog import scan
from engine.groups import GroupError, GroupPreset, load_single
from engine.presets import Preset, PresetKind, preset_kind, read_toml
from engine.sweeps import SweepError, resolve


def test_scan_lists_singles_and_groups_in_name_order_and_a_line_for_each_bad_file(tmp_path, monkeypatch):
    (tmp_path / "bad.toml").write_text('family = "party"\n')
    (tmp_path / "loop.toml").write_text('[[runs]]\nlabel = "a"\npreset = "fig-parity"\n')
    # parity at the default scale, stocks at the paper's: offered only where both families are known
    (tmp_path / "mixed.toml").write_text(
        'title = "t"\n[[runs]]\nlabel = "a"\npreset = "parity5"\nscales.paper = { preset = "stocks10-e2e" }\n'
    )
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path))
    catalog = scan()
    names = [entry.name for entry in catalog.entries]
    assert names.index("parity5") < names.index("parity10") and "mixed" in names
    assert all(isinstance(p, Preset) for p in catalog.presets) and "parity30" in {p.name for p in catalog.presets}
    assert all(isinstance(g, GroupPreset) for g in catalog.groups) and "fig-parity" in {g.name for g in catalog.groups}
    assert len(catalog.problems) == 2
    assert any(str(tmp_path / "bad.toml") in line and "unknown family 'party'" in line for line in catalog.problems)
    assert any("is itself a group" in line for line in catalog.problems)

    presets, groups = catalog.offered({"parity"})
    assert {p.family for p in presets} == {"parity"}
    assert "fig-parity" in {g.name for g in groups} and "mixed" not in {g.name for g in groups}
    _, groups = catalog.offered({"parity", "stocks"})
    assert "mixed" in {g.name for g in groups}


def test_one_rule_tells_a_preset_files_kind_and_every_reader_follows_it(tmp_path, monkeypatch):
    assert preset_kind({"family": "parity", "config": {"d": 5}}) is PresetKind.SINGLE
    assert preset_kind({"title": "t", "runs": [{"label": "a"}]}) is PresetKind.GROUP
    assert preset_kind({"title": "t", "claims": []}) is PresetKind.GROUP  # a group missing its runs, refused as one
    assert preset_kind({"preset": "parity5", "title": "t", "grid": {"d": "4,6"}}) is PresetKind.SWEEP
    catalog = scan()
    assert {entry.kind for entry in catalog.entries} == set(PresetKind)  # the shipped presets hold every kind
    assert all(entry.kind is preset_kind(read_toml(entry.path)) for entry in catalog.entries)

    # A group's run and a sweep's base must be single-run presets: each reader refuses the others by the rule.
    (tmp_path / "phase.toml").write_text('description = "d"\nfamily = "parity"\n[grid]\nd = "4,6"\n')
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path))
    with pytest.raises(GroupError, match="phase is itself a sweep"):
        load_single("phase")
    with pytest.raises(SweepError, match="fig-parity is a group preset"):
        resolve(None, "fig-parity", {}, {"d": "4"}, 1, None)
    with pytest.raises(SweepError, match="phase is a sweep preset"):
        resolve(None, "phase", {}, {"d": "4"}, 1, None)
