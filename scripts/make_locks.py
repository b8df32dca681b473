"""Remake the locks in core/install/locks/ from core/install/requirements.txt, for every Python and platform QGIS runs.

Why uv (``uv pip compile``, from PyPI: ``pip install uv``): it resolves for a Python and
platform other than the one it runs on (``--python-version``, ``--python-platform``),
evaluating ``sys_platform`` and ``platform_machine`` markers for that target, which pip's
``--platform`` does not (pip would give Windows the Linux dependencies). Its PEP 751 output
(pylock.toml) lists, for each distribution, only the wheels that the target can install,
each with its sha256: the locks hash just those, not every wheel of every platform.

For each Python (3.10-3.14) and platform (Linux x86_64, Windows amd64, macOS arm64 and
x86_64) it writes, where the package index has wheels for every pin:
  <tag>.txt              the packages (not torch's build, not QGIS's numpy/pyproj/scipy)
  <tag>-torch-pypi.txt   torch and its own libraries from the package index
  <tag>-torch-<build>.txt  torch from PyTorch's own index (Linux CPU, Windows CUDA), when it answers
  <tag>-host.txt         numpy, pyproj, scipy at core/install/host.py's fallback releases
A target without wheels for every pin is reported and gets no lock (its old files are removed).
Run it with the .venv's Python: python scripts/make_locks.py [--python 3.14] [--platform linux-x86_64]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from calliper.core.install.host import HOST_PACKAGES, HostChoice
from calliper.core.install.locks import (
    LEFT_OUT,
    LOCKS_DIR,
    PYPI_SOURCE,
    LockEntry,
    format_lock,
    is_torch_part,
    lock_tag,
    normalised,
)
from calliper.core.install.pins import PINS_FILE, PYTHONS, python_pins, read_pins
from calliper.core.install.torch_variant import choose_torch_variant

INDEX = "https://pypi.org/simple"
QGIS_LOADS = PINS_FILE.with_name("qgis-loads.txt")
UV_TARGETS = {"linux-x86_64": ("linux", "x86_64-manylinux_2_28"), "windows-amd64": ("win32", "x86_64-pc-windows-msvc"),
              "macos-arm64": ("darwin", "aarch64-apple-darwin"), "macos-x86_64": ("darwin", "x86_64-apple-darwin")}
"""Lock platform -> (sys.platform, uv's --python-platform). Linux: glibc 2.28 and later, as torch's own wheels."""
MACOS = "14.0"
"""The oldest macOS the macOS locks are for: torch 2.13's own wheels need macOS 14."""
HOST_NAMES = {host.name for host in HOST_PACKAGES}


class NoWheels(Exception):
    """uv found no set of wheels for a target."""


def uv_command() -> list[str]:
    if shutil.which("uv"):
        return ["uv"]
    if importlib.util.find_spec("uv"):
        return [sys.executable, "-m", "uv"]
    raise SystemExit("uv is needed: pip install uv")


def compile_lock(requirements: list[str], python: int, target: str, index: str,
                 constraints: list[str] = ()) -> dict[str, LockEntry]:
    """uv's resolution of ``requirements`` (within ``constraints``) for Python 3.``python`` on ``target``: each
    distribution, its wheels' hashes."""
    with tempfile.TemporaryDirectory(prefix="calliper-lock-") as scratch:
        wanted = Path(scratch) / "requirements.in"
        wanted.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        limits = Path(scratch) / "constraints.txt"
        limits.write_text("\n".join(constraints) + "\n", encoding="utf-8")
        out = Path(scratch) / "pylock.toml"
        done = subprocess.run([*uv_command(), "pip", "compile", str(wanted), "-c", str(limits),
                               "--python-version", f"3.{python}",
                               "--python-platform", target, "--only-binary", ":all:", "--index-url", index,
                               "--no-config", "--quiet", "-o", str(out)], capture_output=True, text=True, check=False,
                              env=dict(os.environ, MACOSX_DEPLOYMENT_TARGET=MACOS) if "apple-darwin" in target else None)
        if done.returncode != 0:
            raise NoWheels(" ".join((done.stderr or done.stdout).split())[:400])
        packages = tomllib.loads(out.read_text(encoding="utf-8")).get("packages", [])
    entries = {}
    for package in packages:
        hashes = tuple(sorted(wheel["hashes"]["sha256"] for wheel in package.get("wheels", [])))
        if not hashes:
            raise NoWheels(f"{package['name']} {package['version']} has no wheel for 3.{python} on {target}")
        entries[normalised(package["name"])] = LockEntry(package["name"], package["version"], hashes)
    return entries


def resolve_beside_qgis(requirements: list[str], python: int, target: str, index: str) -> dict[str, LockEntry]:
    """The resolution with what QGIS loads (qgis-loads.txt) at QGIS's versions, then with everything else held and
    only those let rise again: every package then accepts QGIS's loaded copy, and QGIS without one gets the newest."""
    loaded = [pin for pin in read_pins(QGIS_LOADS) if pin.applies((3, python))]
    resolved = compile_lock(requirements, python, target, index, [pin.spec for pin in loaded])
    if not loaded:
        return resolved
    names = {normalised(pin.name) for pin in loaded}
    return compile_lock(requirements, python, target, index,
                        [entry.spec for name, entry in resolved.items() if name not in names])


def header(what: str, python: int, platform: str, index: str) -> str:
    uv = subprocess.run([*uv_command(), "--version"], capture_output=True, text=True, check=False).stdout.split("(")[0].strip()
    return (f"{what} for Python 3.{python} on {platform}: every distribution pinned, with the sha256 of each\n"
            f"of its wheels that this Python and platform can install. From {index}.\n"
            f"Made by scripts/make_locks.py ({uv} pip compile) from core/install/requirements.txt: do not edit.")


def write(path: Path, entries: dict[str, LockEntry], text_header: str) -> None:
    path.write_text(format_lock(list(entries.values()), text_header), encoding="utf-8")


def make_target(python: int, platform: str, index: str, folder: Path) -> str:
    """Write the locks of one Python and platform; returns a line saying what was written or why not."""
    system, target = UV_TARGETS[platform]
    tag = lock_tag((3, python), platform)
    pins = python_pins((3, python))
    try:
        resolved = resolve_beside_qgis([pin.spec for pin in pins], python, target, index)
    except NoWheels as why:
        for stale in folder.glob(f"{tag}*.txt"):
            stale.unlink()
        return f"{tag}: no lock, {why}"
    packages = {name: entry for name, entry in resolved.items()
                if not is_torch_part(name) and name not in LEFT_OUT and name not in HOST_NAMES}
    torch = {name: entry for name, entry in resolved.items() if is_torch_part(name) and name not in LEFT_OUT}
    write(folder / f"{tag}.txt", packages, header("The packages", python, platform, index))
    write(folder / f"{tag}-torch-{PYPI_SOURCE}.txt", torch, header("torch from the package index", python, platform, index))
    said = [f"{tag}: {len(packages)} packages, torch from the package index ({len(torch)})"]
    torch_pin = next(pin for pin in pins if pin.name == "torch")
    for build in ("cpu", "cuda") if system != "darwin" else ():
        variant = choose_torch_variant(torch_pin.version, build, system)
        if variant.index_url is None:
            continue
        try:
            own = compile_lock([variant.spec], python, target, variant.index_url)
        except NoWheels as why:
            said.append(f"torch {build}: {variant.index_url} gave no lock, the old one is kept ({why})")
            continue
        part = {name: entry for name, entry in own.items() if is_torch_part(name) and name not in LEFT_OUT}
        write(folder / f"{tag}-torch-{variant.source}.txt", part,
              header(f"torch's {build.upper()} build from PyTorch's index", python, platform, variant.index_url))
        said.append(f"torch {build} from {variant.index_url} ({len(part)})")
    host = {}
    for package in HOST_PACKAGES:
        fallback = HostChoice(package, None, (3, python)).fallback
        try:
            host |= {name: entry for name, entry in compile_lock([f"{package.name}=={fallback}"], python, target,
                                                                  index).items() if name == package.name}
        except NoWheels:
            said.append(f"no {package.name} {fallback} for QGIS without one")
    write(folder / f"{tag}-host.txt", host, header("QGIS's numpy, pyproj, scipy, where it has none,", python, platform, index))
    return "; ".join(said)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="3.X (default: all of 3.10-3.14)")
    parser.add_argument("--platform", action="append", choices=sorted(UV_TARGETS), help="default: all")
    parser.add_argument("--index-url", default=INDEX)
    parser.add_argument("--out", type=Path, default=LOCKS_DIR)
    args = parser.parse_args()
    pythons = [int(python.split(".")[1]) for python in args.python] if args.python else list(PYTHONS)
    platforms = args.platform or list(UV_TARGETS)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"Locking {PINS_FILE.name} for Python {', '.join(f'3.{p}' for p in pythons)} on {', '.join(platforms)}")
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(make_target, python, platform, args.index_url, args.out)
                for python in pythons for platform in platforms]
        for job in jobs:
            print(job.result())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
