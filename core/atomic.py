"""Atomic outputs: write next to the target under a temporary name, rename when complete.

A cancelled or failed job therefore never leaves a partial file, and an existing
output is only replaced once the new one is whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputPathError, disk_full


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


def _replace(temporary: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
        os.replace(temporary, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(temporary, target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
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
