"""Feature sets the probes compare: CaLLiPer embeddings and two honest baselines.

All three see a unit through the same points (its representative point, or its
sampled points, averaged), so they differ only in how they describe a place:

- ``calliper``: the model's embedding.
- ``coords_only``: x, y; anything the embedding adds beyond "where" shows up here.
- ``poi_counts``: counts of each POI class within a radius,
  TF-IDF weighted (the classic POI-bag baseline the paper beats); it sees the same
  POIs the model was trained on, so the comparison isolates what contrastive
  pretraining adds. It is built for several radii and the validation part picks
  one per seed, so the baseline is not handicapped by an arbitrary radius.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .crs import crs_label, to_crs
from .errors import FieldError, InputDataError, SettingsError
from .inference import embed_locations
from .jobs import JobControl
from .labels import LabelSet, require_fields
from .model_files import LoadedModel
from .poi_io import read_points


def unit_means(values: np.ndarray, labels: LabelSet) -> np.ndarray:
    """(U, F) mean over each unit's points of per-point ``values`` (P, F)."""
    sums = np.zeros((len(labels.anchors), values.shape[1]))
    np.add.at(sums, labels.owner, values)
    return sums / np.bincount(labels.owner, minlength=len(labels.anchors))[:, None]


def embed_units(model: LoadedModel, labels: LabelSet, control: JobControl | None = None) -> np.ndarray:
    """(U, D) unit embeddings: the mean of the embeddings of each unit's points, L2-normalised again."""
    means = unit_means(embed_locations(model, labels.points, control=control).astype(np.float64), labels)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def coordinate_features(labels: LabelSet) -> np.ndarray:
    """(U, 2) metric x, y: the mean of each unit's points (the probe standardises them)."""
    return unit_means(labels.metric_points(), labels).astype(np.float32)


def default_poi_source(model: LoadedModel) -> Path:
    """The POI file the model was trained on, from its card."""
    source = model.card.training.get("source")
    if not source or not Path(source).exists():
        raise InputDataError(
            f"The POI layer the model was trained on ({source or 'not recorded'}) is not available for the "
            "POI-count baseline. Give the POI layer explicitly (--pois)."
        )
    return Path(source)


def poi_count_features(
    labels: LabelSet, pois_path: str | Path, class_field: str, radii: tuple[float, ...]
) -> dict[str, np.ndarray]:
    """Per radius (keyed "250 m"), (U, C) TF-IDF weighted counts of the C POI classes around each unit's points.

    The inverse document frequencies use no labels, so fitting them on every unit leaks nothing.
    """
    from scipy.spatial import cKDTree
    from sklearn.feature_extraction.text import TfidfTransformer

    if not radii or min(radii) <= 0:
        raise SettingsError(f"POI-count radii must be positive, in metres (got {radii}).")
    pois = read_points(pois_path)
    require_fields(pois.attributes, (class_field,), f"the POI layer {Path(pois_path).name}")
    classes = pois.attributes[class_field].astype("string").str.strip()
    known = (classes.notna() & (classes != "")).to_numpy()
    if not known.any():
        raise FieldError(f"The field '{class_field}' of the POI layer {Path(pois_path).name} is empty.")
    codes, _ = classes[known].factorize()
    xy = to_crs(pois.xy[known], pois.crs, labels.metric_crs)
    if not np.isfinite(xy).all():
        raise InputDataError(f"Some POIs of {Path(pois_path).name} cannot be placed in {crs_label(labels.metric_crs)}.")
    tree = cKDTree(xy)
    metric_points = labels.metric_points()
    features = {}
    for radius in radii:
        counts = np.zeros((len(metric_points), codes.max() + 1))
        for point, neighbours in enumerate(tree.query_ball_point(metric_points, r=radius)):
            np.add.at(counts[point], codes[neighbours], 1.0)
        weighted = TfidfTransformer().fit_transform(unit_means(counts, labels))
        features[f"{radius:g} m"] = weighted.toarray().astype(np.float32)
    return features
