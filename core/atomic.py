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
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from .errors import OutputPathError, disk_full
from .locks import process_alive


def check_output_path(path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Refuse outputs that would overwrite an input, an existing file (unless asked), or an unwritable place."""
    path = Path(path).expanduser().absolute()
    for item in inputs:
        if item and Path(item).expanduser().absolute() == path:
            raise OutputPathError(f"The output {path} is also an input. Choose another output path.")
    if path.exists() and not overwrite:
        raise OutputPathError(f"The output {path} already exists. Choose another path or allow overwriting.")
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
    return path


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


def _replace(temporary: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
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


def _move_committed(staging: Path) -> None:
    """Move a committed group's files (those not moved yet) to their targets, then drop the staging folder."""
    targets = json.loads((staging / COMMIT_MARKER).read_text(encoding="utf-8"))
    for name, target in targets.items():
        if (staging / name).exists():
            os.replace(staging / name, target)
    shutil.rmtree(staging, ignore_errors=True)


def finish_interrupted_groups(folder: Path) -> None:
    """Finish the groups a killed run had committed, and remove those it had not (call it holding the output lock)."""
    for staging in Path(folder).glob(f"{GROUP_PREFIX}*{GROUP_SUFFIX}"):
        if (staging / COMMIT_MARKER).is_file():
            _move_committed(staging)
        else:
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def atomic_group(targets: Mapping[str, Path]) -> Iterator[dict[str, Path]]:
    """Temporary paths for several files of one folder; all take their targets' names once the block completes.

    The files are fsynced and a commit marker is written before the first rename, so a
    run killed among the renames is finished by ``finish_interrupted_groups`` at the next
    run (roll forward): the set is the old one or the whole new one, never a mix for
    longer than the renames take.
    """
    folder = Path(next(iter(targets.values()))).parent
    folder.mkdir(parents=True, exist_ok=True)
    finish_interrupted_groups(folder)
    staging = Path(tempfile.mkdtemp(prefix=GROUP_PREFIX, suffix=GROUP_SUFFIX, dir=folder))
    try:
        yield {key: staging / Path(path).name for key, path in targets.items()}
        for path in targets.values():
            _fsync(staging / Path(path).name)
        marker = staging / COMMIT_MARKER
        marker.write_text(json.dumps({Path(p).name: str(p) for p in targets.values()}), encoding="utf-8")
        _fsync(marker)
        _move_committed(staging)
    except BaseException as error:
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
        temporary = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=target.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=f".partial{target.suffix}", dir=target.parent)
        os.close(handle)
        temporary = Path(name)
        temporary.unlink()
    try:
        yield temporary
        _replace(temporary, target)
    except BaseException as error:
        _remove(temporary)
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
