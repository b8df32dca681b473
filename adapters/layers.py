"""QGIS layers -> core inputs: the one adapter the dock and Processing share."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from qgis.core import QgsFeature, QgsFeatureRequest, QgsVectorLayer, QgsWkbTypes

from ..core.crs import parse_crs
from ..core.data.parquet import is_parquet
from ..core.data.poi_io import PointTable
from ..core.data.streaming import PointSource
from ..core.errors import InputDataError


def _plain(value):
    """QVariant nulls and Qt date types become None / str so pandas sees plain values."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value.toString()) if hasattr(value, "toString") else str(value)


def point_table_from_layer(layer: QgsVectorLayer, selected_only: bool = False) -> PointTable:
    """Positions (representative points for lines/polygons) and attributes of a vector layer."""
    if layer is None or not layer.isValid():
        raise InputDataError("The chosen layer is not valid. Check that its data source still exists.")
    if not layer.crs().isValid():
        raise InputDataError(
            f"The layer '{layer.name()}' has no coordinate reference system. "
            "Set it in Layer Properties > Source, then try again."
        )
    features = layer.getSelectedFeatures() if selected_only else layer.getFeatures(QgsFeatureRequest())
    names = layer.fields().names()
    rows, xy, converted = [], [], 0
    for feature in features:
        geometry = feature.geometry()
        if not _has_geometry(feature):
            point = (np.nan, np.nan)
        else:
            if QgsWkbTypes.geometryType(geometry.wkbType()) != QgsWkbTypes.GeometryType.PointGeometry or geometry.isMultipart():
                geometry = geometry.pointOnSurface()
                converted += 1
            p = geometry.asPoint()
            point = (p.x(), p.y())
        xy.append(point)
        rows.append([_plain(v) for v in feature.attributes()])
    if not rows:
        which = "selected features" if selected_only else "features"
        raise InputDataError(f"The layer '{layer.name()}' has no {which}.")
    xy = np.asarray(xy, dtype=np.float64)
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        raise InputDataError(f"The layer '{layer.name()}' has no features with a usable position.")
    attributes = pd.DataFrame(rows, columns=names).loc[finite].reset_index(drop=True)
    return PointTable(
        xy=xy[finite],
        attributes=attributes,
        crs=parse_crs(layer.crs().toWkt(), f"The layer '{layer.name()}'", xy[finite]),
        source=layer.source(),
        dropped_no_geometry=int((~finite).sum()),
        converted_to_points=converted,
    )


def places_file_for(picked: str | None, layer: QgsVectorLayer | None) -> Path | None:
    """The places file training reads: the one picked, else the Overture / Foursquare Parquet file a layer was
    opened from (where QGIS's GDAL reads Parquet), read in chunks instead of feature by feature."""
    if picked:
        return Path(picked)
    if layer is None or layer.providerType() != "ogr":
        return None
    path = Path(layer.source().split("|")[0])
    if not (is_parquet(path) and path.is_file()):
        return None
    return path if PointSource(path).places_schema is not None else None  # another layout trains from its fields


def _has_geometry(feature: QgsFeature) -> bool:
    geometry = feature.geometry()
    return geometry is not None and not geometry.isEmpty()


def positioned_features(layer: QgsVectorLayer) -> Iterator[QgsFeature]:
    """The features with a geometry, in the order of the rows ``point_table_from_layer`` keeps for them."""
    return (feature for feature in layer.getFeatures(QgsFeatureRequest()) if _has_geometry(feature))
