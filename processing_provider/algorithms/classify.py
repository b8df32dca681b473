"""Processing: Classify land use (classes of labelled areas from embeddings, with baselines and a class raster)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterExtent,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
)

from ...core.landuse.study import ClassifySettings, classify
from ..inputs import extent_value, is_given
from ..output_styles import keep_style_on_completion
from .study import STUDY_HELP, StudyAlgorithm, advanced


class ClassifyAlgorithm(StudyAlgorithm):
    LABEL_FIELD, MIN_CLASS_SIZE, EXTENT, PIXEL_SIZE = "LABEL_FIELD", "MIN_CLASS_SIZE", "EXTENT", "PIXEL_SIZE"
    CLASS_RASTER = "CLASS_RASTER"
    ALGORITHM_ID = "classify"
    TITLE = "Classify land use"
    HELP = (
        "Learns the classes of a labelled layer (e.g. OSM land use) from the model's embeddings and "
        "measures how well it does. " + STUDY_HELP + "\n\n"
        "predictions.gpkg holds the predicted class, its probability and one probability field per class. "
        "With an extent, classes.tif (band 1: most likely class, paletted with a legend; band 2: its "
        "probability in percent) is painted over it and loaded too.\n\n"
        "Classes with fewer features than the minimum class size are left out (noted in the log). A label "
        "field with a single class is refused: the message names the field and its class."
    )

    def target_parameters(self):
        return [QgsProcessingParameterField(self.LABEL_FIELD, "Class field", parentLayerParameterName=self.LABELS)]

    def extra_parameters(self):
        return [
            advanced(QgsProcessingParameterNumber(
                self.MIN_CLASS_SIZE, "Minimum class size (rarer classes are left out)",
                QgsProcessingParameterNumber.Type.Integer, defaultValue=2, minValue=1,
            )),
            QgsProcessingParameterExtent(self.EXTENT, "Class raster extent, any CRS (none: no class raster)", optional=True),
            QgsProcessingParameterNumber(
                self.PIXEL_SIZE, "Class raster pixel size (metres)", QgsProcessingParameterNumber.Type.Double,
                defaultValue=20.0, minValue=0.01,
            ),
        ]

    def initAlgorithm(self, config=None) -> None:
        super().initAlgorithm(config)
        self.addOutput(QgsProcessingOutputRasterLayer(self.CLASS_RASTER, "Class raster"))

    def layer_name(self, parameters, context) -> str:
        return f"Predicted {self.parameterAsString(parameters, self.LABEL_FIELD, context)}"

    def run_study(self, model, labels, out_dir, options, parameters, context, control):
        extent, extent_crs, pixel_size = None, None, None
        if is_given(parameters, self.EXTENT):
            extent, extent_crs = extent_value(self, parameters, self.EXTENT, context)
            pixel_size = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        settings = ClassifySettings.from_options(
            **options, min_class_size=self.parameterAsInt(parameters, self.MIN_CLASS_SIZE, context),
            extent=extent, extent_crs=extent_crs, pixel_size=pixel_size,
        )
        field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
        return classify(model, labels, field, out_dir, settings, control)

    def more_results(self, result, parameters, context) -> dict:
        classes = result.outputs.get("classes")
        if classes is None:
            return {self.CLASS_RASTER: None}
        field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
        self.load_on_completion(context, str(classes), f"{field} classes", self.CLASS_RASTER)
        keep_style_on_completion(context, str(classes))
        return {self.CLASS_RASTER: str(classes)}
