"""The documentation pages shipped with the plugin, as the URLs QGIS opens for Help.

The site is built from docs/ (scripts/docs.py) into help/ beside the plugin's code; the plugin ZIP
carries it, so help works offline and always matches the installed version.
"""

from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import QUrl

HELP_DIR = Path(__file__).resolve().parent.parent / "help"
PROCESSING_FOLDER = "reference/processing"
GETTING_STARTED = "getting-started.html"


def processing_page(algorithm_id: str) -> str:
    """The built page of a Processing algorithm, relative to the site."""
    return f"{PROCESSING_FOLDER}/{algorithm_id}.html"


def page_url(page: str) -> str:
    """A file URL of a built page; empty when this copy of the plugin has no built documentation."""
    path = HELP_DIR / page
    return QUrl.fromLocalFile(str(path)).toString() if path.is_file() else ""
