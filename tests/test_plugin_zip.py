"""The plugin ZIP as the official plugin repository checks an upload: LICENSE, metadata, paths, size, Qt6."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METADATA = """[general]
name=Calliper
qgisMinimumVersion=3.22
description=d
about=a
version=0.1.0
author=A
email=a@example.org
tracker=https://example.org/issues
repository=https://example.org/repo
icon=icon.svg
supportsQt6=True
"""


def package_script():
    spec = importlib.util.spec_from_file_location("package", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_the_plugin_zip_passes_the_repository_checks_and_carries_the_gpl(tmp_path):
    out = tmp_path / "calliper.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)], check=True)
    assert package_script().repository_problems(out) == []
    with zipfile.ZipFile(out) as archive:
        licence = archive.read("calliper/LICENSE").decode()
        names = set(archive.namelist())
    # the documentation its Help buttons open (adapters/help_pages.py)
    assert {"calliper/help/getting-started.html", "calliper/help/reference/processing/train.html"} <= names
    assert licence == (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 2, June 1991" in licence
    assert "any later version" in licence  # the "or later" the plugin is offered under (pyproject: GPL-2.0-or-later)


def test_a_well_formed_zip_passes_and_each_refusal_is_named(tmp_path):
    check = package_script().repository_problems
    good = {"calliper/__init__.py": "", "calliper/metadata.txt": METADATA, "calliper/LICENSE": "GPL", "calliper/icon.svg": ""}
    assert check(write_zip(tmp_path / "good.zip", good)) == []

    cached = {**{k: v for k, v in good.items() if not k.endswith("LICENSE")}, "calliper/__pycache__/plugin.cpython-311.pyc": ""}
    assert check(write_zip(tmp_path / "cached.zip", cached)) == [
        "calliper/__pycache__/plugin.cpython-311.pyc: compiled Python",
        "calliper/__pycache__/plugin.cpython-311.pyc: a __pycache__ folder",
        "no calliper/LICENSE",
    ]
    assert check(write_zip(tmp_path / "two.zip", {**good, "other/x.py": ""}))[0].startswith("one top folder")
    assert check(write_zip(tmp_path / "dash.zip", {k.replace("calliper", "1calliper"): v for k, v in good.items()}))

    metadata = METADATA.replace("email=a@example.org\n", "").replace("https://example.org/issues", "bugs")
    metadata = metadata.replace("supportsQt6=True\n", "").replace("author=A", "author=A/B")
    assert check(write_zip(tmp_path / "meta.zip", {**good, "calliper/metadata.txt": metadata})) == [
        "metadata.txt lacks email",
        "metadata.txt tracker is not a URL: bugs",
        "metadata.txt author contains a slash",
        "metadata.txt does not declare supportsQt6 (QGIS 4 hides the plugin)",
    ]


def test_a_zip_over_the_upload_limit_is_refused(tmp_path):
    big = tmp_path / "big.zip"
    big.write_bytes(b"\0" * 25_000_001)
    assert package_script().repository_problems(big) == ["25.0 MB, over the repository's 25 MB"]
