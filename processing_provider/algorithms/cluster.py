"""Processing: Cluster map (k-means regions of an embedding raster, named by the POI classes they resemble)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ...adapters.layer_files import raster_file
from ...core.imagery.region_maps import cluster_namer_for
from ...core.maps.clusters import MAX_CLUSTERS, ClusterSettings, cluster_raster, naming_model_folder
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..output_styles import keep_style_on_completion


class ClusterAlgorithm(CalliperAlgorithm):
    EMBEDDING, K, MODEL, OUTPUT, LEGEND = "EMBEDDING", "K", "MODEL", "OUTPUT", "LEGEND"
    ALGORITHM_ID = "cluster"
    TITLE = "Cluster map"
    GROUP_ID = "maps"
    HELP = (
        "Groups the pixels of an embedding raster into K regions of similar places (k-means on a pixel "
        "sample) and names each by the POI classes whose descriptions are closest to it, e.g. "
        "'restaurant / cafe / bar'. The output is a paletted raster (255 = no data) with a legend "
        "(.json) and a QGIS style (.qml) beside it, which QGIS uses to show the names.\n\n"
        "The model names the clusters; without one, the model recorded in the embedding raster is used. "
        "A region raster from MMGR (imagery + POIs) is named by its MMGR model."
    )

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.EMBEDDING, "Embedding raster"))
        self.addParameter(QgsProcessingParameterNumber(
            self.K, "Number of clusters", QgsProcessingParameterNumber.Type.Integer, defaultValue=6, minValue=2,
            maxValue=MAX_CLUSTERS,
        ))
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, "Model folder (default: the one that wrote the raster)",
            behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True,
        ))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Cluster map"))
        self.addOutput(QgsProcessingOutputFile(self.LEGEND, "Legend (JSON)"))

    def processAlgorithm(self, parameters, context, feedback):
        embedding = raster_file(self.parameterAsRasterLayer(parameters, self.EMBEDDING, context), "embedding raster")
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        settings = ClusterSettings(k=self.parameterAsInt(parameters, self.K, context))
        with user_errors():
            folder = naming_model_folder(embedding, self.parameterAsFile(parameters, self.MODEL, context) or None)
            namer = cluster_namer_for(folder)  # a CaLLiPer model, or an MMGR model for a region raster
            result = cluster_raster(embedding, out, namer, settings, control_for(feedback), overwrite=True)
        keep_style_on_completion(context, out)  # the key Processing loads it under
        for entry in result.legend:
            feedback.pushInfo(f"{entry.value:3d}  {entry.colour}  {entry.label}  ({100 * entry.share:.0f} % of pixels)")
        return {self.OUTPUT: str(result.raster), self.LEGEND: str(result.legend_file)}
