"""The marker a map tool leaves where the user clicked."""

from __future__ import annotations

from qgis.gui import QgsVertexMarker
from qgis.PyQt.QtGui import QColor


def click_marker(canvas, colour: str, icon: int = QgsVertexMarker.IconType.ICON_CROSS, size: int = 14) -> QgsVertexMarker:
    marker = QgsVertexMarker(canvas)
    marker.setColor(QColor(colour))
    marker.setIconType(icon)
    marker.setIconSize(size)
    marker.setPenWidth(3)
    return marker
