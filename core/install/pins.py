"""The pinned requirements (``requirements.txt`` beside this module), their fingerprint, and releases per Python.

Every pin must install as a wheel (pip runs with ``--only-binary :all:``) into each Python
QGIS ships today, 3.10 to 3.14. Where a pin has no wheel for some of them, the pins file
has a second line for those Pythons, told apart by a ``python_version`` marker; the locks
(``locks.py``) hold what each Python gets, and ``scripts/check_wheels.py`` checks them
against the package index.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
except ImportError:  # QGIS's Python without packaging: pip always carries a copy
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.specifiers import SpecifierSet

__all__ = ["Marker", "Requirement", "SpecifierSet"]  # for host.py and plan.py: one place that finds packaging

PINS_FILE = Path(__file__).with_name("requirements.txt")
PYTHONS = (10, 11, 12, 13, 14)
"""Minor versions of the Python 3 that QGIS ships (Ubuntu 22.04's 3.10 to Debian sid's 3.14)."""


def this_python() -> tuple[int, int]:
    """The running Python's (major, minor): QGIS's own, the one pip installs for."""
    return sys.version_info[:2]


def python_environment(python: tuple[int, int]) -> dict[str, str]:
    """The marker variables that tell Pythons apart, for ``python``."""
    return {"python_version": f"{python[0]}.{python[1]}", "python_full_version": f"{python[0]}.{python[1]}.0"}


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the pins file, with the ``python_version`` marker it may carry."""

    name: str
    version: str
    marker: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    def applies(self, python: tuple[int, int]) -> bool:
        return not self.marker or Marker(self.marker).evaluate(python_environment(python))


@dataclass(frozen=True)
class Release:
    """A release and the Python 3 minor versions, first to last, that the package index has wheels of it for."""

    version: str
    pythons: tuple[int, int]

    def has_wheel(self, python: tuple[int, int]) -> bool:
        return python[0] == 3 and self.pythons[0] <= python[1] <= self.pythons[1]


def nearest_release(wanted: str, releases: tuple[Release, ...], python: tuple[int, int]) -> Release | None:
    """``wanted`` if the table gives it a wheel for ``python``, else the table's release nearest to it that has one.

    A version missing from the table is taken to have wheels everywhere: only the
    exceptions are listed. Ties go to the newer release (newer releases add Pythons).
    """
    order = [release.version for release in releases]
    if wanted not in order:
        return Release(wanted, (PYTHONS[0], PYTHONS[-1]))
    at = order.index(wanted)
    usable = [(abs(i - at), -i, release) for i, release in enumerate(releases) if release.has_wheel(python)]
    return min(usable)[2] if usable else None


@dataclass(frozen=True)
class PythonPins:
    """The pins for one Python, and a sentence for each pin that is not the release most Pythons get."""

    pins: list[Pin]
    notes: list[str]


def pins_for_python(pins: list[Pin], python: tuple[int, int]) -> PythonPins:
    """The pins whose marker holds for ``python``; one that is not its name's first line (the release most Pythons
    get) gets a note."""
    chosen = [pin for pin in pins if pin.applies(python)]
    notes = []
    for pin in chosen:
        usual = next(other for other in pins if other.name == pin.name)
        if usual.version != pin.version:
            notes.append(f"{pin.name} {pin.version} for Python {python[0]}.{python[1]} "
                         f"({usual.version} has no wheel for it)")
    return PythonPins(chosen, notes)


def read_pins(path: Path = PINS_FILE) -> list[Pin]:
    """Every ``name==version[; marker]`` in a requirements file (comments and blank lines skipped)."""
    pins = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.partition("==")
            pins.append(Pin(name.strip(), version.strip(), marker.strip()))
    return pins


def python_pins(python: tuple[int, int] | None = None) -> list[Pin]:
    """The pins of the pins file for ``python`` (this one by default)."""
    return pins_for_python(read_pins(), python or this_python()).pins


def fingerprint(specs: list[str]) -> str:
    """A short digest of what an install asked for: a folder made from other pins is out of date."""
    return hashlib.sha256("\n".join(sorted(specs)).encode()).hexdigest()[:16]
