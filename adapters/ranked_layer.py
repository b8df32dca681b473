"""A layer's features ranked for a text, as a new GeoPackage layer: score and rank fields, graduated, top N selected."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from qgis.core import (
    QgsClassificationQuantile,
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsFields,
    QgsGradientColorRamp,
    QgsGraduatedSymbolRenderer,
    QgsStyle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ..core.errors import OutputPathError
from .field_types import new_field
from .layers import positioned_features

RANK_CLASSES = 5
RANK_RAMP = "Viridis"


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the best score, ties in layer order."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    rank_of = np.empty(len(order), dtype=np.int64)
    rank_of[order] = np.arange(1, len(order) + 1)
    return rank_of


def write_ranked_layer(layer: QgsVectorLayer, scores: np.ndarray, path: Path) -> Path:
    """The positioned features of ``layer`` with ``score`` and ``rank`` (written to a temporary file, then renamed)."""
    fields = QgsFields(layer.fields())
    names = set(layer.fields().names())
    score_name = next(n for n in ("score", "calliper_score", "calliper_score_2") if n not in names)
    rank_name = next(n for n in ("rank", "calliper_rank", "calliper_rank_2") if n not in names)
    fields.append(new_field(score_name, float))
    fields.append(new_field(rank_name, int))
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName, options.layerName = "GPKG", path.stem
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")  # the writer keeps a .gpkg suffix
    writer = QgsVectorFileWriter.create(str(temporary), fields, layer.wkbType(), layer.crs(),
                                        QgsCoordinateTransformContext(), options)
    if writer.hasError() != QgsVectorFileWriter.WriterError.NoError:
        raise OutputPathError(f"Cannot write {path}: {writer.errorMessage()}")
    rank_of = ranks(scores)
    for row, feature in enumerate(positioned_features(layer)):
        out = QgsFeature(fields)
        out.setGeometry(feature.geometry())
        out.setAttributes(list(feature.attributes()) + [float(scores[row]), int(rank_of[row])])
        writer.addFeature(out)
    del writer  # closes the file
    os.replace(temporary, path)
    return path


def style_ranked(layer: QgsVectorLayer, top: int) -> None:
    """Graduated colours on the score (quantiles, Viridis), and the ``top`` best features selected."""
    score, rank = layer.fields().names()[-2:]
    renderer = QgsGraduatedSymbolRenderer(score)
    ramp = QgsStyle.defaultStyle().colorRamp(RANK_RAMP) or QgsGradientColorRamp()
    renderer.setSourceColorRamp(ramp)
    renderer.setClassificationMethod(QgsClassificationQuantile())  # not the Mode enum, deprecated since 3.10
    renderer.updateClasses(layer, RANK_CLASSES)
    layer.setRenderer(renderer)
    layer.selectByExpression(f'"{rank}" <= {int(top)}')
