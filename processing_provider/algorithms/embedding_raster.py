"""Processing: Embedding raster (a model's embedding of every pixel over an extent, plus an RGB preview)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layer_files import vector_file
from ...core.catalog.loading import load_model_for_maps
from ...core.maps.rasters import (
    DEFAULT_MASK_BUFFER,
    embedding_raster,
    raster_mask,
    rgb_preview,
)
from ...core.outputs import check_output_path
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..grid_inputs import (
    add_grid_parameters,
    model_grid,
    near_pois_parameter,
    near_pois_value,
    whole_extent_parameter,
)


class EmbeddingRasterAlgorithm(CalliperAlgorithm):
    MODEL, EXTENT, PIXEL_SIZE, FLOAT16 = "MODEL", "EXTENT", "PIXEL_SIZE", "FLOAT16"
    MASK, MASK_BUFFER, OUTPUT, RGB_OUTPUT = "MASK", "MASK_BUFFER", "OUTPUT", "RGB_OUTPUT"
    WORKERS, RESUME, WHOLE_EXTENT, NEAR_POIS = "WORKERS", "RESUME", "WHOLE_EXTENT", "NEAR_POIS"
    ALGORITHM_ID = "embeddingraster"
    TITLE = "Embedding raster"
    GROUP_ID = "maps"
    HELP = (
        "Paints the model's location embedding of every pixel centre over an extent: a GeoTIFF with one "
        "float band per dimension (emb_000, ...), in the model's CRS (a lon/lat model gets the UTM zone of "
        "the extent). The extent may be in any CRS. Similarity and cluster maps are computed from this "
        "raster without running the model again.\n\n"
        "Pixel size is in metres. Half floats halve the file size. By default only pixels near the model's "
        "training POIs are computed (a distance chosen from their spacing, or set under Advanced): a model "
        "extrapolates into stripes where it saw nothing. Whole extent computes every pixel. With a mask layer "
        "only pixels inside its polygons, or within the mask buffer of its points and lines, are computed. "
        "The pixels left out are no data. "
        "The optional RGB preview shows the first three principal components as colours.\n\n"
        "A raster larger than the free disk space, or a pixel larger than the extent, is refused before "
        "anything is computed.\n\n"
        "Advanced: several CPU worker processes compute blocks in parallel; an interrupted run to the same "
        "output with the same settings resumes from its finished blocks."
    )

    def initAlgorithm(self, config=None) -> None:
        add_grid_parameters(self)
        self.addParameter(QgsProcessingParameterBoolean(self.FLOAT16, "Store half floats (half the size)", False))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.MASK, "Compute only inside or near this layer (mask)", [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True,
        ))
        self.addParameter(whole_extent_parameter())
        near = near_pois_parameter()
        buffer = QgsProcessingParameterNumber(
            self.MASK_BUFFER, "Mask buffer around points and lines (metres)", QgsProcessingParameterNumber.Type.Double,
            defaultValue=DEFAULT_MASK_BUFFER, minValue=0.01,
        )
        workers = QgsProcessingParameterNumber(self.WORKERS, "CPU worker processes", defaultValue=1, minValue=1)
        resume = QgsProcessingParameterBoolean(self.RESUME, "Resume an interrupted run to the same output", True)
        for parameter in (near, buffer, workers, resume):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Embedding raster"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.RGB_OUTPUT, "RGB preview (first three principal components)", optional=True, createByDefault=True,
        ))

    def processAlgorithm(self, parameters, context, feedback):
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        rgb_out = self.parameterAsOutputLayer(parameters, self.RGB_OUTPUT, context) or None
        mask_layer = self.parameterAsVectorLayer(parameters, self.MASK, context)
        mask_file = vector_file(mask_layer, context, feedback) if mask_layer is not None else None
        control = control_for(feedback)
        with user_errors():
            if rgb_out:
                check_output_path(rgb_out, True, inputs=(out,))
            model = load_model_for_maps(self.parameterAsFile(parameters, self.MODEL, context))
            grid = model_grid(self, parameters, context, feedback, model, model.card.settings.embed_dim)
            mask, key = raster_mask(
                model, grid, mask_file.path if mask_file else None, self.parameterAsDouble(parameters, self.MASK_BUFFER, context),
                mask_file.layer if mask_file else None, near_pois=near_pois_value(self, parameters, context),
                whole_extent=self.parameterAsBool(parameters, self.WHOLE_EXTENT, context),
            )
            feedback.pushInfo(f"Pixels computed: {key if mask is not None else 'the whole extent'}.")
            if not self.parameterAsBool(parameters, self.RESUME, context):
                key = None
            dtype = "float16" if self.parameterAsBool(parameters, self.FLOAT16, context) else "float32"
            out = embedding_raster(
                model, grid, out, dtype, mask, control.part(0.0, 0.9 if rgb_out else 1.0), overwrite=True,
                workers=self.parameterAsInt(parameters, self.WORKERS, context), resume_key=key,
            )
            if rgb_out:
                rgb_out = rgb_preview(out, rgb_out, control=control.part(0.9, 1.0), overwrite=True)
        return {self.OUTPUT: str(out), self.RGB_OUTPUT: str(rgb_out) if rgb_out else None}
