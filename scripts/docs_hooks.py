"""MkDocs hook: the reference pages are generated from the code at every build, never written by hand.

``scripts/docs_reference.py`` runs in a process of its own (the Processing algorithms need a QGIS
application) and returns the pages; they join the site's files, and the Processing entry of the
navigation is expanded into one page per algorithm, grouped as in the toolbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

GENERATOR = Path(__file__).with_name("docs_reference.py")


def generated_reference() -> dict:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        raise PluginError(f"The reference pages could not be generated:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def expand_nav(nav: list, index: str, section: list) -> list:
    """The navigation with the entry that names ``index`` replaced by ``section`` (under the same title)."""
    expanded = []
    for entry in nav:
        if isinstance(entry, dict):
            (title, value), = entry.items()
            if value == index:
                entry = {title: section}
            elif isinstance(value, list):
                entry = {title: expand_nav(value, index, section)}
        expanded.append(entry)
    return expanded


def on_files(files, config):
    """Runs before the navigation is built from ``config["nav"]``: add the pages, then their entries."""
    reference = generated_reference()
    for path, markdown in reference["pages"].items():
        files.append(File.generated(config, path, content=markdown))
    section = reference["processing_nav"]
    config["nav"] = expand_nav(config["nav"], section[0], section)
    return files
