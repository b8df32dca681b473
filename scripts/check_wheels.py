"""Check on the package index that every pin, and every host fallback release, has a wheel for each Python and platform.

For each Python QGIS ships (3.10 to 3.14) and each platform of the locks (Linux x86_64,
Windows amd64, macOS arm64 and x86_64) pip lists the versions of each package it could
install there as a wheel (``--only-binary :all: --python-version --platform``; nothing is
downloaded). Prints one line per package and platform, then which Pythons and platforms
can be locked, and whether the locks in core/install/locks/ are there for them. Exits 1
if a pin has no wheel for a Python on Linux, Windows or macOS arm64 (the platforms every
Python must have a lock for; macOS x86_64 is reported only), or a lock is missing where
everything has wheels (run scripts/make_locks.py). Adding a Python to ``PYTHONS`` and
running this names what lacks a wheel for it before any user meets it. Run it with the
.venv's Python; it uses pip's configuration as it is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from calliper.core.install.host import HOST_PACKAGES
from calliper.core.install.locks import lock_tag, lock_tags
from calliper.core.install.pins import PYTHONS, python_pins

PIP_PLATFORMS = {
    "linux-x86_64": [f"manylinux_2_{glibc}_x86_64" for glibc in range(28, 16, -1)]
    + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
    "windows-amd64": ["win_amd64"],
    "macos-arm64": ["macosx_14_0_arm64"],  # pip adds the older macOS versions and universal2
    "macos-x86_64": ["macosx_14_0_x86_64"],
}
"""pip's --platform tags of each lock platform (the oldest systems the locks are for: glibc 2.28, macOS 14)."""
REQUIRED = ("linux-x86_64", "windows-amd64", "macos-arm64")


def wheel_versions(name: str, python: int, platform: str, scratch: str) -> set[str]:
    """The versions of ``name`` pip finds as wheels for Python 3.``python`` on ``platform`` (asking for one that does
    not exist)."""
    env = dict(os.environ, PIP_CONSTRAINT=" ")  # a machine-wide constraints file would hide the list
    tags = [option for tag in PIP_PLATFORMS[platform] for option in ("--platform", tag)]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--only-binary",
         ":all:", "--python-version", f"3.{python}", *tags, "--target", scratch, f"{name}==0.0.0.dev0"],
        capture_output=True, text=True, env=env, check=False)
    found = re.search(r"from versions: ([^)]*)\)", done.stdout + done.stderr)
    return set() if not found or found.group(1) == "none" else set(found.group(1).split(", "))


def claims() -> list[tuple[str, str, int]]:
    """(package, version, Python) for every pin of every Python and every host fallback release the table names."""
    wanted = [(pin.name, pin.version, python) for python in PYTHONS for pin in python_pins((3, python))]
    for host in HOST_PACKAGES:
        wanted += [(host.name, release.version, python) for release in host.releases for python in PYTHONS
                   if release.has_wheel((3, python))]
    return wanted


def main() -> int:
    wanted = claims()
    names = sorted({name for name, _, _ in wanted})
    hosts = {host.name for host in HOST_PACKAGES}
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {(name, python, platform): pool.submit(wheel_versions, name, python, platform, scratch)
                for name in names for python in PYTHONS for platform in PIP_PLATFORMS}
        found = {key: job.result() for key, job in jobs.items()}
    missing = sorted({(name, version, python, platform) for name, version, python in wanted for platform in PIP_PLATFORMS
                      if version not in found[name, python, platform]})
    for name in names:
        for platform in PIP_PLATFORMS:
            cells = []
            for python in PYTHONS:
                versions = sorted({v for n, v, p in wanted if n == name and p == python})
                cells.append(f"3.{python}: " + ",".join(
                    v + ("" if v in found[name, python, platform] else " MISSING") for v in versions))
            print(f"{name:22s} {platform:14s} " + "; ".join(cells))
    failed = False
    for name, version, python, platform in missing:
        required = platform in REQUIRED and name not in hosts  # QGIS brings its own numpy, pyproj, scipy
        failed |= required
        print(f"{'no' if required else 'note: no'} wheel of {name} {version} for Python 3.{python} on {platform}",
              file=sys.stderr)
    locked = set(lock_tags())
    for python in PYTHONS:
        for platform in PIP_PLATFORMS:
            tag = lock_tag((3, python), platform)
            lockable = not any(p == python and pl == platform and n not in hosts for n, _, p, pl in missing)
            state = "locked" if tag in locked else "NO LOCK: run scripts/make_locks.py" if lockable else "no lock"
            print(f"{tag:22s} {'all pins have wheels' if lockable else 'some pins lack a wheel'}; {state}")
            failed |= lockable and tag not in locked and platform in REQUIRED
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
