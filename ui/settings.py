"""Remembered settings (QgsSettings) and the models a project uses (stored in the project)."""

from __future__ import annotations

from qgis.core import QgsProject, QgsSettings

PREFIX = "calliper"
RECENT_MODELS = f"{PREFIX}/recent_models"
MAX_RECENT = 10


def load(key: str, default, kind=str):
    """A remembered value under calliper/<key>, converted to ``kind``."""
    value = QgsSettings().value(f"{PREFIX}/{key}", default)
    try:
        return kind(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def save(key: str, value) -> None:
    QgsSettings().setValue(f"{PREFIX}/{key}", value)


def recent_models() -> list[str]:
    value = QgsSettings().value(RECENT_MODELS, []) or []
    return [value] if isinstance(value, str) else list(value)


def remember_model(folder: str) -> list[str]:
    """Put ``folder`` first in the recent list and in the current project's model list."""
    models = [folder] + [m for m in recent_models() if m != folder]
    QgsSettings().setValue(RECENT_MODELS, models[:MAX_RECENT])
    project = QgsProject.instance()
    used, _ = project.readListEntry(PREFIX, "models")
    if folder not in used:
        project.writeEntry(PREFIX, "models", list(used) + [folder])
    return models[:MAX_RECENT]
