"""Core outputs -> styled QGIS layers in a group named after the model, with provenance metadata."""

from __future__ import annotations

import json
from pathlib import Path

from qgis.core import (
    QgsColorRampShader,
    QgsLayerMetadata,
    QgsLayerTree,
    QgsMultiBandColorRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
    QgsVectorLayer,
)

from ..core.data.demo_city import OSM_ATTRIBUTION
from ..core.model.files import ModelCard

SIMILARITY_RAMP = "Viridis"
STRETCH = (0.02, 0.98)


def group_name(model_folder: str | Path) -> str:
    return f"Calliper: {Path(model_folder).name}"


def _group(model_folder: str | Path):
    """The model's group; a new one goes below the project's top-level vector layers, so it never hides them."""
    root = QgsProject.instance().layerTreeRoot()
    name = group_name(model_folder)
    group = root.findGroup(name)
    if group is None:
        vectors = [i for i, node in enumerate(root.children())
                   if QgsLayerTree.isLayer(node) and isinstance(node.layer(), QgsVectorLayer)]
        group = root.insertGroup(vectors[-1] + 1 if vectors else 0, name)
    return group


def _below_vectors(group) -> int:
    """Where a raster goes in a group: first among its rasters, under its vector layers."""
    return sum(1 for node in group.children() if QgsLayerTree.isLayer(node) and isinstance(node.layer(), QgsVectorLayer))


def _metadata(layer, card: ModelCard | None, what: str) -> None:
    metadata = QgsLayerMetadata()
    metadata.setTitle(layer.name())
    card_text = json.dumps({k: getattr(card, k) for k in ("model", "crs_label", "text_model", "text", "training", "metrics")},
                           indent=1, default=str) if card else ""
    metadata.setAbstract(f"{what}\n\nModel card:\n{card_text}".strip())
    metadata.setRights([OSM_ATTRIBUTION])
    metadata.setKeywords({"calliper": ["CaLLiPer", "location embedding", "POI"]})
    layer.setMetadata(metadata)


def similarity_subject(label: str) -> str:
    """What a similarity map compares with, for its legend: "'nightlife'" from the query label "text 'nightlife'"."""
    return label[len("text "):] if label.startswith("text ") else label


def style_similarity(layer: QgsRasterLayer, subject: str | None = None) -> None:
    """A Viridis ramp stretched over the map's 2-98 % range, its legend reading "more like X" / "less like X".

    ``subject`` defaults to the query recorded in the raster (``calliper_query``).
    """
    if subject is None:
        from osgeo import gdal

        dataset = gdal.Open(layer.source())
        subject = similarity_subject((dataset.GetMetadataItem("calliper_query") if dataset else None) or "the query")
    low, high = layer.dataProvider().cumulativeCut(1, STRETCH[0], STRETCH[1])
    if not high > low:
        high = low + 1e-6
    ramp = QgsStyle.defaultStyle().colorRamp(SIMILARITY_RAMP)
    shader_function = QgsColorRampShader(low, high, ramp)
    shader_function.classifyColorRamp(8)
    items = shader_function.colorRampItemList()
    for index, item in enumerate(items):
        item.label = f"more like {subject}" if index == len(items) - 1 else f"less like {subject}" if index == 0 else ""
    shader_function.setColorRampItemList(items)
    legend = shader_function.legendSettings()
    legend.setMinimumLabel(f"less like {subject}")
    legend.setMaximumLabel(f"more like {subject}")
    shader_function.setLegendSettings(legend)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(shader_function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
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
    group = _group(model_folder)
    node = group.insertLayer(_below_vectors(group), layer)
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
