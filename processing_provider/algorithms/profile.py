"""Processing: Profile places (each feature's scores over a vocabulary, as pr_<word> fields comparable between models)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterFile,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layer_files import vector_file
from ...core.catalog.loading import load_model_for_maps
from ...core.profiles.outputs import profile_points
from ...core.profiles.vocabulary import Vocabulary, model_vocabulary, phrase_vocabulary
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors

VOCABULARY_HELP = (
    "A profile is the model's weight of each word of a vocabulary at a place (0 to 1, summing to 1 over the "
    "vocabulary), every word counted as equally common: how much the place stands out for the word, not how "
    "many POIs of it are there. The vocabulary "
    "is the model's own POI classes, or a text file of phrases, one per line. Every model trained with the same "
    "text encoder scores the same words, so profiles of two models, or two cities, compare."
)
NOT_A_GEOPACKAGE = "The profiles are written as a GeoPackage: choose an output file ending in .gpkg."


def vocabulary_parameter(name: str, default: str = "the model's POI classes") -> QgsProcessingParameterFile:
    return QgsProcessingParameterFile(
        name, f"Vocabulary: a text file of phrases, one per line (default: {default})",
        behavior=QgsProcessingParameterFile.Behavior.File, optional=True, fileFilter="Text files (*.txt);;All files (*.*)",
    )


def read_vocabulary(algorithm: QgsProcessingAlgorithm, parameters: dict, name: str,
                    context: QgsProcessingContext) -> Vocabulary | None:
    """The phrases of the vocabulary file, or None when none is given (the model's classes are then used).

    Read before the model is loaded, so a bad file is refused at once; call inside ``user_errors``.
    """
    path = algorithm.parameterAsFile(parameters, name, context)
    return phrase_vocabulary(path) if path else None


class ProfileAlgorithm(CalliperAlgorithm):
    MODEL, INPUT, VOCABULARY, OUTPUT = "MODEL", "INPUT", "VOCABULARY", "OUTPUT"
    ALGORITHM_ID = "profile"
    TITLE = "Profile places"
    GROUP_ID = "maps"
    HELP = (
        "Adds the model's profile of each feature's place to a copy of the layer: one field per word of the "
        "vocabulary (pr_<word>), plus profile_top (the word with the largest share) and profile_top_score (its "
        "share). " + VOCABULARY_HELP + "\n\n"
        "Lines and polygons are profiled at a point on their surface; features without a geometry are left "
        "out. Fields of the layer with the same names are replaced (noted in the log). The output is a "
        "GeoPackage. An empty vocabulary file, or a model that kept no POI classes without one, is refused "
        "with a message that says so.\n\n"
        "'Profile raster' paints the same profiles over an extent."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Places to profile",
                                                            [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(vocabulary_parameter(self.VOCABULARY))
        self.addParameter(QgsProcessingParameterVectorDestination(self.OUTPUT, "Profiled places"))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if Path(out).suffix.lower() != ".gpkg":
            raise QgsProcessingException(NOT_A_GEOPACKAGE)
        places = vector_file(self.parameterAsVectorLayer(parameters, self.INPUT, context), context, feedback)
        with user_errors():
            vocabulary = read_vocabulary(self, parameters, self.VOCABULARY, context)
            model = load_model_for_maps(self.parameterAsFile(parameters, self.MODEL, context))
            vocabulary = vocabulary or model_vocabulary(model)
            out = profile_points(model, vocabulary, places.path, out, places.layer, control_for(feedback), overwrite=True)
        return {self.OUTPUT: str(out)}
