"""The Calliper Processing provider: every capability as a scriptable, modeller-ready algorithm."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS


class CalliperProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "calliper"

    def name(self) -> str:
        return "Calliper"

    def icon(self) -> QIcon:
        return QIcon(str(Path(__file__).resolve().parent.parent / "resources" / "icon.svg"))

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        """Calliper writes tiled, compressed GeoTIFFs only."""
        return ["tif"]

    def loadAlgorithms(self) -> None:
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
