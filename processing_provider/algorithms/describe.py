"""Processing: Describe places (each point's best POI classes, their blended scores and both parts, as fields)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.field_types import new_field
from ...adapters.layers import point_table_from_layer
from ...core.catalog.loading import load_model
from ...core.maps import DESCRIBE_EVIDENCE_WEIGHT
from ...core.maps.describe import describe_points
from ..base import CalliperAlgorithm
from ..feature_sink import unused_name, write_with_values
from ..feedback import user_errors


class DescribeAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, TOP, WEIGHT, OUTPUT = "MODEL", "INPUT", "TOP", "EVIDENCE_WEIGHT", "OUTPUT"
    ALGORITHM_ID = "describe"
    TITLE = "Describe places"
    GROUP_ID = "maps"
    HELP = (
        "What is at each feature's place: the model's POI classes ('A place of cafe'), best first. Each class's "
        "probability there blends two parts: the model's (its contrastive logits and each class's share of the "
        "training POIs) and the training POIs' (a heavy-tailed kernel density of each class's POIs around the "
        "place, as phrase maps use). The evidence weight is the POIs' share of the blend, 0 (the model alone) to 1 "
        f"(the POIs alone); the default, {DESCRIBE_EVIDENCE_WEIGHT:g}, was chosen on held-out blocks. Adds class_1, "
        "score_1, model_1, pois_1, ..., class_N, score_N, model_N, pois_N (the blend and each part, 0 to 1) to a "
        "copy of the layer. Lines and polygons are described at a point on their surface; features without a "
        "geometry are left out."
    )
    PARTS = (("class", str), ("score", float), ("model", float), ("pois", float))

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Places to describe",
                                                            [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterNumber(self.TOP, "Classes per place", defaultValue=3, minValue=1,
                                                       maxValue=20))
        self.addParameter(QgsProcessingParameterNumber(
            self.WEIGHT, "Evidence weight (0: the model alone, 1: the training POIs nearby alone)",
            QgsProcessingParameterNumber.Type.Double, defaultValue=DESCRIBE_EVIDENCE_WEIGHT, minValue=0.0,
            maxValue=1.0))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Described places"))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        top = self.parameterAsInt(parameters, self.TOP, context)
        weight = self.parameterAsDouble(parameters, self.WEIGHT, context)
        with user_errors():
            model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
            table = point_table_from_layer(layer)
            described = describe_points(model, table.xy, table.crs, top, weight)
        fields = [new_field(unused_name(layer.fields(), f"{part}_{rank}"), kind)
                  for rank in range(1, top + 1) for part, kind in self.PARTS]
        parts = (described.score, described.model, described.evidence)
        dest = write_with_values(
            self, parameters, self.OUTPUT, context, layer, fields,
            lambda row: [value for k in range(top)
                         for value in (described.classes[row][k], *(float(part[row, k]) for part in parts))],
        )
        return {self.OUTPUT: dest}
