"""The Calliper Processing provider: every capability as a scriptable, modeller-ready algorithm."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .classify_algorithm import ClassifyAlgorithm
from .cluster_algorithm import ClusterAlgorithm
from .describe_algorithm import DescribeAlgorithm
from .embed_points_algorithm import EmbedPointsAlgorithm
from .embedding_raster_algorithm import EmbeddingRasterAlgorithm
from .mmgr_region_raster_algorithm import MMGRRegionRasterAlgorithm
from .mmgr_train_algorithm import MMGRTrainAlgorithm
from .predict_algorithm import PredictAlgorithm
from .profile_algorithm import ProfileAlgorithm
from .profile_raster_algorithm import ProfileRasterAlgorithm
from .rank_algorithm import RankAlgorithm
from .similarity_algorithm import SimilarityAlgorithm
from .train_algorithm import TrainModelAlgorithm
from .transfer_algorithm import TransferAlgorithm

ALGORITHMS = (
    TrainModelAlgorithm, EmbedPointsAlgorithm,
    EmbeddingRasterAlgorithm, SimilarityAlgorithm, ClusterAlgorithm, RankAlgorithm, DescribeAlgorithm,
    ProfileAlgorithm, ProfileRasterAlgorithm,
    ClassifyAlgorithm, PredictAlgorithm, TransferAlgorithm,
    MMGRTrainAlgorithm, MMGRRegionRasterAlgorithm,
)


class CalliperProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "calliper"

    def name(self) -> str:
        return "Calliper"

    def icon(self) -> QIcon:
        return QIcon(str(Path(__file__).resolve().parent.parent / "resources" / "icon.svg"))

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        """Calliper writes tiled, compressed GeoTIFFs only."""
        return ["tif"]

    def loadAlgorithms(self) -> None:
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
