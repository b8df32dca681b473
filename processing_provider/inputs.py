"""Processing parameter values -> the plain values core takes: extents, points and CRSs as text."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingAlgorithm, QgsProcessingContext

Extent = tuple[float, float, float, float]


def is_given(parameters: dict, name: str) -> bool:
    """Whether an optional parameter has a value (absent, None and blank text count as not given)."""
    value = parameters.get(name)
    if value is None:
        return False
    return bool(value.strip()) if isinstance(value, str) else True


def core_crs(crs: QgsCoordinateReferenceSystem) -> str | None:
    """A CRS as text pyproj reads ("EPSG:32635", else WKT2); None for an invalid (unknown) CRS."""
    if not crs.isValid():
        return None
    if crs.authid().upper().startswith(("EPSG:", "ESRI:", "IGNF:")):
        return crs.authid()
    return crs.toWkt(QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED)


def extent_value(
    algorithm: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext
) -> tuple[Extent, str | None]:
    """xmin, ymin, xmax, ymax of an extent parameter in its own CRS, and that CRS (None: not stated)."""
    rectangle = algorithm.parameterAsExtent(parameters, name, context)
    crs = core_crs(algorithm.parameterAsExtentCrs(parameters, name, context))
    return (rectangle.xMinimum(), rectangle.yMinimum(), rectangle.xMaximum(), rectangle.yMaximum()), crs
