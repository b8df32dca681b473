"""The plugin's dependency folder in a QGIS profile: where it is, whether it is complete, putting it on sys.path.

Packages go to ``<profile>/python/dependencies/calliper`` (qpip's place, one folder
per plugin). An install is written to a staging folder beside it and renamed into place
only when complete, with a marker file last, so the folder at that path is always either
the old complete install or the new one. One install runs at a time (a lock beside the
folder: two QGIS windows may share a profile). At the next start, an install killed
between its two renames is finished (or the old folder put back), and the staging and
replaced folders of dead installs are removed; any other name there is left alone.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import InstallError, OutputPathError
from ..locks import output_lock

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


def _staging_pid(path: Path) -> int | None:
    """The process id a staging folder's name ends with; None for a name no install of ours made."""
    tail = path.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


@contextmanager
def install_lock(folder: Path) -> Iterator[None]:
    """Hold the profile's install lock for the block; another live install refuses this one with a message."""
    with ExitStack() as stack:
        try:
            stack.enter_context(output_lock(folder, "the package install"))
        except OutputPathError as error:
            raise InstallError(
                "Another QGIS window is installing Calliper's packages into this profile. Wait until it has "
                "finished, then restart QGIS.", error.message) from error
        yield


def _finish_interrupted_swap(folder: Path, ours: list[Path]) -> None:
    """An install killed between its two renames left no folder: put in the complete new one, else the old one."""
    if folder.exists():
        return
    complete = [p for p in ours if p.name.startswith(STAGING_PREFIX) and (p / MARKER_FILE).is_file()]
    replaced = sorted(p for p in ours if p.name.startswith(REPLACED_PREFIX))
    candidate = complete[-1] if complete else (replaced[-1] if replaced else None)
    if candidate is not None:
        os.replace(candidate, folder)
        ours.remove(candidate)


def remove_leftovers(parent: Path) -> list[Path]:
    """Tidy what installs that are no longer running left beside the folder; returns what was removed.

    Skipped while another install holds the lock: its folders are not leftovers yet.
    """
    removed: list[Path] = []
    folder = parent / FOLDER_NAME
    if not parent.is_dir():
        return removed
    try:
        with install_lock(folder):
            ours = sorted(path for path in parent.iterdir() if path.is_dir() and not path.is_symlink() and (
                path.name.startswith(REPLACED_PREFIX) or (
                    path.name.startswith(STAGING_PREFIX) and _staging_pid(path) is not None
                    and not _pid_alive(_staging_pid(path)))))
            _finish_interrupted_swap(folder, ours)
            for path in ours:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    except InstallError:
        pass  # another QGIS is installing: leave its folders alone
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
