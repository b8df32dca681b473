"""QGIS layers -> the files core reads.

Core reads files (GeoPackage, GeoTIFF, ...), never QGIS layers. A vector layer
stored whole in a file that GDAL reads goes to core by its path (and layer name);
any other layer (memory or database layers, CSV, a filter on the features, a layer
deep inside a GeoPackage for a reader that takes a path only) is first exported to
a temporary GeoPackage, so every layer QGIS can open works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

# OGR opens these as tables whose geometry core would not find.
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".ods")


@dataclass(frozen=True)
class VectorFile:
    """A vector file and the layer inside it (None: the file's first or only layer)."""

    path: str
    layer: str | None = None


def _first_layer_name(path: str) -> str | None:
    sublayers = QgsProviderRegistry.instance().providerMetadata("ogr").querySublayers(path)
    return sublayers[0].name() if sublayers else None


def _stored_file(layer: QgsVectorLayer) -> VectorFile | None:
    """The file holding exactly ``layer``'s features, or None when core cannot read them from a file as they are."""
    if layer.providerType() != "ogr" or layer.subsetString():
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path") or ""
    if not path or not Path(path).is_file() or Path(path).suffix.lower() in TABLE_SUFFIXES:
        return None
    if parts.get("subset") or parts.get("geometryType"):
        return None
    name, layer_id = parts.get("layerName") or None, parts.get("layerId")
    if name is None and layer_id and str(layer_id) != "0":  # a layer picked by number, not name
        return None
    return VectorFile(path, name)


def export_layer(layer: QgsVectorLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback | None) -> str:
    """Write ``layer`` (its features and CRS) to a temporary GeoPackage of one layer and return its path."""
    # Named after the layer: core's messages name the file they read.
    stem = re.sub(r"[^\w-]+", "_", layer.name()).strip("_") or "layer"
    path = QgsProcessingUtils.generateTempFilename(f"{stem}.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = stem
    options.fileEncoding = "UTF-8"
    if feedback is not None:
        options.feedback = feedback
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, context.transformContext(), options)
    if error != QgsVectorFileWriter.WriterError.NoError:
        raise QgsProcessingException(f"The layer '{layer.name()}' could not be copied to a temporary file: {message}")
    if feedback is not None:
        feedback.pushInfo(f"The layer '{layer.name()}' is read from a temporary copy: {path}")
    return path


def vector_file(
    layer: QgsVectorLayer,
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback | None = None,
    with_layer_name: bool = True,
) -> VectorFile:
    """The file (and layer name) core should read for ``layer``, exported to a temporary GeoPackage when needed.

    ``with_layer_name=False`` is for core readers that take a path only and read the
    file's first layer: any other layer of a multi-layer file is exported.
    """
    stored = _stored_file(layer)
    if stored is not None and (with_layer_name or stored.layer in (None, _first_layer_name(stored.path))):
        return stored if with_layer_name else VectorFile(stored.path)
    return VectorFile(export_layer(layer, context, feedback))


def raster_file(layer: QgsRasterLayer, what: str = "raster") -> str:
    """The GeoTIFF (or other GDAL file) behind a raster layer; a raster that is not a file is refused."""
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or ""
    if layer.providerType() != "gdal" or not path or not Path(path).is_file() or parts.get("layerName"):
        raise QgsProcessingException(
            f"The {what} '{layer.name()}' is not stored in a file. Choose a GeoTIFF written by Calliper."
        )
    return path
