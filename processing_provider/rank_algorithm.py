"""Processing: Rank places for a text (the features of a layer, best match first, with score and rank)."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from ..core.model_files import load_model
from ..core.ranking import text_scores
from ..ui.layers import point_table_from_layer, positioned_features
from .base import CalliperAlgorithm
from .feedback import control_for, user_errors

# Places named in the log after a run, best first.
LOGGED_BEST = 5


def unused_name(fields: QgsFields, name: str) -> str:
    """``name``, or ``name_2``, ``name_3``... when the layer already has a field called that."""
    candidate, number = name, 1
    while fields.indexOf(candidate) >= 0:
        number += 1
        candidate = f"{name}_{number}"
    return candidate


class RankAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, TEXT, OUTPUT = "MODEL", "INPUT", "TEXT", "OUTPUT"
    ALGORITHM_ID = "rank"
    TITLE = "Rank places for a text"
    GROUP_ID = "maps"
    HELP = (
        "Which features of a layer best fit a description such as 'a cafe among restaurants' or 'a quiet "
        "street near a park': each feature's place (a point on the surface of lines and polygons) is "
        "compared with the text in the model's shared space. The output is the layer's features with two "
        "new fields: score (cosine similarity, -1 to 1) and rank (1 = best; features are added best first, "
        "though a file keeping the input's feature ids lists them in id order). A model "
        "trained with the 'grid + context graph' encoder also reads what surrounds each place, so text "
        "about surroundings ranks well. Features without a geometry are left out."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Places to rank", [QgsProcessing.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterString(self.TEXT, "Text describing the place sought"))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Ranked places"))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        text = self.parameterAsString(parameters, self.TEXT, context)
        control = control_for(feedback)
        with user_errors():
            model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
            table = point_table_from_layer(layer)
            scores = text_scores(model, text, table.xy, table.crs, control)
        fields = QgsFields(layer.fields())
        score_name, rank_name = unused_name(fields, "score"), unused_name(fields, "rank")
        fields.append(QgsField(score_name, QVariant.Double))
        fields.append(QgsField(rank_name, QVariant.Int))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, layer.wkbType(), layer.crs())
        if sink is None:
            raise QgsProcessingException("The output layer could not be created.")
        features = list(positioned_features(layer))
        for rank, row in enumerate(np.argsort(-scores, kind="stable"), start=1):
            out = QgsFeature(fields)
            out.setGeometry(features[row].geometry())
            out.setAttributes(features[row].attributes() + [float(scores[row]), rank])
            sink.addFeature(out, QgsFeatureSink.FastInsert)
            if rank <= LOGGED_BEST:
                control.log(f"{rank}. score {scores[row]:.3f}: feature {features[row].id()}")
        return {self.OUTPUT: dest}
