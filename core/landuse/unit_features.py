"""Feature sets the probes compare: a model's embeddings and two honest baselines.

All of them see a unit through the same points (its representative point, or its
sampled points, averaged), so they differ only in how they describe a place:

- the studied embeddings, from a ``FeatureSource``: a CaLLiPer model (``calliper``),
  an embedding raster such as MMGR's region raster (``mmgr``), or several of them
  concatenated (``mmgr+calliper``).
- ``coords_only``: x, y; anything the embedding adds beyond "where" shows up here.
- ``poi_counts``: counts of each POI class within a radius,
  TF-IDF weighted (the classic POI-bag baseline the paper beats); it sees the same
  POIs the model was trained on, so the comparison isolates what contrastive
  pretraining adds. It is built for several radii and the validation part picks
  one per seed, so the baseline is not handicapped by an arbitrary radius.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, Union

import numpy as np
from pyproj import CRS

from ..crs import crs_label, parse_crs, to_crs
from ..data.poi_io import read_points
from ..errors import FieldError, InputDataError, SettingsError
from ..jobs import JobControl
from ..model.files import LoadedModel
from ..model.inference import embed_locations, model_crs
from .labels import LabelSet, require_fields


class FeatureSource(Protocol):
    """Where a study's embeddings come from: a name (the method's key in the metrics), a CRS and ``embed``.

    ``embed`` returns (N, D) rows for points given in ``crs`` (default: the source's
    own), NaN rows where the source has nothing (outside a raster, a skipped tile).
    ``extent`` (metric CRS) is where the source learnt, ``pois`` and ``poi_class_field``
    the POIs it learnt from (the POI-count baseline's default), None when unknown.
    """

    name: str
    folder: Path
    crs: CRS
    extent: list[float] | None
    pois: Path | None
    poi_class_field: str | None

    def embed(self, xy: np.ndarray, crs: object | None = None, control: JobControl | None = None) -> np.ndarray: ...


@dataclass
class CalliperFeatures:
    """A CaLLiPer model's location embeddings."""

    model: LoadedModel
    name: str = "calliper"

    @property
    def folder(self) -> Path:
        return Path(self.model.folder)

    @property
    def crs(self) -> CRS:
        return model_crs(self.model)

    @property
    def extent(self) -> list[float] | None:
        return self.model.card.training.get("extent")

    @property
    def pois(self) -> Path | None:
        source = self.model.card.training.get("source")
        return Path(source) if source else None

    @property
    def poi_class_field(self) -> str | None:
        return self.model.card.text["fields"]["class_field"]

    def embed(self, xy: np.ndarray, crs: object | None = None, control: JobControl | None = None) -> np.ndarray:
        return embed_locations(self.model, xy, crs=crs, control=control)


@dataclass
class RasterFeatures:
    """The pixel vectors of an embedding raster (a region raster of MMGR, or any Calliper embedding raster).

    The POIs and class field come from the card of the MMGR model named in the raster's tags.
    """

    path: Path
    name: str = "mmgr"

    def __post_init__(self) -> None:
        from ..imagery.files import is_mmgr_folder, read_mmgr_card
        from ..maps.rasters import EmbeddingReader

        with EmbeddingReader(self.path, whole_read_bytes=0) as header:
            self.grid, recorded = header.grid, header.model_folder
        self.folder = Path(recorded) if recorded else Path(self.path)
        card = read_mmgr_card(recorded) if recorded and is_mmgr_folder(recorded) else None
        self.pois = Path(card.training["source"]) if card and card.training.get("source") else None
        self.poi_class_field = card.text["fields"]["class_field"] if card else None

    @property
    def crs(self) -> CRS:
        return self.grid.crs

    @property
    def extent(self) -> list[float] | None:
        return [float(v) for v in self.grid.bounds]

    def embed(self, xy: np.ndarray, crs: object | None = None, control: JobControl | None = None) -> np.ndarray:
        from ..maps.rasters import EmbeddingReader

        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if crs is not None:
            xy = to_crs(xy, parse_crs(crs, "The points"), self.crs)
        if getattr(self, "_reader", None) is None:
            self._reader = EmbeddingReader(self.path)  # kept open: a class raster asks block after block
        return self._reader.vectors_at(xy)


@dataclass
class ConcatFeatures:
    """Several sources side by side, each L2-normalised first so none dominates; named "a+b"."""

    parts: Sequence[FeatureSource]

    def __post_init__(self) -> None:
        self.name = "+".join(part.name for part in self.parts)
        first = self.parts[0]
        self.folder, self.crs, self.extent = first.folder, first.crs, first.extent
        known = next((part for part in self.parts if part.pois is not None), first)
        self.pois, self.poi_class_field = known.pois, known.poi_class_field

    def embed(self, xy: np.ndarray, crs: object | None = None, control: JobControl | None = None) -> np.ndarray:
        crs = crs if crs is not None else self.crs
        control = control or JobControl()
        blocks = []
        for index, part in enumerate(self.parts):
            share = control.part(index / len(self.parts), (index + 1) / len(self.parts))
            values = part.embed(xy, crs, share).astype(np.float64)
            blocks.append(values / np.linalg.norm(values, axis=1, keepdims=True).clip(min=1e-12))
        return np.concatenate(blocks, axis=1)


def feature_source(model: Union[LoadedModel, FeatureSource]) -> FeatureSource:
    """A CaLLiPer model as a feature source; a source is returned as it is."""
    return CalliperFeatures(model) if isinstance(model, LoadedModel) else model


def unit_means(values: np.ndarray, labels: LabelSet, valid: np.ndarray | None = None) -> np.ndarray:
    """(U, F) mean over each unit's points of per-point ``values`` (P, F).

    Points outside ``valid`` (a boolean mask) are left out; a unit with none left gets zeros.
    """
    owner = labels.owner if valid is None else labels.owner[valid]
    sums = np.zeros((len(labels.anchors), values.shape[1]))
    np.add.at(sums, owner, values if valid is None else values[valid])
    return sums / np.maximum(np.bincount(owner, minlength=len(labels.anchors)), 1)[:, None]


def embed_units(source: FeatureSource, labels: LabelSet, control: JobControl | None = None) -> np.ndarray:
    """(U, D) unit embeddings: the mean of the embeddings of each unit's points, L2-normalised again.

    Points the source cannot embed are left out of their unit's mean; a unit with none
    left gets zeros (and a note), so every method is scored on the same units.
    """
    control = control or JobControl()
    control.check("Embedding the labelled units")
    values = np.asarray(source.embed(labels.points, labels.model_crs, control), dtype=np.float64)
    valid = np.isfinite(values).all(axis=1)
    covered = np.bincount(labels.owner[valid], minlength=len(labels.anchors))
    missing = int((covered[labels.rows] == 0).sum())
    if missing:
        control.log(f"{missing} labelled units have no {source.name} embedding (outside its raster, or in a tile "
                    "without data); they get zero features.")
    means = unit_means(values, labels, valid)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    control.report(1.0)
    return (means / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def coordinate_features(labels: LabelSet) -> np.ndarray:
    """(U, 2) metric x, y: the mean of each unit's points (the probe standardises them)."""
    return unit_means(labels.metric_points(), labels).astype(np.float32)


def default_poi_source(source: FeatureSource) -> Path:
    """The POI file the features were learnt from (a model's card), for the POI-count baseline."""
    if source.pois is None or not source.pois.exists():
        raise InputDataError(
            f"The POI layer the model was trained on ({source.pois or 'not recorded'}) is not available for the "
            "POI-count baseline. Give the POI layer explicitly (--pois)."
        )
    return source.pois


def class_counts(tree, codes: np.ndarray, n_classes: int, metric_xy: np.ndarray, radius: float) -> np.ndarray:
    """(N, n_classes) how many of the points in ``tree`` (class ``codes``) lie within ``radius`` of each location."""
    counts = np.zeros((len(metric_xy), n_classes))
    for point, neighbours in enumerate(tree.query_ball_point(metric_xy, r=radius)):
        np.add.at(counts[point], codes[neighbours], 1.0)
    return counts


class PoiCounts:
    """TF-IDF weighted counts of each POI class within a radius: of labelled units, and of any metric points.

    The inverse document frequencies are fitted on the units' counts and use no labels,
    so fitting them on every unit leaks nothing; a class raster reuses them per pixel.
    """

    def __init__(self, labels: LabelSet, pois_path: str | Path, class_field: str, radii: tuple[float, ...]) -> None:
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
        self.codes, _ = classes[known].factorize()
        xy = to_crs(pois.xy[known], pois.crs, labels.metric_crs)
        if not np.isfinite(xy).all():
            raise InputDataError(f"Some POIs of {Path(pois_path).name} cannot be placed in {crs_label(labels.metric_crs)}.")
        self.tree = cKDTree(xy)
        self.units, self.weighting = {}, {}
        for radius in radii:
            key = f"{radius:g} m"
            counts = unit_means(self._counts(labels.metric_points(), radius), labels)
            self.weighting[key] = TfidfTransformer().fit(counts)
            self.units[key] = self.weighting[key].transform(counts).toarray().astype(np.float32)

    def _counts(self, metric_xy: np.ndarray, radius: float) -> np.ndarray:
        return class_counts(self.tree, self.codes, self.codes.max() + 1, metric_xy, radius)

    def at(self, metric_xy: np.ndarray, key: str) -> np.ndarray:
        """(N, C) weighted counts at points in the labels' metric CRS, for the radius named ``key`` ("250 m")."""
        radius = float(key.split()[0])
        return self.weighting[key].transform(self._counts(metric_xy, radius)).toarray().astype(np.float32)


def study_features(model_folder: str | Path | None, region_raster: str | Path | None) -> FeatureSource:
    """What a study scores: a CaLLiPer model, a region raster's embeddings (MMGR), or both side by side."""
    from ..catalog.loading import load_model

    if not (model_folder or region_raster):
        raise SettingsError(
            "Give the embeddings to study: a CaLLiPer model folder, a region raster (MMGR), or both."
        )
    parts: list[FeatureSource] = [RasterFeatures(Path(region_raster))] if region_raster else []
    if model_folder:
        parts.append(CalliperFeatures(load_model(model_folder)))
    return parts[0] if len(parts) == 1 else ConcatFeatures(parts)
