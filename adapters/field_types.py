"""New attribute fields typed the way the running QGIS takes them, from QGIS 3.22 (Qt5) to QGIS 4 (Qt6).

QGIS 3.38 and later take a ``QMetaType.Type`` (and QGIS 4's PyQt6 has no ``QVariant.Type``
at all); QGIS before 3.38 takes only a ``QVariant.Type``. The two enums share their
numbers, so one table of ``QMetaType`` values serves both.
"""

from __future__ import annotations

from qgis.core import Qgis, QgsField
from qgis.PyQt.QtCore import QMetaType, QVariant

METATYPES = {float: QMetaType.Type.Double, int: QMetaType.Type.Int, str: QMetaType.Type.QString}
FIRST_QMETATYPE_QGIS = 33800  # QgsField(name, QMetaType.Type) exists from QGIS 3.38


def new_field(name: str, kind: type) -> QgsField:
    """A field named ``name`` holding Python ``float``, ``int`` or ``str`` values."""
    metatype = METATYPES[kind]
    if Qgis.QGIS_VERSION_INT >= FIRST_QMETATYPE_QGIS:
        return QgsField(name, metatype)
    return QgsField(name, QVariant.Type(int(metatype)))  # Qt5 only: QGIS < 3.38 takes nothing else
