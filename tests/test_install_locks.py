"""The checked-in locks agree with the pins, hash every line, and leave QGIS's own packages out (no network)."""

from __future__ import annotations

import re

import pytest
from calliper.core.install.host import HOST_PACKAGES, HostChoice
from calliper.core.install.locks import (
    LEFT_OUT,
    LOCKS_DIR,
    PYPI_SOURCE,
    format_lock,
    is_torch_part,
    load_lock,
    lock_tags,
    normalised,
    parse_lock,
)
from calliper.core.install.pins import PYTHONS, python_pins

PLATFORMS = ("linux-x86_64", "windows-amd64", "macos-arm64")
"""Where QGIS users are: every Python QGIS ships must have a lock on each."""
HOST_NAMES = {host.name for host in HOST_PACKAGES}
LOCK_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!]+ \\$")


def every_tag() -> list[str]:
    return [f"3.{python}-{platform}" for python in PYTHONS for platform in PLATFORMS]


def test_every_python_qgis_ships_has_a_lock_on_linux_windows_and_macos_with_torch():
    assert set(every_tag()) <= set(lock_tags())
    for tag in every_tag():
        lock = load_lock((3, int(tag.split("-")[0].split(".")[1])), tag.split("-", 1)[1])
        assert lock.tag == tag and len(lock.packages) > 40 and PYPI_SOURCE in lock.torch, tag


@pytest.mark.parametrize("path", sorted(LOCKS_DIR.glob("*.txt")), ids=lambda path: path.name)
def test_every_line_of_every_lock_is_one_exact_version_with_its_wheels_sha256(path):
    text = path.read_text(encoding="utf-8")
    entries = parse_lock(text)
    assert entries and all(entry.hashes and entry.version for entry in entries.values())
    specs = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(specs) == len(entries) and all(LOCK_LINE.match(line) for line in specs)  # each name once, pinned
    hashes = [line.strip() for line in text.splitlines() if line.startswith(" ")]
    assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}( \\)?", line) for line in hashes)
    assert format_lock(list(entries.values()), "\n".join(
        line[2:] for line in text.splitlines() if line.startswith("#"))) == text  # made by the lock maker, unedited


@pytest.mark.parametrize("tag", lock_tags())
def test_each_lock_holds_the_pins_of_its_python_and_not_qgiss_numpy_pyproj_scipy_nor_triton(tag):
    python = (3, int(tag.split("-")[0].split(".")[1]))
    lock = load_lock(python, tag.split("-", 1)[1])
    for pin in python_pins(python):
        if pin.name == "torch":
            for source, part in lock.torch.items():  # PyTorch's index gives the same version with +cpu, +cu126
                assert part["torch"].version.split("+")[0] == pin.version, (tag, source)
        else:
            assert lock.packages[normalised(pin.name)].version == pin.version, (tag, pin)
    assert not (HOST_NAMES | set(LEFT_OUT)) & set(lock.packages)
    assert not any(is_torch_part(name) for name in lock.packages)
    for part in lock.torch.values():
        assert all(is_torch_part(name) for name in part) and not set(LEFT_OUT) & set(part)
    assert {name: entry.version for name, entry in lock.host.items()} == {  # the fallbacks host.py names
        name: HostChoice(package, None, python).fallback for package in HOST_PACKAGES
        if (name := normalised(package.name)) in lock.host}


def test_the_locks_stay_small_for_the_repository():
    assert sum(path.stat().st_size for path in LOCKS_DIR.glob("*.txt")) < 600_000
