"""Processing: Train MMGR (an image + a POI layer -> region-embedding model, region raster and RGB preview)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBand,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layer_files import raster_file
from ...adapters.layers import point_table_from_layer
from ...core.imagery.loss import LossWeights
from ...core.imagery.region_maps import write_region_raster
from ...core.imagery.tiles import MAX_TILE_PIXELS, MIN_TILE_PIXELS, ImagerySettings
from ...core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
from ...core.maps.rasters import rgb_preview
from ...core.outputs import check_output_path
from ...core.text.descriptions import TextFields
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors


class MMGRTrainAlgorithm(CalliperAlgorithm):
    IMAGE, BANDS, POIS, CLASS_FIELD, CATEGORY_FIELD = "IMAGE", "BANDS", "POIS", "CLASS_FIELD", "CATEGORY_FIELD"
    TILE_METRES, TILE_PIXELS, EPOCHS, TEMPERATURE = "TILE_METRES", "TILE_PIXELS", "EPOCHS", "TEMPERATURE"
    CALLIPER_MODEL, TIE_WEIGHT = "CALLIPER_MODEL", "TIE_WEIGHT"
    OUTPUT_MODEL, OUTPUT, RGB_OUTPUT = "OUTPUT_MODEL", "OUTPUT", "RGB_OUTPUT"
    ALGORITHM_ID = "mmgrtrain"
    TITLE = "Train MMGR (imagery + POIs)"
    GROUP_ID = "model"
    HELP = (
        "Learns region embeddings from an image (orthophoto, satellite scene, any raster in a metric CRS) and "
        "the POIs inside each of its tiles, as MMGR does: two augmented views of a tile are pulled together "
        "(intra-modal) and a tile is pulled towards the set of its POIs' descriptions (inter-modal), each with "
        "InfoNCE at the given temperature. Tiles cover the common extent of image and POIs; tiles with less "
        "than half of their pixels holding data are skipped and counted. Bands are normalised by the image's "
        "own statistics.\n\n"
        "With a CaLLiPer model folder, a third term ties each tile to the CaLLiPer embedding of its centre, "
        "so both models share one space.\n\n"
        "Outputs: the MMGR model folder, the region-embedding raster (one pixel per tile, the same format as "
        "a CaLLiPer embedding raster: similarity and cluster maps read it) and its RGB preview."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.IMAGE, "Image"))
        self.addParameter(QgsProcessingParameterBand(
            self.BANDS, "Bands (default: all)", parentLayerParameterName=self.IMAGE, optional=True, allowMultiple=True,
        ))
        self.addParameter(QgsProcessingParameterVectorLayer(self.POIS, "POI layer", [QgsProcessing.SourceType.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterField(self.CLASS_FIELD, "Class field", parentLayerParameterName=self.POIS))
        self.addParameter(QgsProcessingParameterField(
            self.CATEGORY_FIELD, "Category field", parentLayerParameterName=self.POIS, optional=True,
        ))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_METRES, "Tile size (metres)", QgsProcessingParameterNumber.Type.Double, defaultValue=64.0, minValue=1.0,
        ))
        self.addParameter(QgsProcessingParameterNumber(
            self.TILE_PIXELS, "Tile size (pixels)", defaultValue=64, minValue=MIN_TILE_PIXELS, maxValue=MAX_TILE_PIXELS,
        ))
        self.addParameter(QgsProcessingParameterNumber(self.EPOCHS, "Epochs", defaultValue=30, minValue=1))
        temperature = QgsProcessingParameterNumber(
            self.TEMPERATURE, "Temperature", QgsProcessingParameterNumber.Type.Double, defaultValue=0.5, minValue=0.01,
        )
        tie = QgsProcessingParameterNumber(
            self.TIE_WEIGHT, "Weight of the CaLLiPer tie term", QgsProcessingParameterNumber.Type.Double, defaultValue=0.5,
            minValue=0.0,
        )
        for parameter in (temperature, tie):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        self.addParameter(temperature)
        self.addParameter(QgsProcessingParameterFile(
            self.CALLIPER_MODEL, "CaLLiPer model folder to tie to (optional)",
            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True,
        ))
        self.addParameter(tie)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_MODEL, "MMGR model folder"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Region-embedding raster"))
        self.addParameter(QgsProcessingParameterRasterDestination(
            self.RGB_OUTPUT, "RGB preview (first three principal components)", optional=True, createByDefault=True,
        ))

    def processAlgorithm(self, parameters, context, feedback):
        image = raster_file(self.parameterAsRasterLayer(parameters, self.IMAGE, context), "image")
        layer = self.parameterAsVectorLayer(parameters, self.POIS, context)
        bands = tuple(self.parameterAsInts(parameters, self.BANDS, context)) or None
        calliper = self.parameterAsFile(parameters, self.CALLIPER_MODEL, context) or None
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        rgb_out = self.parameterAsOutputLayer(parameters, self.RGB_OUTPUT, context) or None
        control = control_for(feedback)
        with user_errors():
            for path in (out, rgb_out):  # before training: a raster path that cannot be written fails at once
                if path:
                    check_output_path(path, True, inputs=(image,))
            job = MMGRJob(
                image=Path(image), points=point_table_from_layer(layer),
                fields=TextFields(self.parameterAsString(parameters, self.CLASS_FIELD, context),
                                  self.parameterAsString(parameters, self.CATEGORY_FIELD, context) or None),
                out=Path(self.parameterAsString(parameters, self.OUTPUT_MODEL, context)),
                imagery=ImagerySettings(
                    bands=bands, tile_metres=self.parameterAsDouble(parameters, self.TILE_METRES, context),
                    tile_pixels=self.parameterAsInt(parameters, self.TILE_PIXELS, context),
                ),
                train=MMGRTrainSettings(
                    epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
                    loss=LossWeights(
                        temperature=self.parameterAsDouble(parameters, self.TEMPERATURE, context),
                        tie=self.parameterAsDouble(parameters, self.TIE_WEIGHT, context) if calliper else 0.0,
                    ),
                ),
                calliper_model=Path(calliper) if calliper else None,
                layer_name=f"the layer '{layer.name()}'",
                overwrite=True,  # only a folder Calliper wrote is replaced; a user's gets a new subfolder (core.outputs)
            )
            outcome = train_mmgr(job, control.part(0.0, 0.85))
            out = write_region_raster(outcome.model, outcome.tiles, outcome.embeddings, out,
                                      control.part(0.85, 0.95), overwrite=True)
            if rgb_out:
                rgb_out = rgb_preview(out, rgb_out, control=control.part(0.95, 1.0), overwrite=True)
        metrics = outcome.card.metrics
        feedback.pushInfo(
            f"{len(outcome.tiles.index)} tiles, {outcome.tiles.skipped} skipped; {metrics['seconds_per_epoch']:.1f} s "
            f"per epoch; each tile's own POI set ranked first for {100 * metrics['poi_match']['top1']:.1f} % of tiles."
        )
        return {self.OUTPUT_MODEL: str(outcome.folder), self.OUTPUT: str(out),
                self.RGB_OUTPUT: str(rgb_out) if rgb_out else None}
