"""Choosing the location encoder's scales from the data when the user does not.

The paper's 100 m .. 10 km suits London (about 50 km across, hundreds of
thousands of POIs). With the official angle (no 2*pi) the longest period is
2*pi*max_lambda, so ``max_lambda = diagonal / (2*pi)`` makes the coarsest wave span
the study area, and ``min_lambda`` = 5x the median POI spacing resolves streets
where POIs are dense. For London this gives roughly the paper's values.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputDataError

SPACING_FACTOR = 5.0
SAMPLE = 50_000


def median_spacing(xy: np.ndarray, seed: int = 0) -> float:
    """Median distance from a POI to its nearest distinct neighbour (metres), on a sample."""
    from scipy.spatial import cKDTree

    unique = np.unique(xy, axis=0)
    if len(unique) < 2:
        raise InputDataError("All POIs share one location: a location model needs POIs at different places.")
    tree = cKDTree(unique)
    rng = np.random.default_rng(seed)
    sample = unique if len(unique) <= SAMPLE else unique[rng.choice(len(unique), SAMPLE, replace=False)]
    distances, _ = tree.query(sample, k=2)
    return float(np.median(distances[:, 1]))


def auto_scales(xy: np.ndarray) -> tuple[float, float]:
    """(min_lambda, max_lambda) in metres for POIs at metric coordinates ``xy``."""
    span = xy.max(axis=0) - xy.min(axis=0)
    diagonal = float(np.hypot(*span))
    max_lambda = max(diagonal / (2 * math.pi), 1.0)
    min_lambda = min(max(SPACING_FACTOR * median_spacing(xy), 1.0), max_lambda / 10.0)
    return round(min_lambda, 1), round(max_lambda, 1)
