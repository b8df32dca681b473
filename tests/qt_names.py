"""The Qt and QGIS names the plugin uses, read with ``ast``, checked against the real PyQt6 and QGIS's enum rule.

QGIS 4 runs on Qt6 and PyQt6, where unscoped enums (``Qt.AlignCenter``), ``exec_`` and
``QAction`` in QtWidgets are gone. The plugin reaches Qt only through ``qgis.PyQt``, so
every name it imports from there, every attribute chain on those names
(``Qt.AlignmentFlag.AlignCenter``), and every method called on a variable or ``self``
whose Qt class is known from the same module (``button = QPushButton(...)``,
``class Panel(QWidget)``) is resolved against PyQt6 in a subprocess that imports
PyQt6 only (PyQt5, which QGIS 3 loads, must not share a process with it).

QGIS's own enums follow the same rule in QGIS 4 (its Qt6 build makes them scoped, and its
migration script rewrites ``QgsProcessingParameterNumber.Double`` to ``...Type.Double``);
``qgis_enum_problems`` checks that form against the running QGIS.

A statement whose line carries ``# Qt5 only`` is left out: it must sit behind a version
check and run only where QGIS still needs the Qt5 name.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_SOURCES = ("plugin.py", "ui", "processing_provider", "adapters", "scripts/gui_check.py")
QT5_ONLY = "# Qt5 only"
PYQT_PACKAGE = "qgis.PyQt"
QGIS_PACKAGES = ("qgis.core", "qgis.gui")
ANY_CLASS = "*"  # a method name looked for on every PyQt6 class
PYQT5_KEYWORD_NAMES = ("exec_", "print_")  # PyQt5's spellings of Python 2 keywords, on any receiver


@dataclass(frozen=True)
class NameUse:
    """One dotted name as the module uses it: ``QtCore.Qt.AlignmentFlag.AlignCenter`` or ``qgis.core.QgsTask.Flag``."""

    path: str
    line: int
    chain: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.chain}"


def plugin_files(root: Path = ROOT) -> list[Path]:
    """The plugin's modules that talk to Qt and QGIS (core/ and cli/ never import either)."""
    files = []
    for item in PLUGIN_SOURCES:
        path = root / item
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    return files


def _chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the chain does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _in_import_error_handler(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import in ``except ImportError:`` is the Qt5 fallback of the one tried above it."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) and node.type.id == "ImportError":
            return True
    return False


class _ModuleReader:
    """Collects the uses of one module."""

    def __init__(self, source: str, path: str):
        self.path = path
        self.tree = ast.parse(source)
        lines = source.splitlines()
        self.skipped = {i + 1 for i, text in enumerate(lines) if QT5_ONLY in text}
        self.parents = {child: parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
        self.qt: dict[str, str] = {}  # local name -> "QtCore.Qt" / "QtCore" / "sip"
        self.qgis: dict[str, str] = {}  # local name -> "qgis.core.QgsTask"
        self.uses: list[NameUse] = []

    def use(self, node: ast.AST, chain: str) -> None:
        if node.lineno not in self.skipped:
            self.uses.append(NameUse(self.path, node.lineno, chain))

    def read_imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                fallback = _in_import_error_handler(node, self.parents)
                if node.module == PYQT_PACKAGE or node.module.startswith(PYQT_PACKAGE + "."):
                    prefix = node.module[len(PYQT_PACKAGE) + 1:]
                    for alias in node.names:
                        chain = f"{prefix}.{alias.name}" if prefix else alias.name
                        if not fallback:
                            self.qt[alias.asname or alias.name] = chain
                            self.use(node, chain)
                elif node.module in QGIS_PACKAGES:
                    for alias in node.names:
                        self.qgis[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif node.module.split(".")[0] in ("PyQt5", "PyQt6"):
                    self.use(node, f"{node.module} (import Qt through qgis.PyQt)")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in ("PyQt5", "PyQt6"):
                        self.use(node, f"{alias.name} (import Qt through qgis.PyQt)")

    def qt_class_of(self, node: ast.AST) -> str | None:
        """The Qt chain a call constructs (``QPushButton(...)`` -> "QtWidgets.QPushButton"), if any."""
        if isinstance(node, ast.Call):
            parts = _chain(node.func)
            if parts and parts[0] in self.qt and parts[-1][:1].isupper():
                return ".".join([self.qt[parts[0]], *parts[1:]])
        return None

    def typed_variables(self) -> dict[str, str]:
        """``x`` / ``self.x`` -> its Qt class, for names only ever assigned one Qt class in this module."""
        seen: dict[str, set[str | None]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    parts = _chain(target)
                    if parts and (len(parts) == 1 or (len(parts) == 2 and parts[0] == "self")):
                        seen.setdefault(".".join(parts), set()).add(self.qt_class_of(node.value))
        return {name: classes.pop() for name, classes in seen.items() if len(classes) == 1 and None not in classes}

    def qt_classes(self) -> dict[ast.ClassDef, tuple[str, set[str]]]:
        """Each class of this module built on a Qt class: (that Qt class, the names the class itself defines)."""
        found: dict[ast.ClassDef, tuple[str, set[str]]] = {}
        by_name: dict[str, ast.ClassDef] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef):
                by_name[node.name] = node
        for node in by_name.values():
            owned: set[str] = set()
            base_node: ast.ClassDef | None = node
            qt_base = None
            while base_node is not None and qt_base is None:
                owned |= _defined_names(base_node)
                parts = _chain(base_node.bases[0]) if base_node.bases else None
                if parts and parts[0] in self.qt:
                    qt_base = ".".join([self.qt[parts[0]], *parts[1:]])
                base_node = by_name.get(parts[0]) if parts and len(parts) == 1 else None
            if qt_base:
                found[node] = (qt_base, owned)
        return found

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.ClassDef):
                return node
        return None

    def read_attributes(self) -> None:
        typed = self.typed_variables()
        classes = self.qt_classes()
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Attribute) or isinstance(self.parents.get(node), ast.Attribute):
                continue  # only whole chains
            if node.attr in PYQT5_KEYWORD_NAMES:
                self.use(node, f"{ANY_CLASS}.{node.attr}")
            parts = _chain(node)
            if not parts:
                continue
            head, rest = parts[0], parts[1:]
            if head in self.qt:
                self.use(node, ".".join([self.qt[head], *rest]))
            elif head in self.qgis:
                self.use(node, ".".join([self.qgis[head], *rest]))
            elif head in typed:
                self.use(node, f"{typed[head]}.{rest[0]}")
            elif head == "self" and f"self.{rest[0]}" in typed and len(rest) > 1:
                self.use(node, f"{typed['self.' + rest[0]]}.{rest[1]}")
            elif head == "self":
                owner = self.enclosing_class(node)
                if owner in classes and rest[0] not in classes[owner][1]:
                    self.use(node, f"{classes[owner][0]}.{rest[0]}")


def _defined_names(cls: ast.ClassDef) -> set[str]:
    """Methods and class attributes of one class body, and its ``self.x`` assignments."""
    names = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    for node in ast.walk(cls):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    parts = _chain(element)
                    if parts and len(parts) == 2 and parts[0] == "self":
                        names.add(parts[1])
    return names


def name_uses(source: str, path: str = "<snippet>") -> list[NameUse]:
    """Every Qt and QGIS name one module uses (Qt chains start at the binding's module, QGIS ones at ``qgis.``)."""
    reader = _ModuleReader(source, path)
    reader.read_imports()
    reader.read_attributes()
    return reader.uses


def plugin_name_uses(root: Path = ROOT) -> list[NameUse]:
    return [use for path in plugin_files(root)
            for use in name_uses(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())]


RESOLVER = r"""
import importlib, json, sys
modules = {}
def module(name):
    if name not in modules:
        try:
            modules[name] = importlib.import_module("PyQt6." + name)
        except ImportError:
            modules[name] = None
    return modules[name]
classes = [value for name in ("QtCore", "QtGui", "QtWidgets") for value in vars(module(name)).values()
           if isinstance(value, type)]
missing = []
for chain in json.load(sys.stdin):
    parts = chain.split(".")
    if parts[0] == "*":
        if not any(hasattr(cls, parts[1]) for cls in classes):
            missing.append(chain)
        continue
    value = module(parts[0])
    for part in parts[1:]:
        value = getattr(value, part, None) if value is not None else None
    if value is None:
        missing.append(chain)
assert "PyQt5" not in " ".join(sys.modules), "PyQt5 was loaded beside PyQt6"
json.dump(missing, sys.stdout)
"""


def missing_in_pyqt6(uses: list[NameUse], python: str = sys.executable) -> list[NameUse]:
    """The Qt uses that PyQt6 does not have, resolved in a process that imports PyQt6 only."""
    qt_uses = [use for use in uses if not use.chain.startswith("qgis.")]
    chains = sorted({use.chain for use in qt_uses})
    result = subprocess.run([python, "-c", RESOLVER], input=json.dumps(chains), capture_output=True, text=True,
                            check=True, timeout=120)
    missing = set(json.loads(result.stdout))
    return [use for use in qt_uses if use.chain in missing]


def qgis_enum_problems(uses: list[NameUse]) -> list[str]:
    """QGIS names the running QGIS lacks, and enum values not reached through their enum (gone in QGIS 4)."""
    import importlib

    problems = []
    for use in uses:
        if not use.chain.startswith("qgis."):
            continue
        package, _, rest = use.chain[len("qgis."):].partition(".")
        parts = rest.split(".")
        objects = [importlib.import_module(f"qgis.{package}")]
        for part in parts:
            objects.append(getattr(objects[-1], part, None))
            if objects[-1] is None:
                problems.append(f"{use}: QGIS {_qgis_version()} has no {part}")
                break
        else:
            value, owner = objects[-1], objects[-2]
            if _is_enum_member(value) and owner is not type(value):
                problems.append(f"{use}: reach it through its enum ({'.'.join(parts[:-1])}.{type(value).__name__}.{parts[-1]})")
    return problems


def _is_enum_member(value: object) -> bool:
    """A sip enum value (PyQt5: its type's metaclass is sip's enumtype) or a Python enum member (PyQt6)."""
    import enum

    return isinstance(value, enum.Enum) or type(type(value)).__name__ == "enumtype"


def _qgis_version() -> str:
    from qgis.core import Qgis

    return Qgis.QGIS_VERSION
