"""Core outputs -> styled QGIS layers in a group named after the model, with provenance metadata."""

from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsColorRampShader,
    QgsLayerMetadata,
    QgsMultiBandColorRenderer,
    QgsProject,
    QgsRasterBandStats,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
    QgsVectorLayer,
)

from ..core.data.demo_city import OSM_ATTRIBUTION
from ..core.model.files import ModelCard

SIMILARITY_RAMP = "Viridis"


def group_name(model_folder: str | Path) -> str:
    return f"Calliper: {Path(model_folder).name}"


def _group(model_folder: str | Path):
    root = QgsProject.instance().layerTreeRoot()
    name = group_name(model_folder)
    return root.findGroup(name) or root.insertGroup(0, name)


def _metadata(layer, card: ModelCard | None, what: str) -> None:
    metadata = QgsLayerMetadata()
    metadata.setTitle(layer.name())
    card_text = json.dumps({k: getattr(card, k) for k in ("model", "crs_label", "text_model", "text", "training", "metrics")},
                           indent=1, default=str) if card else ""
    metadata.setAbstract(f"{what}\n\nModel card:\n{card_text}".strip())
    metadata.setRights([OSM_ATTRIBUTION])
    metadata.setKeywords({"calliper": ["CaLLiPer", "location embedding", "POI"]})
    layer.setMetadata(metadata)


def style_similarity(layer: QgsRasterLayer) -> None:
    """A Viridis pseudocolour ramp stretched over the map's own minimum and maximum."""
    stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
    ramp = QgsStyle.defaultStyle().colorRamp(SIMILARITY_RAMP)
    shader_function = QgsColorRampShader(stats.minimumValue, stats.maximumValue, ramp)
    shader_function.classifyColorRamp(8)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(shader_function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(stats.minimumValue)
    renderer.setClassificationMax(stats.maximumValue)
    layer.setRenderer(renderer)


def _style_rgb(layer: QgsRasterLayer) -> None:
    layer.setRenderer(QgsMultiBandColorRenderer(layer.dataProvider(), 1, 2, 3))


def add_raster(path: str | Path, name: str, kind: str, model_folder: str | Path, card: ModelCard | None,
               visible: bool = True) -> QgsRasterLayer:
    """Add a raster output styled for its kind: 'similarity', 'rgb', 'clusters' (.qml beside it) or 'embedding'."""
    layer = QgsRasterLayer(str(path), name, "gdal")
    if not layer.isValid():
        raise RuntimeError(f"QGIS could not open the output {path}.")
    style = Path(path).with_suffix(".qml")
    if kind == "similarity":
        style_similarity(layer)
    elif kind == "rgb":
        _style_rgb(layer)
    elif style.exists():
        layer.loadNamedStyle(str(style))
    _metadata(layer, card, f"Calliper {kind} raster written to {path}.")
    QgsProject.instance().addMapLayer(layer, False)
    node = _group(model_folder).insertLayer(0, layer)
    node.setItemVisibilityChecked(visible)
    return layer


def add_vector(path: str | Path, name: str, model_folder: str | Path, card: ModelCard | None) -> QgsVectorLayer:
    """Add a vector output (predictions, embedded points) to the model's group, with a .qml style if present."""
    layer = QgsVectorLayer(str(path), name, "ogr")
    if not layer.isValid():
        raise RuntimeError(f"QGIS could not open the output {path}.")
    style = Path(path).with_suffix(".qml")
    if style.exists():
        layer.loadNamedStyle(str(style))
    _metadata(layer, card, f"Calliper output written to {path}.")
    QgsProject.instance().addMapLayer(layer, False)
    _group(model_folder).insertLayer(0, layer)
    return layer
