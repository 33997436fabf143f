"""What imports what: the checks of the project's import hygiene, all in one place.

The UI side (the CLI, the explorer, the report) never imports torch, so it starts fast and runs where
torch is not installed; the family modules the UI reads (config classes, specs) stay torch-free; the
first frame's status line needs no plotting library, and the report no engine driver or widget; and
the project's own modules (engine, gradfail_tui) import no cycle; and the import contracts that
guard a package (pyproject.toml) leave no module out.
"""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
from importlinter.contracts.protected import ProtectedContract

from tests.conftest import ROOT

OUR_PACKAGES = ("engine", "gradfail_tui")


def test_the_explorer_never_imports_torch():
    code = (
        "import sys; import gradfail_tui.explorer.app, tests.scripted, gradfail_tui.cli; "
        "from gradfail_tui.explorer.app import build_app; build_app(); "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
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
    assert ours == [
        "gradfail_tui.render",
        "gradfail_tui.render.bitmaps",
        "gradfail_tui.render.colours",
        "gradfail_tui.render.figure",
        "gradfail_tui.render.format",
        "gradfail_tui.render.heatmap",
        "gradfail_tui.render.plots",
        "gradfail_tui.render.vector",
        "gradfail_tui.report",
    ]


def test_the_ui_side_never_imports_torch():
    code = (
        "import sys, engine.registry, engine.presets, engine.client, engine.record, engine.state, "
        "gradfail_tui.cli, gradfail_tui.headless\n"
        "engine.registry.families(); engine.presets.preset_paths()\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_family_modules_stay_torch_free():
    code = "import sys, engine.families.pwl, engine.families.pwl_condition; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_config_module_is_torch_free():
    code = (
        "import sys, engine.families.tuples, engine.families.tuple_snr, engine.families.stocks; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- no import cycle among our modules ---------------------------------------------------------
def our_modules() -> dict[str, Path]:
    """Every module of engine and gradfail_tui, by its dotted name (a package by its own name)."""
    modules = {}
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The modules of ours that `name` imports, each with the line of its first import, wherever the
    import is: at the top, in a function, in a class, under `if TYPE_CHECKING:` or in a `try`.
    `from X import y` counts as X.y when that is a module of ours, else as X; `import X.Y` as the
    longest of X.Y, X that is ours."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def ours(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up level - 1
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names
            ]
        else:
            continue
        for target in map(ours, targets):
            if target is not None and target != name:
                found[target] = min(found.get(target, node.lineno), node.lineno)
    return found


def reachable(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for following in graph[todo.pop()]:
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def shortest_cycle(graph: dict[str, dict[str, int]], start: str) -> list[str]:
    """The shortest path from `start` back to itself (breadth first), as [start, ..., start]."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target == start:
                    path = [module]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1] + [start]
                if target not in came_from:
                    came_from[target] = module
                    following.append(target)
        frontier = following
    raise ValueError(f"{start} is on no cycle")


def import_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """One line per set of modules that import each other in a circle (a strongly connected component):
    a shortest cycle through each of its modules, each step with the line of the import."""
    lines, placed = [], set()
    for module in sorted(graph):
        if module in placed or module not in reachable(graph, module):
            continue
        component = {other for other in reachable(graph, module) if module in reachable(graph, other)}
        placed |= component
        cycles = []
        for member in sorted(component):
            cycle = shortest_cycle(graph, member)
            rotated = cycle[cycle.index(min(cycle[:-1])) : -1] + cycle[: cycle.index(min(cycle[:-1])) + 1]
            if rotated not in cycles:
                cycles.append(rotated)
        lines += [" -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(c, c[1:])) + f" -> {c[-1]}" for c in cycles]
    return lines


def test_our_modules_import_no_cycle():
    modules = our_modules()
    assert {"engine", "engine.registry", "gradfail_tui", "gradfail_tui.explorer.app"} <= set(modules)
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert "engine.registry" in graph["engine.worker"]  # the walk sees imports
    cycles = import_cycles(graph)
    assert not cycles, "import cycles among our modules:\n" + "\n".join(cycles)


# -- the import contracts have no holes ----------------------------------------------------------
def protected_contracts() -> tuple[dict[str, ProtectedContract], grimp.ImportGraph]:
    """pyproject.toml's "protected" contracts, by the package each protects, and the graph lint-imports builds."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    session = {key: value for key, value in config.items() if key != "contracts"}
    contracts = {
        options["protected_modules"][0]: ProtectedContract(options["name"], session, options)
        for options in config["contracts"]
        if options["type"] == "protected"
    }
    graph = grimp.build_graph(*config["root_packages"], include_external_packages=True, cache_dir=None)
    return contracts, graph


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# Each protected package: who may import it, one of its modules that no ignored import names, and
# modules that must be among those forbidden (the holes the hand-written lists used to leave).
PROTECTED = {
    "engine.orchestration": (
        ("engine.orchestration", "gradfail_tui"),
        "engine.orchestration.jobs",
        {"engine", "engine.loop", "engine.worker", "engine.families.parity.trainer", "engine.diagnostics.snr"},
    ),
    "gradfail_tui.explorer": (
        ("gradfail_tui.explorer",),
        "gradfail_tui.explorer.model",
        {"engine", "engine.loop", "gradfail_tui", "gradfail_tui.rerun", "gradfail_tui.cli", "gradfail_tui.talk.app"},
    ),
}


def test_every_module_outside_a_protected_package_is_forbidden_from_importing_it():
    """No module is left out: an import from any module of ours (found in the code, not listed), into
    the package or one of its modules, breaks the contract; each contract holds on the code as it is."""
    contracts, graph = protected_contracts()
    assert set(contracts) == set(PROTECTED)
    ours = [m for m in sorted(graph.modules) if in_package(m, "engine") or in_package(m, "gradfail_tui")]
    for package, contract in contracts.items():
        allowed, target, expected = PROTECTED[package]
        assert contract.check(copy.deepcopy(graph), verbose=False).kept, contract.name
        others = [m for m in ours if not any(in_package(m, a) for a in allowed)]
        assert expected <= set(others) and target in graph.modules
        holes = []
        for module in others:
            for imported in (package, target):
                probe = copy.deepcopy(graph)  # a check removes the contract's ignored imports from its graph
                probe.add_import(importer=module, imported=imported)
                if contract.check(probe, verbose=False).kept:
                    holes.append(f"{module} -> {imported}")
        assert not holes, f"{contract.name}: kept with " + ", ".join(holes)
