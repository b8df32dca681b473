"""What every Calliper algorithm tells QGIS about itself, declared once as class attributes."""

from __future__ import annotations

from typing import ClassVar

from qgis.core import QgsProcessingAlgorithm

GROUPS = {"model": "Model", "maps": "Maps", "landuse": "Land use and values"}


class CalliperAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set ``ALGORITHM_ID``, ``TITLE``, ``GROUP_ID`` (a key of ``GROUPS``) and ``HELP``."""

    ALGORITHM_ID: ClassVar[str]
    TITLE: ClassVar[str]
    GROUP_ID: ClassVar[str]
    HELP: ClassVar[str]

    def name(self) -> str:
        return self.ALGORITHM_ID

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.TITLE

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.GROUP_ID

    def group(self) -> str:
        return GROUPS[self.GROUP_ID]

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return self.HELP

    def createInstance(self):  # noqa: N802 - QGIS API
        return type(self)()
