"""The pinned requirements (``requirements.txt`` beside this module) and their fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PINS_FILE = Path(__file__).with_name("requirements.txt")


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of the pins file."""

    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


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
