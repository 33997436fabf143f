import pytest

from engine.catalog import load_preset, read_any
from engine.groups import GroupPreset, run_seeds
from engine.presets import PresetError, preset_paths
from engine.registry import family_errors, get_family
from engine.sweeps import SweepPreset


def test_every_family_loads():
    assert family_errors() == {}


def test_every_shipped_preset_is_valid_and_says_what_it_shows():
    paths = preset_paths()
    assert {"parity5", "parity10", "parity20", "parity30"} <= set(paths)
    for name, path in paths.items():
        preset = read_any(path)
        assert preset.description, f"{name} has no description"
        if isinstance(preset, GroupPreset):
            for scale in preset.scales:
                # every run resolves at every scale, once per seed
                assert len(preset.members(scale)) == sum(run_seeds(run, scale) for run in preset.runs)
            assert preset.claims, f"group {name} checks no claim"
        elif isinstance(preset, SweepPreset):
            for scale in preset.scales:
                assert preset.resolve(scale).run_count > 1  # every scale resolves (parse_sweep_preset checks it too)
        else:
            preset.config()  # resolves against its family


def test_parity30_is_the_papers_experiment():
    config = load_preset("parity30").config()
    assert (config.d, config.steps, config.lr, config.batch) == (30, 50_000, 0.01, 128)


def test_unknown_preset_suggests_close_names():
    with pytest.raises(PresetError, match="Did you mean parity30"):
        load_preset("parity31")


def write(tmp_path, text, name="mine.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_syntax_error_names_the_file_and_line(tmp_path):
    path = write(tmp_path, 'family = "parity"\n[config]\nd = = 3\n')
    with pytest.raises(PresetError) as info:
        read_any(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_unknown_config_key_is_named_with_a_suggestion(tmp_path):
    path = write(tmp_path, 'family = "parity"\n[config]\nwidht_mult = 3\n')
    with pytest.raises(PresetError, match=r"widht_mult: unknown setting \(did you mean width_mult\?\)"):
        read_any(path)


def test_wrong_type_is_named(tmp_path):
    path = write(tmp_path, 'family = "parity"\n[config]\nd = "thirty"\n')
    with pytest.raises(PresetError, match="d: got 'thirty', expected an integer"):
        read_any(path)


def test_unknown_top_level_key_and_missing_family(tmp_path):
    path = write(tmp_path, 'famliy = "parity"\n')
    with pytest.raises(PresetError) as info:
        read_any(path)
    assert "famliy: unknown setting (did you mean family?)" in str(info.value)
    assert "family: missing" in str(info.value)


def test_unknown_family_in_a_preset(tmp_path):
    path = write(tmp_path, 'family = "party"\n')
    with pytest.raises(PresetError, match="unknown family 'party'. Did you mean parity"):
        read_any(path)


def test_user_presets_directory_is_searched_first(tmp_path, monkeypatch):
    write(tmp_path, 'family = "parity"\ndescription = "mine"\n[config]\nd = 7\n', "parity30.toml")
    monkeypatch.setenv("GRADFAIL_PRESETS", str(tmp_path))
    preset = load_preset("parity30")
    assert preset.description == "mine" and preset.config().d == 7
    assert get_family(preset.family).name == "parity"


def test_a_preset_file_path_works_like_a_name(tmp_path):
    path = write(tmp_path, 'family = "parity"\n[config]\nd = 6\n')
    assert load_preset(str(path)).config().d == 6
