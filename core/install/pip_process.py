"""Running pip in a child process: its log line by line, Cancel that kills it, failures told apart.

pip runs as ``<QGIS's Python> -I -m pip`` so that wheels match that interpreter; nothing
of QGIS's process is shared with it, and killing it leaves QGIS untouched. Isolated mode
and a private working folder keep a ``pip/`` folder or a module named like the standard
library in QGIS's working folder (often the user's project folder) from being imported.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from ..errors import CancelledError, DiskFullError, InstallError, RegistryUnreachableError, TamperedDownloadError
from ..jobs import JobControl

NETWORK_SIGNS = (
    "Failed to establish a new connection", "Name or service not known", "Temporary failure in name resolution",
    "Connection refused", "Network is unreachable", "Read timed out", "ConnectTimeoutError", "Could not fetch URL",
    "getaddrinfo failed", "No route to host",
)
HASH_SIGN = "DO NOT MATCH THE HASHES"
MISMATCHED = re.compile(r"^\s+([^=\s]+)===?(\S+) from ")
"""pip's line naming a requirement whose file has another hash: ``    torch==2.13.0 from https://...:``."""
DISK_SIGNS = ("No space left on device", "[Errno 28]", "File too large", "[Errno 27]", "Disk quota exceeded")
LOG_TAIL = 40


@dataclass
class PipRun:
    """What one pip command printed."""

    command: list[str]
    lines: list[str]

    @property
    def tail(self) -> str:
        return "\n".join(self.lines[-LOG_TAIL:])


def pip_environment(overrides: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment pip runs in: no PYTHONPATH (it sees QGIS's Python as it is), no prompts; an override of None
    removes that variable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_USER", "PIP_TARGET")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1", **(overrides or {}))
    return {k: v for k, v in env.items() if v is not None}


def failure(run: PipRun, returncode: int, what: str) -> InstallError:
    """The error a user reads for a failed pip run, with pip's last lines behind 'More info'."""
    text = "\n".join(run.lines)
    if HASH_SIGN in text:
        found = [MISMATCHED.match(line) for line in run.lines]
        named = ", ".join(f"{match[1]} {match[2]}" for match in found if match) or "a package"
        return TamperedDownloadError(
            f"{what} stopped: the file downloaded for {named} does not match the sha256 hash in Calliper's lock, so it "
            "is not the file Calliper was made with (a new upload under the same version, or a mirror or proxy that "
            "changed it). Nothing was installed; the installed packages are as they were.", run.tail)
    if any(sign in text for sign in DISK_SIGNS):
        return DiskFullError(
            f"{what} stopped: the disk is full (or a file-size limit was reached). Free some space "
            "(torch alone needs about 1 GB) and click Install again. Nothing half-installed was kept.", run.tail)
    if any(sign in text for sign in NETWORK_SIGNS):
        return RegistryUnreachableError(
            f"{what} failed: the package index could not be reached. Check the internet connection (or the proxy "
            "set in pip's configuration) and click Install again.", run.tail)
    missing = [line.split("No matching distribution found for", 1)[1].strip().replace("===", "==")
               for line in run.lines if "No matching distribution found for" in line]
    if missing:
        hint = " The CPU build of torch comes from download.pytorch.org; if that site is blocked, choose CUDA." \
            if missing[0].startswith("torch") and "+cpu" in missing[0] else ""
        return InstallError(f"{what} failed: the package index has no {missing[0]} for this Python.{hint}", run.tail)
    errors = [line for line in run.lines if line.startswith("ERROR:")]
    last = errors[-1] if errors else (run.lines[-1] if run.lines else "no output")
    return InstallError(f"{what} failed (pip exit code {returncode}): {last}", run.tail)


def isolated(command: list[str]) -> list[str]:
    """``python -m pip ...`` in isolated mode (``-I``): no working folder, user site or PYTHON* variables on its path."""
    if command[1:3] == ["-m", "pip"]:
        return [command[0], "-I", *command[1:]]
    return command


def run_pip(command: list[str], control: JobControl, what: str, env: dict[str, str] | None = None,
            on_line=None) -> PipRun:
    """Run a pip command to the end, logging each line; Cancel kills it; a failure raises our error."""
    with tempfile.TemporaryDirectory(prefix="calliper-pip-") as private:
        return _run_pip_in(isolated(command), control, what, env, on_line, private)


def _run_pip_in(command: list[str], control: JobControl, what: str, env: dict[str, str] | None, on_line,
                folder: str) -> PipRun:
    run = PipRun(command, [])
    popen_options = {"start_new_session": True} if os.name != "nt" else {
        "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   text=True, encoding="utf-8", errors="replace", env=pip_environment(env),
                                   cwd=folder, **popen_options)
    except OSError as exc:
        raise InstallError(f"{what} could not start {command[0]}: {exc}.") from exc
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    while True:
        if control.is_cancelled():
            _kill(process)
            reader.join(timeout=5)
            raise CancelledError(what)
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        line = line.rstrip()
        if line:
            run.lines.append(line)
            control.log(line)
            if on_line is not None:
                on_line(line)
    returncode = process.wait()
    if returncode != 0:
        raise failure(run, returncode, what)
    return run


def _read_lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def _kill(process: subprocess.Popen) -> None:
    """Stop pip and any child it started (a build backend, say)."""
    try:
        if os.name == "nt":
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
