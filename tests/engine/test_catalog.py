"""The catalog: every preset file read once, singles and groups apart, and what the explorer offers."""

from engine.catalog import scan
from engine.groups import GroupPreset
from engine.presets import Preset


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
