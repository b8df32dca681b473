"""Build the plugin ZIP that QGIS installs with "Install from ZIP": the plugin, no tests or caches.

The ZIP is then checked the way the official plugin repository (plugins.qgis.org) checks an
upload (its validator: size, paths, one top folder, metadata, LICENSE), and refused with
the list of problems if it would be refused there.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "calliper"
REPOSITORY_MAX_BYTES = 25_000_000  # the repository's upload limit
REQUIRED_METADATA = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
                     "repository")
URL_METADATA = ("tracker", "repository", "homepage")
FORBIDDEN_FOLDERS = ("__MACOSX", ".git", "__pycache__")
PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-_]+$")
INCLUDE = (
    "metadata.txt", "__init__.py", "plugin.py", "README.md", "LICENSE", "core", "cli", "adapters", "ui", "processing_provider",
    "resources",
)


def plugin_files() -> list[Path]:
    """Files tracked by git (or present, outside git) under the included paths, without caches."""
    files = []
    for item in INCLUDE:
        path = ROOT / item
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        files += [f for f in candidates if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    return files


def repository_problems(path: Path) -> list[str]:
    """Why the plugin repository would refuse this ZIP (its validator's rules, plus Qt6 for QGIS 4); empty if none."""
    if path.stat().st_size > REPOSITORY_MAX_BYTES:
        return [f"{path.stat().st_size / 1e6:.1f} MB, over the repository's {REPOSITORY_MAX_BYTES / 1e6:.0f} MB"]
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        problems = [f"{name}: path information" for name in names if ".." in name or name.startswith("/")]
        problems += [f"{name}: compiled Python" for name in names if ".pyc" in name]
        problems += [f"{name}: a {folder} folder" for name in names for folder in FORBIDDEN_FOLDERS
                     if folder in name.split("/")]
        if archive.testzip():
            problems.append(f"{archive.testzip()}: bad CRC")
        package = names[0].split("/")[0] if names and "/" in names[0] else ""
        if not PACKAGE_NAME.match(package) or {name.split("/")[0] for name in names} != {package}:
            return problems + [f"one top folder named like a Python package expected, found {sorted({n.split('/')[0] for n in names})}"]
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{package}/{required}" not in names:
                problems.append(f"no {package}/{required}")
        if problems:
            return problems
        parser = configparser.ConfigParser()
        parser.optionxform = str
        parser.read_string(archive.read(f"{package}/metadata.txt").decode("utf-8"))
        metadata = dict(parser.items("general")) if parser.has_section("general") else {}
        problems += [f"metadata.txt lacks {field}" for field in REQUIRED_METADATA if not metadata.get(field, "").strip()]
        problems += [f"metadata.txt {field} is not a URL: {metadata[field]}" for field in URL_METADATA
                     if field in metadata and not all(urlparse(metadata[field])[:2])]
        if "/" in metadata.get("author", ""):
            problems.append("metadata.txt author contains a slash")
        if metadata.get("icon") and f"{package}/{metadata['icon'].removeprefix('./')}" not in names:
            problems.append(f"metadata.txt icon {metadata['icon']} is not in the ZIP")
        if metadata.get("supportsQt6", "").lower() not in ("true", "yes", "1"):
            problems.append("metadata.txt does not declare supportsQt6 (QGIS 4 hides the plugin)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "dist" / f"{PLUGIN_NAME}.zip"))
    out = Path(parser.parse_args().out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in plugin_files():
            archive.write(file, f"{PLUGIN_NAME}/{file.relative_to(ROOT).as_posix()}")
    problems = repository_problems(out)
    if problems:
        out.unlink()
        sys.exit("The plugin repository would refuse the ZIP:\n" + "\n".join(problems))
    print(out)


if __name__ == "__main__":
    main()
