"""Check on the package index that every pin, and every release in the fallback tables, has a wheel where we say.

For each Python QGIS ships (3.10 to 3.13) and each package, pip lists the versions it
could install as a wheel (``--only-binary :all: --python-version``; nothing is
downloaded). Prints one line per package and Python, and exits 1 if a pin the
installer would use for that Python has no wheel there, or a table claims a wheel that
is missing. Run it with the .venv's Python; it uses pip's configuration as it is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from calliper.core.install.host import HOST_PACKAGES
from calliper.core.install.pins import OTHER_RELEASES, PYTHONS, Release, pins_for_python, read_pins


def wheel_versions(name: str, python: int, scratch: str) -> set[str]:
    """The versions of ``name`` pip finds as wheels for Python 3.``python`` (asking for one that does not exist)."""
    env = dict(os.environ, PIP_CONSTRAINT=" ")  # a machine-wide constraints file would hide the list
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--only-binary",
         ":all:", "--python-version", f"3.{python}", "--target", scratch, f"{name}==0.0.0.dev0"],
        capture_output=True, text=True, env=env, check=False)
    found = re.search(r"from versions: ([^)]*)\)", done.stdout + done.stderr)
    return set() if not found or found.group(1) == "none" else set(found.group(1).split(", "))


def claims() -> list[tuple[str, str, tuple[int, ...]]]:
    """(package, version, Pythons it must have a wheel for) for the pins and every table entry."""
    wanted = []
    for python in PYTHONS:
        wanted += [(pin.name, pin.version, (python,)) for pin in pins_for_python(read_pins(), (3, python)).pins]
    tables = [(name, releases) for name, releases in OTHER_RELEASES.items()]
    tables += [(host.name, host.releases) for host in HOST_PACKAGES]
    for name, releases in tables:
        for release in releases:
            wanted.append((name, release.version, tuple(p for p in PYTHONS if release.has_wheel((3, p)))))
    return wanted


def main() -> int:
    wanted = claims()
    names = sorted({name for name, _, _ in wanted})
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {(name, python): pool.submit(wheel_versions, name, python, scratch) for name in names for python in PYTHONS}
        found = {key: job.result() for key, job in jobs.items()}
    missing = sorted({(name, version, python) for name, version, pythons in wanted for python in pythons
                      if version not in found[name, python]})
    for name in names:
        cells = []
        for python in PYTHONS:
            versions = sorted({v for n, v, ps in wanted if n == name and python in ps}, )
            cells.append(f"3.{python}: " + ",".join(v + ("" if v in found[name, python] else " MISSING") for v in versions))
        print(f"{name:24s} " + "; ".join(cells))
    for name, version, python in missing:
        print(f"no wheel of {name} {version} for Python 3.{python}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
