"""Processing: Similarity map (every pixel of an embedding raster compared with a point, a phrase or another model's place)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterPoint,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ...adapters.layer_files import raster_file
from ...adapters.output_layers import style_similarity
from ...core.catalog.loading import load_model, load_model_for_maps
from ...core.maps import PHRASE_MAPS
from ...core.maps.similarity import phrase_raster, raster_location_query, similarity_raster
from ...core.profiles.like_this import like_this_raster
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..inputs import core_crs, is_given
from ..output_styles import StyleOnLoad, keep_similarity_style_on_completion
from .profile import read_vocabulary, vocabulary_parameter

QUERY_MISSING = "Give a point (POINT) or a phrase (TEXT) to compare every pixel with."
QUERY_TWICE = "Give either a point (POINT) or a phrase (TEXT), not both: a similarity map compares with one query."
LIKE_NEEDS_POINT = ("Places like this in another model (LIKE_MODEL) start from a place: give a point (POINT), "
                    "not a phrase.")
VOCABULARY_ALONE = ("The vocabulary (VOCABULARY) is what places like this in another model are compared over: "
                    "give that model (LIKE_MODEL) too, or leave the vocabulary out.")


class SimilarityAlgorithm(CalliperAlgorithm):
    MODEL, EMBEDDING, POINT, TEXT, PHRASE_MAP, OUTPUT = "MODEL", "EMBEDDING", "POINT", "TEXT", "PHRASE_MAP", "OUTPUT"
    LIKE_MODEL, VOCABULARY = "LIKE_MODEL", "VOCABULARY"
    ALGORITHM_ID = "similarity"
    TITLE = "Similarity map"
    GROUP_ID = "maps"
    HELP = (
        "How much every pixel of an embedding raster resembles a place or a phrase: one float band of "
        "cosine similarity (-1 to 1, highest where the place is like the query), on the embedding raster's "
        "grid. Locations and descriptions share one embedding space, so the query is either a point (any "
        "CRS; without one, the raster's CRS) or a phrase such as 'nightlife' or 'a place to buy clothes'.\n\n"
        "A phrase is mapped, by default ('evidence'), from the training POIs of the classes it is about (matched "
        "by the text encoder), weighed by distance: on places the model never saw this beat the model alone. "
        "'model' gives the model's cosine similarity instead.\n\n"
        "Places like this in another city: with the folder of another model (say, of another city), the point is "
        "a place under that model (any CRS; without one, that model's CRS), and the map is how alike each "
        "pixel's profile is to the place's (correlation, -1 to 1). Two models' embeddings do not compare, but "
        "their profiles over the same words do: the POI classes both models were trained on, or the phrases of "
        "a vocabulary file. The models must use the same text encoder.\n\n"
        "Give exactly one of the point and the phrase; otherwise the algorithm stops with: "
        f"\"{QUERY_MISSING}\" or \"{QUERY_TWICE}\"\n\n"
        "Use the model that wrote the embedding raster (made with 'Embedding raster')."
    )

    PARAMETER_HELP = {
        "POINT": "A place to compare every pixel with (click on the map; any CRS).",
        "TEXT": "A phrase such as 'nightlife' or 'a place to buy clothes'. Give a point or a phrase, not both.",
        "PHRASE_MAP": ("evidence: from the training POIs of the classes the phrase is about (the better map on "
                       "places the model never saw); model: the model's own similarity."),
        "LIKE_MODEL": "Another city's model folder: the map then shows places like the point under that model.",
    }

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterRasterLayer(self.EMBEDDING, "Embedding raster"))
        self.addParameter(QgsProcessingParameterPoint(self.POINT, "Compare with this point", optional=True))
        self.addParameter(QgsProcessingParameterString(self.TEXT, "…or with this phrase", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PHRASE_MAP, "Phrase map from", list(PHRASE_MAPS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFile(
            self.LIKE_MODEL, "Places like the point under this other model (another city's model folder)",
            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True,
        ))
        self.addParameter(vocabulary_parameter(self.VOCABULARY, "the POI classes both models know"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Similarity map"))

    def _query_problem(self, parameters) -> str | None:
        point, text = is_given(parameters, self.POINT), is_given(parameters, self.TEXT)
        if point and text:
            return QUERY_TWICE
        if not (point or text):
            return QUERY_MISSING
        like = is_given(parameters, self.LIKE_MODEL)
        if like and not point:
            return LIKE_NEEDS_POINT
        return VOCABULARY_ALONE if is_given(parameters, self.VOCABULARY) and not like else None

    def checkParameterValues(self, parameters, context):
        problem = self._query_problem(parameters)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):
        problem = self._query_problem(parameters)  # also when a runner skips checkParameterValues
        if problem:
            raise QgsProcessingException(problem)
        embedding = raster_file(self.parameterAsRasterLayer(parameters, self.EMBEDDING, context), "embedding raster")
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if is_given(parameters, self.LIKE_MODEL):
            return self._like_this(parameters, context, feedback, embedding, out)
        with user_errors():
            model = load_model_for_maps(self.parameterAsFile(parameters, self.MODEL, context))
            if is_given(parameters, self.POINT):
                point = self.parameterAsPoint(parameters, self.POINT, context)
                crs = core_crs(self.parameterAsPointCrs(parameters, self.POINT, context))
                query = raster_location_query(model, embedding, (point.x(), point.y()), crs)
                feedback.pushInfo(f"Similarity to the {query.label}.")
                out = similarity_raster(model, embedding, query, out, control_for(feedback), overwrite=True)
            else:
                kind = PHRASE_MAPS[self.parameterAsEnum(parameters, self.PHRASE_MAP, context)]
                phrase = self.parameterAsString(parameters, self.TEXT, context)
                out = phrase_raster(model, embedding, phrase, out, control_for(feedback), True, kind)
        keep_similarity_style_on_completion(context, str(out))
        return {self.OUTPUT: str(out)}

    def _like_this(self, parameters, context, feedback, embedding: str, out: str) -> dict:
        """The map of places of this raster whose profile is like the point's under the other model."""
        point = self.parameterAsPoint(parameters, self.POINT, context)
        crs = core_crs(self.parameterAsPointCrs(parameters, self.POINT, context))
        with user_errors():
            vocabulary = read_vocabulary(self, parameters, self.VOCABULARY, context)
            target = load_model_for_maps(self.parameterAsFile(parameters, self.MODEL, context))
            source = load_model(self.parameterAsFile(parameters, self.LIKE_MODEL, context))
            out = like_this_raster(target, embedding, source, (point.x(), point.y()), out, crs, vocabulary,
                                   control_for(feedback), overwrite=True)
        # The raster's query tag names the model's folder too: too long for a legend.
        subject = f"the place {point.x():.8g}, {point.y():.8g}"
        StyleOnLoad.attach(context, str(out), lambda layer, feedback: style_similarity(layer, subject))
        return {self.OUTPUT: str(out)}
