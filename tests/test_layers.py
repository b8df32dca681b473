"""The architecture as the tree shows it: imports only go down the layers, and never in a circle.

Every module's imports are read with ``ast`` (relative ones and absolute ``calliper.``
ones, at module level, inside functions and under TYPE_CHECKING alike), so a lazy
import cannot hide a dependency that goes up a layer.
"""

from __future__ import annotations

import ast
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "adapters", "cli", "ui", "processing_provider")
ENTRY_FILES = ("__init__.py", "plugin.py")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),  # the foundation: the modules directly in core/, and core/install/ (standard library only)
    ("core.data",),
    ("core.text",),
    ("core.model",),
    ("core.context",),
    ("core.catalog",),
    ("core.maps",),
    ("core.imagery",),
    ("core.landuse",),
    ("core.profiles",),
    ("adapters",),
    ("cli", "ui", "processing_provider"),  # the front ends: never on each other
    ("plugin",),  # the QGIS entry: __init__.py and plugin.py at the root
)
FORBIDDEN = {("cli", "adapters")}  # the command line never pulls in QGIS
MAX_MODULES_PER_FOLDER = 20  # beyond this a reader no longer finds a capability by its folder: split by capability


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (a name imported from a package counts as its submodule if it is one)."""
    here = module_name(path, root)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("calliper."):
                target = node.module[len("calliper."):]
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name[len("calliper."):] for a in node.names if a.name.startswith("calliper.")}
    return {name for name in found if name in known}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> project modules it imports, for every package and entry file under ``root``."""
    files = [p for package in PACKAGES if (root / package).is_dir() for p in (root / package).rglob("*.py")]
    files += [root / name for name in ENTRY_FILES if (root / name).is_file()]
    names = {module_name(p, root): p for p in files}
    known = set(names) - {""}
    return {name: imported_modules(path, root, known) - {name} for name, path in names.items() if name}


def group_of(module: str) -> str:
    """The layer group a module belongs to: the longest listed prefix, the plugin entry for root files."""
    if module.split(".")[0] not in PACKAGES:
        return "plugin"
    groups = [g for layer in LAYERS for g in layer if module == g or module.startswith(g + ".")]
    return max(groups, key=len)


def rank_of(group: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if group in layer)


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import that goes up a layer or across to a sibling group."""
    bad = []
    for module, targets in sorted(graph.items()):
        source = group_of(module)
        for target in sorted(targets):
            to = group_of(target)
            if to == source:
                continue
            if rank_of(to) >= rank_of(source) or (source, to) in FORBIDDEN:
                bad.append(f"{module} -> {target} ({source} may not import {to})")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_real_tree_has_no_import_circle_and_no_upward_import():
    graph = import_graph(ROOT)
    assert {"core.model.network", "core.maps.rasters", "cli.main", "ui.dock", "plugin"} <= set(graph)
    assert sum(len(targets) for targets in graph.values()) > 200  # the walk really read the imports
    assert circles(graph) == []
    assert layer_violations(graph) == []


def test_every_subpackage_says_what_it_holds_and_what_it_may_import():
    for init in [p for package in PACKAGES for p in (ROOT / package).rglob("__init__.py")]:
        if init.parent.name in ("ui", "processing_provider"):
            continue  # QGIS front ends documented in their modules
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower() and len(doc.splitlines()) >= 2, init


def crowded_folders(root: Path, limit: int = MAX_MODULES_PER_FOLDER) -> list[str]:
    """'folder: n modules' for every plugin folder (packages and the root) holding more than ``limit`` Python modules."""
    files = [p for package in PACKAGES if (root / package).is_dir() for p in (root / package).rglob("*.py")]
    files += [root / name for name in ENTRY_FILES if (root / name).is_file()]
    counts = Counter(p.parent.relative_to(root).as_posix() for p in files)
    return [f"{folder}: {n} modules" for folder, n in sorted(counts.items()) if n > limit]


def test_no_plugin_folder_holds_more_than_twenty_modules():
    assert crowded_folders(ROOT) == []


def test_the_folder_rule_names_a_crowded_folder(tmp_path):
    _write(tmp_path, {f"ui/panel_{i}.py": "" for i in range(21)} | {"core/model/a.py": "", "plugin.py": ""})
    assert crowded_folders(tmp_path) == ["ui: 21 modules"]
    assert crowded_folders(tmp_path, limit=0) == [".: 1 modules", "core/model: 1 modules", "ui: 21 modules"]


def test_every_package_is_in_the_wheel():
    """pyproject lists the packages by hand: one left out installs without it (non-editable)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {module_name(init, ROOT) for package in PACKAGES for init in (ROOT / package).rglob("__init__.py")}
    assert {f"calliper.{name}" for name in found} | {"calliper"} == listed


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_checker_names_a_circle_and_an_upward_import(tmp_path):
    _write(tmp_path, {
        "core/__init__.py": "",
        "core/errors.py": "",
        "core/model/__init__.py": "",
        "core/model/network.py": "from ..maps.rasters import x\nfrom ..errors import E\n",
        "core/maps/__init__.py": "",
        "core/maps/rasters.py": "def f():\n    from calliper.core.model.network import y\n",
        "ui/__init__.py": "",
        "ui/dock.py": "from ..processing_provider import provider\n",
        "processing_provider/__init__.py": "",
        "processing_provider/provider.py": "from ..core.maps import rasters\n",
    })
    graph = import_graph(tmp_path)
    assert graph["core.model.network"] == {"core.maps.rasters", "core.errors"}
    assert graph["processing_provider.provider"] == {"core.maps.rasters"}  # a submodule imported by name
    assert circles(graph) == [["core.maps.rasters", "core.model.network"]]
    assert layer_violations(graph) == [
        "core.model.network -> core.maps.rasters (core.model may not import core.maps)",
        "ui.dock -> processing_provider.provider (ui may not import processing_provider)",
    ]
