"""The Calliper Processing algorithms, one module each, in the order the toolbox lists them.

May import core, adapters and the provider's shared helpers (base, feedback, inputs,
grid_inputs, feature_sink, output_styles); never ui or cli.
"""

from __future__ import annotations

from .classify import ClassifyAlgorithm
from .cluster import ClusterAlgorithm
from .describe import DescribeAlgorithm
from .embed_points import EmbedPointsAlgorithm
from .embedding_raster import EmbeddingRasterAlgorithm
from .mmgr_region_raster import MMGRRegionRasterAlgorithm
from .mmgr_train import MMGRTrainAlgorithm
from .predict import PredictAlgorithm
from .profile import ProfileAlgorithm
from .profile_raster import ProfileRasterAlgorithm
from .rank import RankAlgorithm
from .similarity import SimilarityAlgorithm
from .train import TrainModelAlgorithm
from .transfer import TransferAlgorithm

ALGORITHMS = (
    TrainModelAlgorithm, EmbedPointsAlgorithm,
    EmbeddingRasterAlgorithm, SimilarityAlgorithm, ClusterAlgorithm, RankAlgorithm, DescribeAlgorithm,
    ProfileAlgorithm, ProfileRasterAlgorithm,
    ClassifyAlgorithm, PredictAlgorithm, TransferAlgorithm,
    MMGRTrainAlgorithm, MMGRRegionRasterAlgorithm,
)
