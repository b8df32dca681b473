"""The parameters every algorithm that paints a model over an extent shares: model, extent, pixel size, mask.

Embedding and profile rasters ask the same questions in the same words, so they are
defined once here; each algorithm adds its own outputs and options around them.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)

from ..core.crs import crs_label
from ..core.maps.grid import RasterGrid
from ..core.maps.rasters import embedding_grid
from ..core.model.files import LoadedModel
from .inputs import extent_value

MODEL, EXTENT, PIXEL_SIZE, WHOLE_EXTENT, NEAR_POIS = "MODEL", "EXTENT", "PIXEL_SIZE", "WHOLE_EXTENT", "NEAR_POIS"


def add_grid_parameters(algorithm) -> None:
    """MODEL (a folder), EXTENT (any CRS) and PIXEL_SIZE (metres, 10 by default)."""
    algorithm.addParameter(QgsProcessingParameterFile(MODEL, "Model folder", behavior=QgsProcessingParameterFile.Behavior.Folder))
    algorithm.addParameter(QgsProcessingParameterExtent(EXTENT, "Extent"))
    algorithm.addParameter(QgsProcessingParameterNumber(
        PIXEL_SIZE, "Pixel size (metres)", QgsProcessingParameterNumber.Type.Double, defaultValue=10.0, minValue=0.01,
    ))


def whole_extent_parameter() -> QgsProcessingParameterBoolean:
    return QgsProcessingParameterBoolean(WHOLE_EXTENT, "Whole extent (also where the model saw no POI: the sea, fields)",
                                         False)


def near_pois_parameter() -> QgsProcessingParameterNumber:
    """The distance to the training POIs pixels are computed within (the caller makes it an advanced option)."""
    return QgsProcessingParameterNumber(
        NEAR_POIS, "Distance around the training POIs (metres; 0: chosen from their spacing)",
        QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0,
    )


def model_grid(algorithm, parameters: dict, context, feedback, model: LoadedModel, bands: int) -> RasterGrid:
    """The grid of EXTENT and PIXEL_SIZE for ``model``, described in the log; call inside ``user_errors``."""
    pixel_size = algorithm.parameterAsDouble(parameters, PIXEL_SIZE, context)
    extent, extent_crs = extent_value(algorithm, parameters, EXTENT, context)
    grid = embedding_grid(model, extent, pixel_size, extent_crs)
    feedback.pushInfo(f"{grid.width} x {grid.height} pixels of {pixel_size:g} m in {crs_label(grid.crs)}, {bands} bands.")
    return grid


def near_pois_value(algorithm, parameters: dict, context) -> float | None:
    """NEAR_POIS in metres, or None for the distance chosen from the POIs' spacing."""
    return algorithm.parameterAsDouble(parameters, NEAR_POIS, context) or None
