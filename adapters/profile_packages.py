"""The plugin's dependency folder in the running QGIS profile, put on sys.path before anything needs it."""

from __future__ import annotations

import configparser
from pathlib import Path

from qgis.core import QgsApplication

from ..core.install.folder import activate, dependency_folder, remove_leftovers

PLUGIN_DIR = Path(__file__).resolve().parent.parent


def profile_dependency_folder() -> Path:
    """``<this QGIS profile>/python/dependencies/calliper``."""
    return dependency_folder(QgsApplication.qgisSettingsDirPath())


def plugin_version() -> str:
    parser = configparser.ConfigParser()
    parser.read(PLUGIN_DIR / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="")


def activate_profile_packages() -> Path:
    """Clear what a killed install left, then put the profile's package folder first on sys.path (if installed)."""
    folder = profile_dependency_folder()
    remove_leftovers(folder.parent)
    activate(folder)
    return folder
