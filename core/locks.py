"""One run per output: a lock file beside the output names the run writing it, and a second run is refused.

The lock (``.NAME.lock``, created with O_EXCL so two runs cannot both get it) holds the
writer's pid, host, start time and command. A lock whose process is gone from this
host is stale and taken over; one held by a live process, this one included (two dock
tasks on the same output), refuses the second run with the first one named. Locks of
another host are trusted: its processes cannot be checked from here.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .errors import OutputPathError

HOST = socket.gethostname()


def lock_path(target: str | Path) -> Path:
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process (or Windows' answer for a live one)
    return True


def _read(lock: Path) -> dict | None:
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # written half by a run killed at that instant: stale
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _holder_text(holder: dict) -> str:
    return (f"pid {holder['pid']} on {holder.get('host', '?')}, started {holder.get('started', '?')}"
            + (f": {holder['command']}" if holder.get("command") else ""))


@contextmanager
def output_lock(target: str | Path, what: str = "the output") -> Iterator[Path]:
    """Hold the lock of ``target`` for the block; a live other holder raises ``OutputPathError`` naming it."""
    lock = lock_path(target)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "thread": threading.get_ident(), "host": HOST,
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": " ".join(sys.argv)[:300]}
    for _ in range(3):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(lock)
            if holder is not None and (holder.get("host") != HOST or process_alive(holder["pid"])):
                raise OutputPathError(
                    f"{Path(target)} is being written by another run ({_holder_text(holder)}). Wait for it to "
                    f"finish or cancel it, or choose another output. If no such run exists, delete {lock}."
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(me, stream)
        break
    else:
        raise OutputPathError(f"Could not take the lock {lock} for {what}; another run keeps replacing it.")
    try:
        yield Path(target)
    finally:
        if (_read(lock) or {}).get("thread") == me["thread"] and (_read(lock) or {}).get("pid") == me["pid"]:
            lock.unlink(missing_ok=True)
