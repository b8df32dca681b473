"""The locks: every distribution the installer may install, per Python and platform, pinned with its wheels' hashes.

``locks/`` beside this module holds, for each Python and platform (the lock's *tag*,
``3.13-linux-x86_64``), pip requirements files in hash-checking form, made by
``scripts/make_locks.py`` from the pins file:

- ``<tag>.txt``: the packages, from the configured package index;
- ``<tag>-torch-<source>.txt``: torch and its own libraries, one file per place torch
  comes from (``pypi``: the configured index; ``cpu``, ``cu126``: PyTorch's own index);
- ``<tag>-host.txt``: numpy, pyproj and scipy, installed only where QGIS's Python has none.

pip installs each file's lines with ``--require-hashes --no-deps``: nothing that is not in
a lock, and no file whose hash the lock does not name, is ever installed.
"""

from __future__ import annotations

import platform as platform_module
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InstallError
from .pins import this_python

LOCKS_DIR = Path(__file__).with_name("locks")
PLATFORMS = {("linux", "x86_64"): "linux-x86_64", ("linux", "amd64"): "linux-x86_64",
             ("win32", "amd64"): "windows-amd64", ("win32", "x86_64"): "windows-amd64",
             ("darwin", "arm64"): "macos-arm64", ("darwin", "x86_64"): "macos-x86_64"}
"""(sys.platform, platform.machine() in lower case) -> the platform part of a lock's tag."""
PYPI_SOURCE = "pypi"
"""The torch source that is the configured package index (PyPI's torch: CUDA on Linux, CPU elsewhere)."""
LEFT_OUT = ("triton",)
"""Distributions never locked nor installed. triton (torch.compile's GPU compiler; Calliper never compiles) comes with
PyPI's CUDA build of torch on Linux and carries its own LLVM. Mesa's OpenGL driver loads the system's libLLVM into QGIS
(Debian 13 under Xvfb: libLLVM 19), and loading libtriton.so beside it crashes QGIS (SIGSEGV in LLVM's static
initialisers) the first time torch imports triton, which it does when training starts. torch runs without it."""
CUDA_PARTS = ("nvidia-", "cuda-")
"""Distributions that only a CUDA build of torch brings (its CUDA libraries)."""
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def normalised(name: str) -> str:
    """A distribution name as indexes compare it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_torch_part(name: str) -> bool:
    """torch and its own libraries: what one torch build brings, locked and installed apart from the rest."""
    name = normalised(name)
    return name == "torch" or name.startswith(CUDA_PARTS)


@dataclass(frozen=True)
class LockEntry:
    """One locked distribution: its exact version and the sha256 of each wheel of it this lock's platform may get."""

    name: str
    version: str
    hashes: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def line(self) -> str:
        """The entry as a line of a pip requirements file in hash-checking mode. ``===`` (the exact string): ``==2.13.0``
        would also take a ``2.13.0+cpu`` wheel that a wheel folder in pip's configuration offers, whose hash is not
        this one's."""
        return " ".join([f"{self.name}==={self.version}", *(f"--hash=sha256:{digest}" for digest in self.hashes)])


def parse_lock(text: str) -> dict[str, LockEntry]:
    """The entries of a lock file (pip's hash-checking format; ``\\`` continues a line), by normalised name."""
    entries = {}
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec = line.split()[0]
        name, _, version = spec.partition("==")
        entries[normalised(name)] = LockEntry(name, version, tuple(HASH.findall(line)))
    return entries


def format_lock(entries: list[LockEntry], header: str) -> str:
    """A lock file: the header as comments, then one entry per distribution, sorted, one hash a line."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for entry in sorted(entries, key=lambda entry: normalised(entry.name)):
        lines.append(" \\\n".join([entry.spec, *(f"    --hash=sha256:{digest}" for digest in entry.hashes)]))
    return "\n".join(lines) + "\n"


@dataclass
class Lock:
    """The locked distributions for one Python and platform: the packages, torch per source, QGIS's fallbacks."""

    tag: str
    packages: dict[str, LockEntry]
    torch: dict[str, dict[str, LockEntry]] = field(default_factory=dict)
    host: dict[str, LockEntry] = field(default_factory=dict)

    def torch_part(self, source: str) -> dict[str, LockEntry] | None:
        return self.torch.get(source)


def platform_tag(system: str = sys.platform, machine: str | None = None) -> str | None:
    """The platform part of a lock tag for this machine (``linux-x86_64``), None where no lock is made for it."""
    machine = (machine or platform_module.machine()).lower()
    return PLATFORMS.get(("linux" if system.startswith("linux") else system, machine))


def lock_tag(python: tuple[int, int], platform: str) -> str:
    return f"{python[0]}.{python[1]}-{platform}"


def lock_tags(folder: Path = LOCKS_DIR) -> list[str]:
    """The tags that have a lock of the packages, oldest Python first."""
    tags = [path.stem for path in Path(folder).glob("*.txt") if "-torch-" not in path.stem and not path.stem.endswith("-host")]
    return sorted(tags, key=lambda tag: (tuple(int(part) for part in tag.split("-", 1)[0].split(".")), tag))


def load_lock(python: tuple[int, int] | None = None, platform: str | None = None, folder: Path = LOCKS_DIR) -> Lock:
    """The lock for ``python`` on ``platform`` (this machine's by default); an error naming the locks that exist."""
    python = python or this_python()
    platform = platform or platform_tag()
    tag = lock_tag(python, platform) if platform else None
    folder = Path(folder)
    if tag is None or not (folder / f"{tag}.txt").is_file():
        here = f"Python {python[0]}.{python[1]} on {tag.split('-', 1)[1] if tag else _machine()}"
        raise InstallError(
            f"Calliper has no package lock for {here}, so it cannot install its packages here (it installs only "
            f"locked, hash-checked files). Locks exist for: {', '.join(lock_tags(folder)) or 'none'}.")
    torch = {path.stem.rsplit("-torch-", 1)[1]: parse_lock(path.read_text(encoding="utf-8"))
             for path in folder.glob(f"{tag}-torch-*.txt")}
    host = folder / f"{tag}-host.txt"
    return Lock(tag, parse_lock((folder / f"{tag}.txt").read_text(encoding="utf-8")), torch,
                parse_lock(host.read_text(encoding="utf-8")) if host.is_file() else {})


def _machine() -> str:
    return f"{sys.platform} {platform_module.machine()}"
