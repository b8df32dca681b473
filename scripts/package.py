"""Build the plugin ZIP that QGIS installs with "Install from ZIP": the plugin, no tests or caches.

The ZIP carries the documentation site, built from docs/ with warnings as errors (help/: the
Help buttons open it), and its metadata.txt gets its changelog from CHANGELOG.md. The ZIP is
then checked the way the official plugin repository (plugins.qgis.org) checks an upload (its
validator: size, paths, one top folder, metadata, LICENSE), and refused with the list of
problems if it would be refused there. ``--release`` also refuses what only a publisher can
set: placeholder links and email, and a version without a dated section in CHANGELOG.md.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import tempfile
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
    "metadata.txt", "__init__.py", "plugin.py", "README.md", "CHANGELOG.md", "LICENSE", "core", "cli", "adapters", "ui",
    "processing_provider", "resources",
)
HELP_FOLDER = "help"  # adapters/help_pages.py opens the pages there
# Reserved for examples (RFC 2606): what metadata.txt holds until the publisher sets the real pages.
PLACEHOLDER_HOSTS = re.compile(r"(^|\.)(example\.(org|com|net)|invalid|example|test|localhost)$")
PUBLISHER_METADATA = ("email", "homepage", "tracker", "repository")
CHANGELOG = ROOT / "CHANGELOG.md"
VERSION_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")


def plugin_files() -> list[Path]:
    """Files tracked by git (or present, outside git) under the included paths, without caches."""
    files = []
    for item in INCLUDE:
        path = ROOT / item
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        files += [f for f in candidates if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    return files


def changelog_text(markdown: str) -> str:
    """CHANGELOG.md's versions as the plain lines the plugin manager shows (newest first)."""
    lines, started = [], False
    for line in markdown.splitlines():
        heading = VERSION_HEADING.match(line)
        started = started or bool(heading)
        if not started or not line.strip():
            continue
        if heading:
            lines.append(heading["version"] + (f" ({heading['date']})" if heading["date"] else ""))
        elif line.startswith("### "):
            lines.append(line[4:] + ":")
        elif line.startswith("- "):
            lines.append(line)
        elif lines and line.startswith("  "):
            lines[-1] += " " + line.strip()  # a bullet's wrapped line
    return "\n".join(lines)


def packaged_metadata(metadata: str, markdown: str) -> str:
    """metadata.txt with its changelog from CHANGELOG.md (one indented line per entry, as configparser reads it)."""
    changelog = "changelog=" + "".join(f"\n    {line}" for line in changelog_text(markdown).splitlines())
    return re.sub(r"^changelog=.*(?:\n[ \t]+.*)*", lambda _: changelog, metadata, count=1, flags=re.M)


def release_problems(metadata: dict[str, str], markdown: str) -> list[str]:
    """What the publisher must still set before an upload; empty if nothing."""
    problems = []
    for field in PUBLISHER_METADATA:
        value = metadata.get(field, "").strip()
        host = value.rsplit("@", 1)[-1] if field == "email" else (urlparse(value).hostname or "")
        if not value or PLACEHOLDER_HOSTS.search(host.lower()):
            problems.append(f"metadata.txt {field} is a placeholder ({value or 'empty'}): set the project's own")
    dated = {m["version"]: m["date"] for m in map(VERSION_HEADING.match, markdown.splitlines()) if m}
    version = metadata.get("version", "")
    if not dated.get(version):
        problems.append(f"CHANGELOG.md has no dated section for version {version} ('## [{version}] - YYYY-MM-DD')")
    return problems


def read_metadata(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser.items("general")) if parser.has_section("general") else {}


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
        metadata = read_metadata(archive.read(f"{package}/metadata.txt").decode("utf-8"))
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


def build_docs(site: Path) -> None:
    """The documentation site, built with warnings as errors (scripts/docs.py)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from docs import build_site

    build_site(site)


def write_zip(out: Path, site: Path, metadata: str) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in plugin_files():
            name = f"{PLUGIN_NAME}/{file.relative_to(ROOT).as_posix()}"
            if file == ROOT / "metadata.txt":
                archive.writestr(name, metadata)
            else:
                archive.write(file, name)
        for file in sorted(p for p in site.rglob("*") if p.is_file()):
            archive.write(file, f"{PLUGIN_NAME}/{HELP_FOLDER}/{file.relative_to(site).as_posix()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "dist" / f"{PLUGIN_NAME}.zip"))
    parser.add_argument("--release", action="store_true",
                        help="also refuse placeholder links and email, and a version without a dated changelog section")
    args = parser.parse_args()
    out = Path(args.out)
    markdown = CHANGELOG.read_text(encoding="utf-8")
    metadata = packaged_metadata((ROOT / "metadata.txt").read_text(encoding="utf-8"), markdown)
    if args.release:
        problems = release_problems(read_metadata(metadata), markdown)
        if problems:
            sys.exit("Not ready for a release:\n" + "\n".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calliper-help-") as site:
        build_docs(Path(site))
        write_zip(out, Path(site), metadata)
    problems = repository_problems(out)
    if problems:
        out.unlink()
        sys.exit("The plugin repository would refuse the ZIP:\n" + "\n".join(problems))
    print(out)


if __name__ == "__main__":
    main()
