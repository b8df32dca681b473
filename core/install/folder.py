"""The plugin's dependency folder in a QGIS profile: where it is, whether it is complete, putting it on sys.path.

Packages go to ``<profile>/python/dependencies/calliper`` (qpip's place, one folder
per plugin). An install is written to a staging folder beside it and renamed into place
only when complete, with a marker file last, so the folder at that path is always either
the old complete install or the new one. Staging and replaced folders left by a killed
install are removed at the next start.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

FOLDER_NAME = "calliper"
MARKER_FILE = "calliper-install.json"
STAGING_PREFIX = ".calliper-staging-"
REPLACED_PREFIX = ".calliper-replaced-"


def dependency_folder(profile_dir: str | Path) -> Path:
    """``<profile>/python/dependencies/calliper``."""
    return Path(profile_dir) / "python" / "dependencies" / FOLDER_NAME


@dataclass(frozen=True)
class FolderState:
    """``absent``, ``complete`` (made from the current pins), or ``outdated`` (other pins, or no marker)."""

    status: str
    marker: dict

    @property
    def message(self) -> str:
        if self.status == "absent":
            return "The packages are not installed yet."
        if self.status == "outdated":
            made = self.marker.get("plugin_version", "an older version")
            return f"The installed packages were made for Calliper {made}; this version pins others. Upgrade them."
        return f"Packages installed {self.marker.get('installed', '')} (torch {self.marker.get('torch', '?')})."


def read_marker(folder: Path) -> dict:
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def folder_state(folder: Path, digest: str) -> FolderState:
    """How the folder stands against the pins whose fingerprint is ``digest``."""
    if not folder.is_dir():
        return FolderState("absent", {})
    marker = read_marker(folder)
    return FolderState("complete" if marker.get("digest") == digest else "outdated", marker)


def activate(folder: Path) -> bool:
    """Put an installed folder first on ``sys.path`` (once), ahead of QGIS's own site-packages; False if absent."""
    if not folder.is_dir():
        return False
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()
    return True


def shadowed_imports(folder: Path) -> list[str]:
    """Top-level modules of the folder that this process imported already, from elsewhere: they need a restart.

    Private shims (``_distutils_hack``, loaded by setuptools' .pth at start-up) are not
    counted: nothing of ours imports them.
    """
    names = {path.name.split(".")[0] for path in folder.iterdir()
             if not path.name.endswith((".dist-info", ".libs", ".data")) and not path.name.startswith((".", "_"))}
    inside = folder.resolve()
    loaded = []
    for name in sorted(names & set(sys.modules)):
        module = sys.modules[name]
        # a namespace package (cuda, nvidia, google) has no __file__, only the folders of its __path__
        origins = [module.__file__] if getattr(module, "__file__", None) else list(getattr(module, "__path__", []))
        if not any(Path(origin).resolve().is_relative_to(inside) for origin in origins):
            loaded.append(name)
    return loaded


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or Windows: leave it
    return True


def remove_leftovers(parent: Path) -> list[Path]:
    """Remove staging and replaced folders of installs that are no longer running; returns what was removed."""
    removed = []
    if not parent.is_dir():
        return removed
    for path in parent.iterdir():
        if path.name.startswith(REPLACED_PREFIX) or (
            path.name.startswith(STAGING_PREFIX) and not _pid_alive(int(path.name.rsplit("-", 1)[-1] or 0))
        ):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def staging_folder(folder: Path) -> Path:
    """A fresh staging folder beside ``folder`` (same file system, so the final rename is atomic)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f"{STAGING_PREFIX}{int(time.time() * 1000)}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def commit(staging: Path, folder: Path, marker: dict) -> None:
    """Write the marker last, then swap the staging folder into place; the old install is removed after."""
    tmp = staging / f".{MARKER_FILE}.tmp"
    tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    os.replace(tmp, staging / MARKER_FILE)
    replaced = None
    if folder.exists():
        replaced = folder.parent / f"{REPLACED_PREFIX}{int(time.time() * 1000)}"
        os.replace(folder, replaced)
    os.replace(staging, folder)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)  # files still open (Windows) go at the next start
