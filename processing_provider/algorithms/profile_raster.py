"""Processing: Profile raster (a model's profile over a vocabulary at every pixel of an extent, one band per word)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterDefinition, QgsProcessingParameterRasterDestination

from ...core.catalog.loading import load_model_for_maps
from ...core.maps.rasters import raster_mask
from ...core.profiles.outputs import profile_raster
from ...core.profiles.vocabulary import model_vocabulary
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..grid_inputs import (
    MODEL,
    WHOLE_EXTENT,
    add_grid_parameters,
    model_grid,
    near_pois_parameter,
    near_pois_value,
    whole_extent_parameter,
)
from .profile import VOCABULARY_HELP, read_vocabulary, vocabulary_parameter


class ProfileRasterAlgorithm(CalliperAlgorithm):
    VOCABULARY, OUTPUT = "VOCABULARY", "OUTPUT"
    ALGORITHM_ID = "profileraster"
    TITLE = "Profile raster"
    GROUP_ID = "maps"
    HELP = (
        "Paints the model's profile of every pixel centre over an extent: a GeoTIFF with one float band per "
        "word of the vocabulary, named by it, in the model's CRS (a lon/lat model gets the UTM zone of the "
        "extent). " + VOCABULARY_HELP + "\n\n"
        "Pixel size is in metres. By default only pixels near the model's training POIs are computed (a "
        "distance chosen from their spacing, or set under Advanced); the others are no data. Whole extent "
        "computes every pixel.\n\n"
        "'Profile places' writes the same profiles as fields of a layer."
    )

    def initAlgorithm(self, config=None) -> None:
        add_grid_parameters(self)
        self.addParameter(vocabulary_parameter(self.VOCABULARY))
        self.addParameter(whole_extent_parameter())
        near = near_pois_parameter()
        near.setFlags(near.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(near)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Profile raster"))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        with user_errors():
            vocabulary = read_vocabulary(self, parameters, self.VOCABULARY, context)
            model = load_model_for_maps(self.parameterAsFile(parameters, MODEL, context))
            vocabulary = vocabulary or model_vocabulary(model)
            grid = model_grid(self, parameters, context, feedback, model, len(vocabulary))
            mask, key = raster_mask(model, grid, near_pois=near_pois_value(self, parameters, context),
                                    whole_extent=self.parameterAsBool(parameters, WHOLE_EXTENT, context))
            feedback.pushInfo(f"Pixels computed: {key if mask is not None else 'the whole extent'}.")
            out = profile_raster(model, vocabulary, grid, out, mask, control_for(feedback), overwrite=True)
        return {self.OUTPUT: str(out)}
