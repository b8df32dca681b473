"""The pinned requirements (``requirements.txt`` beside this module), their fingerprint, and releases per Python.

Every pin must install as a wheel (pip runs with ``--only-binary :all:``) into each Python
QGIS ships today, 3.10 to 3.13. Where a pin has no wheel for a Python, ``OTHER_RELEASES``
names the release to use instead; ``scripts/check_wheels.py`` checks these tables
against the package index.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path

PINS_FILE = Path(__file__).with_name("requirements.txt")
PYTHONS = (10, 11, 12, 13)
"""Minor versions of the Python 3 that QGIS ships (Ubuntu 22.04's 3.10 to Debian 13's 3.13)."""


def this_python() -> tuple[int, int]:
    """The running Python's (major, minor): QGIS's own, the one pip installs for."""
    return sys.version_info[:2]


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the pins file."""

    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Release:
    """A release and the Python 3 minor versions, first to last, that the package index has wheels of it for."""

    version: str
    pythons: tuple[int, int]

    def has_wheel(self, python: tuple[int, int]) -> bool:
        return python[0] == 3 and self.pythons[0] <= python[1] <= self.pythons[1]


OTHER_RELEASES: dict[str, tuple[Release, ...]] = {
    "transformers": (Release("5.20.2", (10, 13)), Release("5.23.0", (11, 13))),
    "scikit-learn": (Release("1.7.2", (10, 13)), Release("1.9.1", (11, 13))),
    "pyrosm": (Release("0.21.0", (10, 13)), Release("0.25.0", (11, 13))),
}
"""Pins without a wheel for every Python QGIS ships, each with its nearest release that has one, oldest first."""


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
    """The pins for one Python, and a sentence for each pin that had to change for it."""

    pins: list[Pin]
    notes: list[str]


def pins_for_python(pins: list[Pin], python: tuple[int, int],
                    releases: dict[str, tuple[Release, ...]] = OTHER_RELEASES) -> PythonPins:
    """Each pin, or its nearest release with a wheel for ``python`` where the pin has none."""
    chosen, notes = [], []
    for pin in pins:
        release = nearest_release(pin.version, releases.get(pin.name, ()), python)
        if release is not None and release.version != pin.version:
            notes.append(f"{pin.name} {release.version} for Python {python[0]}.{python[1]} "
                         f"({pin.version} has no wheel for it)")
            pin = replace(pin, version=release.version)
        chosen.append(pin)
    return PythonPins(chosen, notes)


def read_pins(path: Path = PINS_FILE) -> list[Pin]:
    """Every ``name==version`` in a requirements file (comments and blank lines skipped)."""
    pins = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins.append(Pin(name.strip(), version.strip()))
    return pins


def fingerprint(specs: list[str]) -> str:
    """A short digest of what an install asked for: a folder made from other pins is out of date."""
    return hashlib.sha256("\n".join(sorted(specs)).encode()).hexdigest()[:16]
