"""Atomic outputs: write next to the target under a temporary name, rename when complete.

A cancelled or failed job therefore never leaves a partial file, and an existing
output is only replaced once the new one is whole. Outputs that belong together (a
study's predictions, metrics and report) are staged as a group and committed with a
marker, so a kill during their renames is finished by the next run, never left mixed.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

from .errors import OutputPathError, disk_full
from .locks import process_alive
from .outputs import FOLDER_MARKER, marker_text, read_small_json, written_by_calliper


GROUP_PREFIX, GROUP_SUFFIX = ".calliper-", ".partial"
COMMIT_MARKER = "COMMITTED.json"


def _backups(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.old-*"))


def _recover_folder(target: Path) -> None:
    """Put back a folder output whose replacement was killed between its two renames; drop stale backups."""
    for backup in _backups(target):
        if target.exists():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(backup, target)


def _replace(temporary: Path, target: Path, directory: bool) -> None:
    """Put ``temporary`` in ``target``'s place; a folder is replaced only when it is empty or Calliper's."""
    if target.is_dir() and not target.is_symlink():
        if not directory:
            raise OutputPathError(f"The output {target} is a folder; a file cannot replace it.")
        if any(target.iterdir()) and not written_by_calliper(target):
            raise OutputPathError(f"The folder {target} holds files Calliper did not write; it is left as it is.")
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
        os.replace(temporary, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(temporary, target)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _group_token(staging: Path) -> str:
    return staging.name[len(GROUP_PREFIX):-len(GROUP_SUFFIX)]


def _committed_names(staging: Path) -> list[str] | None:
    """The file names a group's marker commits, or None when the marker is not one this code wrote.

    A marker must carry its staging folder's own random token and only bare file names, so
    a planted or corrupted one can never move a file out of its folder.
    """
    try:
        marker = read_small_json(staging / COMMIT_MARKER)
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("token") != _group_token(staging):
        return None
    names = marker.get("files")
    if not isinstance(names, list) or not all(isinstance(n, str) and _bare_name(n) for n in names):
        return None
    return names


def _bare_name(name: str) -> bool:
    """A file name with no folder part on any system: no separator, drive, '.' or '..'."""
    return name not in ("", ".", "..", COMMIT_MARKER) and not any(c in name for c in "/\\:")


def _move_committed(staging: Path, names: list[str]) -> None:
    """Move a committed group's files (those not moved yet) beside its staging folder, then drop that folder."""
    for name in names:
        if (staging / name).exists():
            os.replace(staging / name, staging.parent / name)
    shutil.rmtree(staging, ignore_errors=True)


def finish_interrupted_groups(folder: Path) -> list[str]:
    """Finish the groups a killed run had committed, and remove those it had not (call it holding the output lock).

    Returns what was left alone: staging folders whose marker this code did not write.
    """
    left_alone = []
    for staging in Path(folder).glob(f"{GROUP_PREFIX}*{GROUP_SUFFIX}"):
        if not staging.is_dir() or staging.is_symlink():
            continue
        if not (staging / COMMIT_MARKER).exists():
            shutil.rmtree(staging, ignore_errors=True)
            continue
        names = _committed_names(staging)
        if names is None:
            left_alone.append(f"{staging} holds a commit marker Calliper did not write; it was left as it is.")
        else:
            _move_committed(staging, names)
    return left_alone


@contextmanager
def atomic_group(
    targets: Mapping[str, Path], report: Callable[[str], None], marker: str = "",
) -> Iterator[dict[str, Path]]:
    """Temporary paths for several files of one folder; all take their targets' names once the block completes.

    The files are fsynced and a commit marker is written before the first rename, so a
    run killed among the renames is finished by ``finish_interrupted_groups`` at the next
    run (roll forward): the set is the old one or the whole new one, never a mix for
    longer than the renames take. ``marker`` (the outputs' kind) adds the marker that
    tells later runs the folder is Calliper's; ``report`` hears of staging folders left alone.
    """
    folder = Path(next(iter(targets.values()))).parent
    folder.mkdir(parents=True, exist_ok=True)
    if any(Path(p).parent != folder for p in targets.values()):
        raise ValueError("A group's files must all go into one folder.")
    for note in finish_interrupted_groups(folder):
        report(note)
    staging = _new_folder(folder, GROUP_PREFIX, GROUP_SUFFIX)
    names = [Path(p).name for p in targets.values()] + ([FOLDER_MARKER] if marker else [])
    try:
        yield {key: staging / Path(path).name for key, path in targets.items()}
        if marker:
            (staging / FOLDER_MARKER).write_text(marker_text(marker), encoding="utf-8")
        for name in names:
            _fsync(staging / name)
        commit = staging / COMMIT_MARKER
        commit.write_text(json.dumps({"token": _group_token(staging), "files": names}), encoding="utf-8")
        _fsync(commit)
        _move_committed(staging, names)
    except BaseException as error:
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _new_folder(parent: Path, prefix: str, suffix: str) -> Path:
    """A new folder with a random name and the user's usual permissions (``mkdtemp`` would make it private)."""
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _temporary_prefix(target: Path, directory: bool) -> str:
    return f".{target.name if directory else target.stem}."


def _remove_dead_runs_temporaries(target: Path, directory: bool) -> None:
    """Remove the temporaries of ``target`` left by killed runs: each name carries its process id."""
    prefix = _temporary_prefix(target, directory)
    suffix = ".partial" if directory else f".partial{target.suffix}"
    for leftover in target.parent.glob(f"{glob.escape(prefix)}*{suffix}"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            _remove(leftover)


@contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed.

    The temporary's name carries this process's id, so the next write of ``target``
    removes what a killed run left behind (never the temporary of a run still alive).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover_folder(target)
    _remove_dead_runs_temporaries(target, directory)
    prefix = f"{_temporary_prefix(target, directory)}{os.getpid()}-"
    if directory:
        temporary = _new_folder(target.parent, prefix, ".partial")
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=f".partial{target.suffix}", dir=target.parent)
        os.close(handle)
        temporary = Path(name)
        temporary.unlink()
    try:
        yield temporary
        _replace(temporary, target, directory)
    except BaseException as error:
        _remove(temporary)
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
