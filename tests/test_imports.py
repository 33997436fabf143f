"""What imports what: the checks of the project's import hygiene, all in one place.

The UI side (the CLI, the explorer, the report) never imports torch, so it starts fast and runs where
torch is not installed; the family modules the UI reads (config classes, specs) stay torch-free; the
first frame's status line needs no plotting library, and the report no engine driver or widget.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_explorer_never_imports_torch():
    code = ("import sys; import gradfail_tui.explorer.app, tests.scripted, gradfail_tui.cli; "
            "from gradfail_tui.explorer.app import build_app; build_app(); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def imported_by(module: str) -> list[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_status_line_draws_without_plotext_and_the_report_without_drivers_or_widgets():
    assert not {"plotext", "torch"} & set(imported_by("gradfail_tui.explorer.widgets.status_line"))  # the first frame
    ours = [m for m in imported_by("gradfail_tui.report") if m.startswith("gradfail_tui.")]
    assert ours == ["gradfail_tui.render", "gradfail_tui.render.bitmaps", "gradfail_tui.render.format",
                    "gradfail_tui.render.plots", "gradfail_tui.report"]


def test_the_ui_side_never_imports_torch():
    code = ("import sys, engine.registry, engine.presets, engine.client, engine.record, engine.state, "
            "gradfail_tui.cli, gradfail_tui.headless\n"
            "engine.registry.families(); engine.presets.preset_paths()\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_family_modules_stay_torch_free():
    code = ("import sys, engine.families.pwl, engine.families.pwl_condition; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_config_module_is_torch_free():
    code = ("import sys, engine.families.tuples, engine.families.tuple_snr, engine.families.stocks; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
