"""Packages QGIS's own Python provides, which the installer keeps instead of shadowing them.

numpy, pyproj and scipy come with QGIS (Debian's python3-* packages, OSGeo4W's own),
linked to the PROJ and GDAL that QGIS itself loads. A wheel of pyproj brings a second
PROJ into the process, and a second numpy can break the GDAL bindings built for the
first. Where the host has an accepted version it is kept, pinned to that version for
the resolver; where it has none, the fallback pin is installed with the rest.
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.specifiers import SpecifierSet
except ImportError:  # QGIS's Python without packaging: pip always carries a copy
    from pip._vendor.packaging.specifiers import SpecifierSet


@dataclass(frozen=True)
class HostPackage:
    """A distribution the host usually provides, the versions our pins work with, and what to install without it."""

    name: str
    accepted: str
    fallback: str


HOST_PACKAGES: tuple[HostPackage, ...] = (
    HostPackage("numpy", ">=1.24,<2", "1.26.4"),
    HostPackage("pyproj", ">=3.3", "3.6.1"),
    HostPackage("scipy", ">=1.10", "1.10.1"),
)


@dataclass(frozen=True)
class HostChoice:
    """What the installer does with one host package: keep the host's version, or install the fallback."""

    package: HostPackage
    host_version: str | None

    @property
    def kept(self) -> bool:
        return self.host_version is not None and self.host_version in SpecifierSet(self.package.accepted)

    @property
    def constraint(self) -> str:
        """The pin the resolver gets: the host's own version when kept, else the fallback."""
        return f"{self.package.name}=={self.host_version if self.kept else self.package.fallback}"

    def describe(self) -> str:
        if self.kept:
            return f"{self.package.name} {self.host_version} (QGIS's own)"
        if self.host_version is None:
            return f"{self.package.name} {self.package.fallback} (QGIS has none)"
        return f"{self.package.name} {self.package.fallback} (QGIS's {self.host_version} is outside {self.package.accepted})"


def host_version(name: str, exclude: Path | None = None) -> str | None:
    """The version of ``name`` importable from this Python's own paths, ignoring the folder ``exclude``."""
    paths = [p for p in sys.path if not (exclude and p and Path(p).resolve().is_relative_to(exclude.resolve()))]
    for dist in importlib.metadata.distributions(name=name, path=paths):
        return dist.version
    return None


def host_choices(exclude: Path | None = None, packages: tuple[HostPackage, ...] = HOST_PACKAGES) -> list[HostChoice]:
    """Keep or install, for each host package, judged from this Python (``exclude``: our own dependency folder)."""
    return [HostChoice(package, host_version(package.name, exclude)) for package in packages]


def loaded_distributions(exclude: Path | None = None) -> dict[str, str]:
    """Distributions this process has already imported (QGIS loads requests, idna, yaml, ...), name -> version.

    An install that keeps these versions can be used at once; one that replaced them
    would need QGIS to restart, because a loaded module cannot be swapped.
    """
    paths = [p for p in sys.path if not (exclude and p and Path(p).resolve().is_relative_to(exclude.resolve()))]
    loaded = {}
    for dist in importlib.metadata.distributions(path=paths):
        top = (dist.read_text("top_level.txt") or "").split()
        name = dist.metadata["Name"]
        if name and any(module in sys.modules for module in top):
            loaded.setdefault(name, dist.version)
    return loaded
