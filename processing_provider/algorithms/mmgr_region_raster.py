"""Processing: Region raster (MMGR) (a trained MMGR model applied to every tile of an image)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ...adapters.layer_files import raster_file
from ...core.imagery.files import load_mmgr
from ...core.imagery.region_maps import mmgr_text_query, region_raster
from ...core.maps.similarity import similarity_raster
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..output_styles import keep_similarity_style_on_completion


class MMGRRegionRasterAlgorithm(CalliperAlgorithm):
    MODEL, IMAGE, PHRASE, OUTPUT, SIMILARITY = "MODEL", "IMAGE", "PHRASE", "OUTPUT", "SIMILARITY"
    ALGORITHM_ID = "mmgrregionraster"
    TITLE = "Region raster (MMGR)"
    GROUP_ID = "maps"
    PARAMETER_HELP = {"MODEL": "The MMGR model folder that 'Train MMGR (imagery + POIs)' wrote."}
    HELP = (
        "Applies a trained MMGR model to an image with the bands it was trained on: every tile gets its region "
        "embedding, written as a raster with one pixel per tile (the format of a CaLLiPer embedding raster, so "
        "the cluster and similarity tools read it). Tiles are cut, and bands normalised, as in training.\n\n"
        "With a phrase, also a similarity map: the phrase is embedded as a set of one POI with that description "
        "and compared with every tile."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "MMGR model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
        self.addParameter(QgsProcessingParameterRasterLayer(self.IMAGE, "Image"))
        self.addParameter(QgsProcessingParameterString(self.PHRASE, "Phrase for a similarity map (optional)", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Region-embedding raster"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.SIMILARITY, "Similarity to the phrase", optional=True, createByDefault=False,
        ))

    def processAlgorithm(self, parameters, context, feedback):
        image = raster_file(self.parameterAsRasterLayer(parameters, self.IMAGE, context), "image")
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        phrase = self.parameterAsString(parameters, self.PHRASE, context).strip()
        similarity_out = self.parameterAsOutputLayer(parameters, self.SIMILARITY, context) or None
        control = control_for(feedback)
        with user_errors():
            model = load_mmgr(self.parameterAsFile(parameters, self.MODEL, context))
            out = region_raster(model, image, out, control.part(0.0, 0.9), overwrite=True)
            if phrase and similarity_out:
                query = mmgr_text_query(model, phrase)
                similarity_out = similarity_raster(None, out, query, similarity_out, control.part(0.9, 1.0), True)
                keep_similarity_style_on_completion(context, str(similarity_out))
        return {self.OUTPUT: str(out), self.SIMILARITY: str(similarity_out) if phrase and similarity_out else None}
