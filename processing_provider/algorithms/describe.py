"""Processing: Describe places (each point's best-matching POI classes and their scores, as fields)."""

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
from ...core.maps.describe import describe_points
from ..base import CalliperAlgorithm
from ..feature_sink import unused_name, write_with_values
from ..feedback import user_errors


class DescribeAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, TOP, OUTPUT = "MODEL", "INPUT", "TOP", "OUTPUT"
    ALGORITHM_ID = "describe"
    TITLE = "Describe places"
    GROUP_ID = "maps"
    HELP = (
        "What the model says about each feature's place: the POI classes whose description ('A place of "
        "cafe') best matches the place in the model's shared space, best first. Adds class_1, score_1, ..., "
        "class_N, score_N (the model's probability of the class there, 0 to 1, from its contrastive logits and "
        "each class's share of the training POIs) to a copy of the layer. Lines and polygons are "
        "described at a point on their surface; features without a geometry are left out."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Places to describe",
                                                            [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterNumber(self.TOP, "Classes per place", defaultValue=3, minValue=1,
                                                       maxValue=20))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Described places"))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        top = self.parameterAsInt(parameters, self.TOP, context)
        with user_errors():
            model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
            table = point_table_from_layer(layer)
            classes, scores = describe_points(model, table.xy, table.crs, top)
        fields = []
        for rank in range(1, top + 1):
            fields += [new_field(unused_name(layer.fields(), f"class_{rank}"), str),
                       new_field(unused_name(layer.fields(), f"score_{rank}"), float)]
        dest = write_with_values(
            self, parameters, self.OUTPUT, context, layer, fields,
            lambda row: [value for k in range(top) for value in (classes[row][k], float(scores[row][k]))],
        )
        return {self.OUTPUT: dest}
