"""Processing: Embed points (a copy of a point layer with emb_000.. fields)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.field_types import new_field
from ...adapters.layers import point_table_from_layer
from ...core.catalog.loading import load_model
from ...core.model.embed_points import embedding_columns
from ...core.model.inference import embed_locations
from ..base import CalliperAlgorithm
from ..feature_sink import write_with_values
from ..feedback import control_for, user_errors


class EmbedPointsAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, OUTPUT = "MODEL", "INPUT", "OUTPUT"
    ALGORITHM_ID = "embedpoints"
    TITLE = "Embed points"
    GROUP_ID = "model"
    HELP = (
        "Adds the model's location embedding to every feature of a layer, as float fields "
        "emb_000, emb_001, ... (lines and polygons use a point on their surface). Use the "
        "fields for clustering, regression or any analysis outside Calliper."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Layer to embed", [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Embedded layer"))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        with user_errors():
            model = load_model(self.parameterAsFile(parameters, self.MODEL, context))
            # Features without a position cannot be embedded; the table keeps the others in order.
            table = point_table_from_layer(layer)
            vectors = embed_locations(model, table.xy, table.crs, control=control_for(feedback))
        fields = [new_field(name, float) for name in embedding_columns(vectors.shape[1])]
        dest = write_with_values(self, parameters, self.OUTPUT, context, layer, fields,
                                 lambda row: [float(v) for v in vectors[row]])
        return {self.OUTPUT: dest}
