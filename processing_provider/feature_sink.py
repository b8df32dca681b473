"""A point layer's features written back with values computed per row (embeddings, scores) as new fields."""

from __future__ import annotations

from typing import Callable

from qgis.core import QgsFeature, QgsFeatureSink, QgsField, QgsFields, QgsProcessingException, QgsVectorLayer

from ..adapters.layers import positioned_features


def write_with_values(
    algorithm, parameters: dict, name: str, context, layer: QgsVectorLayer, new_fields: list[QgsField],
    values_of: Callable[[int], list],
) -> str:
    """Copy ``layer``'s features to the sink parameter ``name``, each with ``values_of(row)`` in ``new_fields``.

    ``row`` counts the features with a geometry, the rows of ``point_table_from_layer``.
    """
    fields = QgsFields(layer.fields())
    for field in new_fields:
        fields.append(field)
    sink, dest = algorithm.parameterAsSink(parameters, name, context, fields, layer.wkbType(), layer.crs())
    if sink is None:
        raise QgsProcessingException("The output layer could not be created.")
    for row, feature in enumerate(positioned_features(layer)):
        out = QgsFeature(fields)
        out.setGeometry(feature.geometry())
        out.setAttributes(feature.attributes() + values_of(row))
        sink.addFeature(out, QgsFeatureSink.Flag.FastInsert)
    return dest


def unused_name(fields: QgsFields, name: str) -> str:
    """``name``, or ``name_2``, ``name_3``... when the layer already has a field called that."""
    candidate, number = name, 1
    while fields.indexOf(candidate) >= 0:
        number += 1
        candidate = f"{name}_{number}"
    return candidate
