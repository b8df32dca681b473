"""Embeddings that describe a polygon and its neighbourhood, not one point of it.

A unit's embedding at its representative point describes one spot. Pooling over
random points inside the polygon describes all of it: uniform points give every
square metre the same weight, so the mean is the area-weighted mean of the
embedding over the polygon (multipolygon parts by their area). Pooling over a ring
(the band between the unit's outline and ``radius`` metres beyond it) describes its
neighbourhood, as the context features of srai's ContextualCountEmbedder do for POI
counts. Which pooling helps is measured on validation blocks (``pooled_candidates``).
Sampling happens in the labels' metric CRS, so radii are metres for any model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..crs import to_crs
from ..jobs import JobControl
from .labels import LabelSet, sample_inside
from .unit_features import FeatureSource, embed_units

POOL_SAMPLES = 16
RING_RADII = (100.0, 300.0)
POLYGON = "polygon"


def ring_name(radius: float) -> str:
    return f"polygon + {radius:g} m ring"


def pooling_points(metric_geometries, region, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(points, unit of each point): up to ``n`` uniform points inside ``region(geometry)`` for every unit.

    A unit whose region is empty (a point has no inside) gets no points.
    """
    chunks, owners = [np.empty((0, 2))], [np.empty(0, dtype=np.int64)]
    for row, geometry in enumerate(metric_geometries):
        area = region(geometry)
        if area is None or area.is_empty or area.area <= 0:
            continue
        sampled = sample_inside(area, n, np.random.default_rng([seed, row]))
        chunks.append(sampled)
        owners.append(np.full(len(sampled), row, dtype=np.int64))
    return np.concatenate(chunks), np.concatenate(owners)


def inside(geometry):
    """The polygon itself (None for points and lines)."""
    return geometry if geometry.geom_type in ("Polygon", "MultiPolygon") else None


def ring(radius: float):
    """The band within ``radius`` metres of the unit, outside it (a disc around a point)."""
    return lambda geometry: geometry.buffer(radius).difference(geometry)


def pooled_embeddings(source: FeatureSource, labels: LabelSet, metric_geometries, region, n: int = POOL_SAMPLES,
                      seed: int = 42, control: JobControl | None = None) -> np.ndarray:
    """(U, D) each unit's mean embedding over points of its region, L2-normalised; units without any at their
    own embedded points (so every unit has a row)."""
    metric_points, owner = pooling_points(metric_geometries, region, n, seed)
    missing = np.setdiff1d(np.arange(len(labels.anchors)), owner)
    fallback = np.isin(labels.owner, missing)
    points = np.concatenate([to_crs(metric_points, labels.metric_crs, labels.model_crs), labels.points[fallback]])
    owners = np.concatenate([owner, labels.owner[fallback]])
    return embed_units(source, replace(labels, points=points, owner=owners), control)


def pooled_candidates(source: FeatureSource, labels: LabelSet, metric_geometries, radii=RING_RADII,
                      control: JobControl | None = None) -> dict[str, np.ndarray]:
    """The pooled embeddings validation chooses among: the polygon, and the polygon beside each ring."""
    control = control or JobControl()
    steps = 1 + len(radii)
    polygon = pooled_embeddings(source, labels, metric_geometries, inside, control=control.part(0, 1 / steps))
    candidates = {POLYGON: polygon}
    for index, radius in enumerate(radii, start=1):
        around = pooled_embeddings(source, labels, metric_geometries, ring(radius),
                                   control=control.part(index / steps, (index + 1) / steps))
        candidates[ring_name(radius)] = np.hstack([polygon, around])
    return candidates
