"""Names for the dock's outputs: readable, stamped with the time, never an existing file's.

Two maps of the same phrase made within one second would otherwise get one name and
the second would be refused as "already exists".
"""

from __future__ import annotations

import re
import time
from pathlib import Path


def slug(text: str) -> str:
    """A file-name-safe form of a phrase or layer name (at most 40 characters)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "query"


def new_output(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem_YYYYmmdd-HHMMSS.suffix``, with -2, -3... added when that name is taken."""
    base = f"{stem}_{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = Path(folder) / f"{base}{suffix}", 2
    while path.exists():
        path, n = Path(folder) / f"{base}-{n}{suffix}", n + 1
    return path
