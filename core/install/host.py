"""Packages QGIS's own Python provides, which the installer keeps instead of shadowing them.

numpy, pyproj and scipy come with QGIS (Debian's python3-* packages, OSGeo4W's own),
linked to the PROJ and GDAL that QGIS itself loads. A wheel of pyproj brings a second
PROJ into the process, and a second numpy can break the GDAL bindings built for the
first. Where the host has an accepted version it is kept, whatever its major version
(Debian 12's numpy 1.24, Debian 13's numpy 2.2), pinned to that version for the resolver;
where it has none, the fallback release with a wheel for this Python is installed with
the rest.
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .locks import normalised
from .pins import Release, SpecifierSet, nearest_release, this_python


@dataclass(frozen=True)
class HostPackage:
    """A distribution the host usually provides, the versions our pins work with, and what to install without it.

    ``fallback`` is the release installed where the host has none; ``releases`` lists
    it with its nearest releases and the Pythons each has wheels for, so a Python the
    fallback has no wheel for gets the nearest one that has.
    """

    name: str
    accepted: str
    fallback: str
    releases: tuple[Release, ...] = ()


HOST_PACKAGES: tuple[HostPackage, ...] = (
    HostPackage("numpy", ">=1.24", "1.26.4", (Release("1.26.4", (9, 12)), Release("2.1.3", (10, 13)),
                                             Release("2.3.5", (11, 14)))),
    HostPackage("pyproj", ">=3.3", "3.6.1", (Release("3.6.1", (9, 12)), Release("3.7.0", (10, 13)),
                                             Release("3.7.2", (11, 14)))),
    HostPackage("scipy", ">=1.10", "1.13.1", (Release("1.13.1", (9, 12)), Release("1.14.1", (10, 13)),
                                             Release("1.16.3", (11, 14)))),
)
"""numpy 1.x and 2.x are both accepted: the pins have wheels built for numpy 2 that also run on numpy >= 1.24.
The fallbacks run with numpy 1 and 2 alike (scipy 1.13 is the first built for numpy 2)."""


@dataclass(frozen=True)
class HostChoice:
    """What the installer does with one host package: keep the host's version, or install a fallback."""

    package: HostPackage
    host_version: str | None
    python: tuple[int, int] = field(default_factory=this_python)

    @property
    def kept(self) -> bool:
        return self.host_version is not None and self.host_version in SpecifierSet(self.package.accepted)

    @property
    def fallback(self) -> str | None:
        """The release to install for this Python: the fallback, or its nearest release with a wheel; None if none."""
        release = nearest_release(self.package.fallback, self.package.releases, self.python)
        return release.version if release else None

    @property
    def constraint(self) -> str:
        """The pin the resolver gets: the host's own version when kept, else the fallback (or the accepted range)."""
        if self.kept:
            return f"{self.package.name}=={self.host_version}"
        return f"{self.package.name}=={self.fallback}" if self.fallback else self.package.name + self.package.accepted

    def describe(self) -> str:
        if self.kept:
            return f"{self.package.name} {self.host_version} (QGIS's own)"
        why = "QGIS has none" if self.host_version is None else \
            f"QGIS's {self.host_version} is outside {self.package.accepted}"
        python = f"Python {self.python[0]}.{self.python[1]}"
        if self.fallback is None:
            return f"{self.constraint} ({why}; no release in the table has a wheel for {python})"
        if self.fallback != self.package.fallback:
            why += f"; {self.package.fallback} has no wheel for {python}"
        return f"{self.package.name} {self.fallback} ({why})"


def host_paths(exclude: Path | None = None) -> list[str]:
    """This Python's import paths without the folder ``exclude`` (our own dependency folder)."""
    return [p for p in sys.path if not (exclude and p and Path(p).resolve().is_relative_to(exclude.resolve()))]


def host_version(name: str, exclude: Path | None = None) -> str | None:
    """The version of ``name`` importable from this Python's own paths, ignoring the folder ``exclude``."""
    for dist in importlib.metadata.distributions(name=name, path=host_paths(exclude)):
        return dist.version
    return None


def host_choices(exclude: Path | None = None, packages: tuple[HostPackage, ...] = HOST_PACKAGES) -> list[HostChoice]:
    """Keep or install, for each host package, judged from this Python (``exclude``: our own dependency folder)."""
    return [HostChoice(package, host_version(package.name, exclude)) for package in packages]


def loaded_distributions(exclude: Path | None = None) -> dict[str, str]:
    """Distributions this process has already imported (QGIS loads requests, idna, yaml, ...), name -> version.

    An install that keeps these versions can be used at once; one that replaced them
    would need QGIS to restart, because a loaded module cannot be swapped. Private shims
    (setuptools' ``_distutils_hack``, loaded by its .pth at start-up) do not count, as in
    ``folder.shadowed_imports``.
    """
    loaded = {}
    for dist in importlib.metadata.distributions(path=host_paths(exclude)):
        name = dist.metadata["Name"]
        if name and any(module in sys.modules for module in top_level_modules(dist) if not module.startswith("_")):
            loaded.setdefault(name, dist.version)
    return loaded


def top_level_modules(dist: importlib.metadata.Distribution) -> set[str]:
    """The modules a distribution provides: its top_level.txt, else its RECORD, else its name.

    Debian 13 ships dist-info folders with neither top_level.txt nor RECORD (python3-idna):
    without the last guess, QGIS's loaded idna 3.10 was replaced by 3.20 and QGIS had to restart.
    """
    top = set((dist.read_text("top_level.txt") or "").split())
    if not top:
        top = {Path(file.parts[0]).stem for file in dist.files or () if len(file.parts) > 1 or file.suffix == ".py"}
        top -= {"..", "__pycache__", ""}
        top = {module for module in top if "." not in module and "-" not in module}
    return top or {dist.metadata["Name"].lower().replace("-", "_")}


@dataclass(frozen=True)
class HostDistribution:
    """A distribution in QGIS's Python (outside our folder): its version and what it requires."""

    version: str
    requires: tuple[str, ...]


def host_distributions(exclude: Path | None = None) -> dict[str, HostDistribution]:
    """Every distribution importable from this Python's own paths, ignoring the folder ``exclude``, by PEP 503 name."""
    found: dict[str, HostDistribution] = {}
    for dist in importlib.metadata.distributions(path=host_paths(exclude)):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalised(name), HostDistribution(dist.version, tuple(dist.requires or ())))
    return found
