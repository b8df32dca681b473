"""Processing: Rank places for a text (every feature of a layer with its score and rank for a description)."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.field_types import new_field
from ...adapters.layers import point_table_from_layer
from ...adapters.ranked_layer import ranks
from ...core.catalog.loading import load_model
from ...core.context.ranking import text_scores
from ..base import CalliperAlgorithm
from ..feature_sink import unused_name, write_with_values
from ..feedback import control_for, user_errors

# Places named in the log after a run, best first.
LOGGED_BEST = 5


class RankAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, TEXT, OUTPUT = "MODEL", "INPUT", "TEXT", "OUTPUT"
    ALGORITHM_ID = "rank"
    TITLE = "Rank places for a text"
    GROUP_ID = "maps"
    HELP = (
        "Which features of a layer best fit a description such as 'a cafe among restaurants' or 'a quiet "
        "street near a park': each feature's place (a point on the surface of lines and polygons) is "
        "compared with the text in the model's shared space. The output is the layer's features with two "
        "new fields: score (cosine similarity, -1 to 1) and rank (1 = best; sort by it). A model "
        "trained with the 'grid + context graph' encoder also reads what surrounds each place, so text "
        "about surroundings ranks well. Features without a geometry are left out."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Places to rank", [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
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
        rank_of = ranks(scores)
        order = np.argsort(rank_of)
        fields = [new_field(unused_name(layer.fields(), "score"), float),
                  new_field(unused_name(layer.fields(), "rank"), int)]
        dest = write_with_values(self, parameters, self.OUTPUT, context, layer, fields,
                                 lambda row: [float(scores[row]), int(rank_of[row])])
        for rank, row in enumerate(order[:LOGGED_BEST], start=1):
            control.log(f"{rank}. score {scores[row]:.3f}: row {row + 1} of the layer")
        return {self.OUTPUT: dest}
