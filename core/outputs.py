"""Which existing paths an output may replace: one rule for the dock, Processing and the command line.

A file output replaces only a file (and only when overwriting is allowed). A folder output
replaces only a folder that is new, empty, or that Calliper wrote (a model card, or the
marker a group of outputs leaves). Any other existing folder belongs to the user: QGIS's
folder picker selects an existing folder without asking, so the output goes into a new
subfolder of it and the user is told where; nothing of theirs is moved, replaced or deleted.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import OutputPathError

# Left in every folder a group of outputs (a land-use study, a transfer) is written into, so the next
# run knows the folder is Calliper's. Model folders are known by their card.
FOLDER_MARKER = ".calliper-output.json"
MARKER_FORMAT = "calliper-output"
CARD_FILE = "card.json"
CARD_FORMAT_PREFIX = "calliper-"
SMALL_JSON_LIMIT = 8 * 1024 * 1024
# The hidden names Calliper leaves in a folder while it writes: its markers and group staging, an output's
# temporary and backup (core.atomic), lock (core.locks) and an embedding raster's finished blocks (core.maps.blocks).
CALLIPER_HIDDEN = (".calliper-*", ".*.partial", ".*.partial.*", ".*.old-*", ".*.lock", ".*.blocks", ".*.blocks.json")


@dataclass(frozen=True)
class FolderOutput:
    """Where a folder output goes, and what to tell the user when that is not the folder they named."""

    path: Path
    note: str = ""


def read_small_json(path: str | Path, limit: int = SMALL_JSON_LIMIT) -> object:
    """Parse a JSON file that must be a regular file of at most ``limit`` bytes.

    Cards and markers come from folders anyone may have handed the user: a symlink to
    ``/dev/zero`` or a gigabyte of JSON must fail with a message, not hang QGIS.
    Raises ``OSError`` (missing, not a regular file, too large) or ``ValueError`` (not JSON).
    """
    path = Path(path)
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path} is not a regular file")
    if info.st_size > limit:
        raise OSError(f"{path} is {info.st_size:,} bytes, more than the {limit:,} a Calliper file may have")
    with open(path, "rb") as stream:
        raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise OSError(f"{path} grew past {limit:,} bytes while it was read")
    return json.loads(raw.decode("utf-8"))


def _json_format(path: Path) -> str:
    try:
        document = read_small_json(path)
    except (OSError, ValueError):
        return ""
    value = document.get("format") if isinstance(document, dict) else None
    return value if isinstance(value, str) else ""


def written_by_calliper(folder: str | Path) -> bool:
    """Whether ``folder`` is one Calliper wrote: a model folder (its card) or a group of outputs (its marker)."""
    folder = Path(folder)
    return (_json_format(folder / FOLDER_MARKER) == MARKER_FORMAT
            or _json_format(folder / CARD_FILE).startswith(CARD_FORMAT_PREFIX))


def marker_text(kind: str) -> str:
    """The marker a group of outputs leaves in its folder (``kind`` says which: landuse, transfer, ...)."""
    return json.dumps({"format": MARKER_FORMAT, "kind": kind})


def _refuse_inputs(path: Path, inputs: tuple[str | Path, ...]) -> None:
    for item in inputs:
        if item and Path(item).expanduser().absolute() == path:
            raise OutputPathError(f"The output {path} is also an input. Choose another output path.")


def _check_writable_parent(path: Path) -> None:
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"{parent} is a file, not a folder. Choose an output path inside a folder.")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass  # os.access says yes to root even on read-only mounts; a real write tells the truth
    except OSError as exc:
        raise OutputPathError(
            f"Cannot write to the folder {parent} ({exc.strerror}). Choose an output path you can write to."
        ) from exc


def check_output_path(path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """A file output: refuse an input, a folder, an existing file (unless asked), or an unwritable place."""
    path = Path(path).expanduser().absolute()
    _refuse_inputs(path, inputs)
    if path.is_dir():
        raise OutputPathError(
            f"The output {path} is a folder. Give a file name for this output (for example {path / 'output.tif'})."
        )
    if path.exists() and not overwrite:
        raise OutputPathError(f"The output {path} already exists. Choose another path or allow overwriting.")
    _check_writable_parent(path)
    return path


def _new_subfolder(folder: Path, name: str) -> Path:
    candidate, number = folder / name, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = folder / f"{name}-{number}"
    return candidate


def _foreign_entries(folder: Path, owned: tuple[str, ...]) -> list[str]:
    """Names in ``folder`` that neither the ``owned`` patterns nor Calliper's hidden names cover.

    A hidden name is not Calliper's for being hidden: a user's ``.git`` or ``.notes`` in a
    model folder would go with the folder when it is replaced.
    """
    patterns = owned + CALLIPER_HIDDEN
    return sorted(entry.name for entry in folder.iterdir() if not any(fnmatch.fnmatch(entry.name, p) for p in patterns))


def check_output_folder(
    path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = (), subfolder: str = "calliper-output",
    owned: tuple[str, ...] = (),
) -> FolderOutput:
    """A folder output: where it goes under the rule above; ``subfolder`` names the new folder in a user's one.

    ``owned`` lists the name patterns of a folder that is replaced whole (a model folder): a
    Calliper folder holding anything else (a user's notes beside a model) counts as the user's.
    Without it the folder only receives named files (a study's), and other files stay.
    """
    path = Path(path).expanduser().absolute()
    _refuse_inputs(path, inputs)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputPathError(f"The output {path} exists and is not a folder. Choose a folder for this output.")
    if path.is_dir() and any(path.iterdir()):
        if not written_by_calliper(path) or (owned and _foreign_entries(path, owned)):
            target = _new_subfolder(path, subfolder)
            _check_writable_parent(target)
            return FolderOutput(target, f"The folder {path} holds files Calliper did not write, so they are left "
                                        f"as they are and the output goes into the new folder {target}.")
        if owned and not overwrite:
            raise OutputPathError(f"The output {path} already exists. Choose another folder or allow overwriting.")
    _check_writable_parent(path)
    return FolderOutput(path)


def check_output_files(
    out_dir: str | Path, names: dict[str, str], overwrite: bool, inputs: tuple[str | Path, ...],
    subfolder: str, log: Callable[[str], None],
) -> dict[str, Path]:
    """The named files of a group written into ``out_dir`` (a study's, a transfer's), each checked as a file output."""
    folder = check_output_folder(out_dir, overwrite, inputs, subfolder)
    if folder.note:
        log(folder.note)
    return {key: check_output_path(folder.path / name, overwrite, inputs) for key, name in names.items()}


def mark_folder(folder: str | Path, kind: str) -> None:
    """Leave the marker that tells later runs ``folder`` is Calliper's (for folders filled file by file)."""
    marker = Path(folder) / FOLDER_MARKER
    temporary = marker.with_name(f"{marker.name}.{os.getpid()}.partial")
    temporary.write_text(marker_text(kind), encoding="utf-8")
    os.replace(temporary, marker)
