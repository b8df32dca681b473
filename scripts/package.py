"""Build the plugin ZIP that QGIS installs with "Install from ZIP": the plugin, no tests or caches."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "calliper"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "dist" / f"{PLUGIN_NAME}.zip"))
    out = Path(parser.parse_args().out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in plugin_files():
            archive.write(file, f"{PLUGIN_NAME}/{file.relative_to(ROOT).as_posix()}")
    print(out)


if __name__ == "__main__":
    main()
