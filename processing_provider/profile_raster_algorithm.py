"""Processing: Profile raster (a model's profile over a vocabulary at every pixel of an extent, one band per word)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from ..core.catalog.loading import load_model_for_maps
from ..core.crs import crs_label
from ..core.maps.rasters import embedding_grid, raster_mask
from ..core.profiles.outputs import profile_raster
from ..core.profiles.vocabulary import model_vocabulary
from .base import CalliperAlgorithm
from .feedback import control_for, user_errors
from .inputs import extent_value
from .profile_algorithm import VOCABULARY_HELP, read_vocabulary, vocabulary_parameter


class ProfileRasterAlgorithm(CalliperAlgorithm):
    MODEL, EXTENT, PIXEL_SIZE, VOCABULARY, OUTPUT = "MODEL", "EXTENT", "PIXEL_SIZE", "VOCABULARY", "OUTPUT"
    WHOLE_EXTENT, NEAR_POIS = "WHOLE_EXTENT", "NEAR_POIS"
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
        self.addParameter(QgsProcessingParameterFile(self.MODEL, "Model folder", behavior=QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent"))
        self.addParameter(QgsProcessingParameterNumber(
            self.PIXEL_SIZE, "Pixel size (metres)", QgsProcessingParameterNumber.Double, defaultValue=10.0, minValue=0.01,
        ))
        self.addParameter(vocabulary_parameter(self.VOCABULARY))
        self.addParameter(QgsProcessingParameterBoolean(
            self.WHOLE_EXTENT, "Whole extent (also where the model saw no POI: the sea, fields)", False))
        near = QgsProcessingParameterNumber(
            self.NEAR_POIS, "Distance around the training POIs (metres; 0: chosen from their spacing)",
            QgsProcessingParameterNumber.Double, defaultValue=0.0, minValue=0.0,
        )
        near.setFlags(near.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(near)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Profile raster"))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        pixel_size = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        with user_errors():
            vocabulary = read_vocabulary(self, parameters, self.VOCABULARY, context)
            model = load_model_for_maps(self.parameterAsFile(parameters, self.MODEL, context))
            vocabulary = vocabulary or model_vocabulary(model)
            extent, extent_crs = extent_value(self, parameters, self.EXTENT, context)
            grid = embedding_grid(model, extent, pixel_size, extent_crs)
            feedback.pushInfo(
                f"{grid.width} x {grid.height} pixels of {pixel_size:g} m in {crs_label(grid.crs)}, "
                f"{len(vocabulary)} bands."
            )
            near = self.parameterAsDouble(parameters, self.NEAR_POIS, context)
            mask, key = raster_mask(model, grid, near_pois=near or None,
                                    whole_extent=self.parameterAsBool(parameters, self.WHOLE_EXTENT, context))
            feedback.pushInfo(f"Pixels computed: {key if mask is not None else 'the whole extent'}.")
            out = profile_raster(model, vocabulary, grid, out, mask, control_for(feedback), overwrite=True)
        return {self.OUTPUT: str(out)}
