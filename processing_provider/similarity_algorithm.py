"""Processing: Similarity map (every pixel of an embedding raster compared with a point or a phrase)."""

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

from ..adapters.layer_files import raster_file
from ..core.catalog.loading import load_model_for_maps
from ..core.maps import PHRASE_MAPS
from ..core.maps.similarity import phrase_raster, raster_location_query, similarity_raster
from .base import CalliperAlgorithm
from .feedback import control_for, user_errors
from .inputs import core_crs, is_given
from .output_styles import keep_similarity_style_on_completion

QUERY_MISSING = "Give a point (POINT) or a phrase (TEXT) to compare every pixel with."
QUERY_TWICE = "Give either a point (POINT) or a phrase (TEXT), not both: a similarity map compares with one query."


class SimilarityAlgorithm(CalliperAlgorithm):
    MODEL, EMBEDDING, POINT, TEXT, PHRASE_MAP, OUTPUT = "MODEL", "EMBEDDING", "POINT", "TEXT", "PHRASE_MAP", "OUTPUT"
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
        "Give exactly one of the point and the phrase; otherwise the algorithm stops with: "
        f"\"{QUERY_MISSING}\" or \"{QUERY_TWICE}\"\n\n"
        "Use the model that wrote the embedding raster (made with 'Embedding raster')."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterRasterLayer(self.EMBEDDING, "Embedding raster"))
        self.addParameter(QgsProcessingParameterPoint(self.POINT, "Compare with this point", optional=True))
        self.addParameter(QgsProcessingParameterString(self.TEXT, "…or with this phrase", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PHRASE_MAP, "Phrase map from", list(PHRASE_MAPS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Similarity map"))

    def _query_problem(self, parameters) -> str | None:
        point, text = is_given(parameters, self.POINT), is_given(parameters, self.TEXT)
        if point and text:
            return QUERY_TWICE
        return None if point or text else QUERY_MISSING

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
