"""Labelled units for probing: a polygon or point layer, its targets, and where to embed each unit.

A unit is one feature of the label layer. Its target is a class (one field), a
value (one numeric field) or a distribution (several share fields, normalised to
sum to one). Its location is either its representative point (always inside the
polygon, unlike a centroid) or the mean over seeded random points inside it, so a
large park is described by all of it rather than by one spot. Everything is moved
into the model's CRS first; sampling happens there, so the same polygons give the
same points whatever CRS the label layer is stored in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

from ..crs import choose_metric_crs, crs_label, parse_crs, to_crs
from ..errors import FieldError, InputDataError, SettingsError
from ..jobs import JobControl, LogCallback

TASKS = ("class", "distribution", "value")
SAMPLING_KINDS = ("centroid", "random")
SAMPLING_ROUNDS = 20
MIN_VALUE_UNITS = 5


@dataclass
class LabelSettings:
    """Where each unit is embedded, and which classes are too rare to learn."""

    sampling: str = "centroid"
    samples_per_unit: int = 10
    seed: int = 42
    min_class_size: int = 2

    def validate(self) -> None:
        if self.sampling not in SAMPLING_KINDS:
            raise SettingsError(f"Unknown sampling '{self.sampling}'. Choose one of: {', '.join(SAMPLING_KINDS)}.")
        if self.samples_per_unit < 1:
            raise SettingsError(f"Samples per polygon must be at least 1 (got {self.samples_per_unit}).")
        if self.min_class_size < 1:
            raise SettingsError(f"The minimum class size must be at least 1 (got {self.min_class_size}).")


@dataclass
class LabelSet:
    """The label layer's features, their targets and their locations in the model's CRS.

    ``frame`` keeps every feature with a geometry (in its own CRS, for outputs);
    ``rows`` are the frame rows with a usable label and ``targets`` their labels:
    class indices into ``names``, (K,) shares over ``names``, or values.
    ``anchors`` (one point per feature) and ``points`` (those embedded, ``owner``
    giving each one's feature) are in ``model_crs``; ``metric_anchors`` are the
    anchors in ``metric_crs`` (blocks and radii need metres even for lon/lat models).
    """

    frame: object
    task: str
    fields: tuple[str, ...]
    names: list[str]
    rows: np.ndarray
    targets: np.ndarray
    anchors: np.ndarray
    metric_anchors: np.ndarray
    model_crs: CRS
    metric_crs: CRS
    points: np.ndarray
    owner: np.ndarray
    layer_name: str

    @property
    def class_counts(self) -> dict[str, int]:
        """Labelled units per class (class targets only)."""
        return dict(zip(self.names, np.bincount(self.targets, minlength=len(self.names)).tolist()))

    def metric_points(self) -> np.ndarray:
        """The embedded points in ``metric_crs``."""
        return to_crs(self.points, self.model_crs, self.metric_crs)


def read_label_layer(path: str | Path, layer: str | None = None):
    """The layer as a GeoDataFrame; unreadable, empty or CRS-less layers raise errors naming the file."""
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The label file {path} does not exist.")
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise InputDataError(f"Cannot read {path.name} as a vector layer of labels.", str(exc)) from exc
    if "geometry" not in frame or frame.geometry.isna().all():
        raise InputDataError(
            f"The label layer {path.name} has no features with a geometry. "
            "Choose a layer of labelled polygons or points."
        )
    parse_crs(frame.crs, f"The label layer {path.name}")
    return frame


def require_fields(frame: pd.DataFrame, fields: tuple[str, ...], layer_name: str) -> None:
    """Raise a FieldError listing the available fields when one of ``fields`` is missing."""
    missing = [name for name in fields if name not in frame.columns]
    if missing:
        available = ", ".join(str(c) for c in frame.columns if c != "geometry")
        subject = layer_name[:1].upper() + layer_name[1:]
        raise FieldError(f"{subject} has no field '{missing[0]}'. Available fields: {available}.")


def class_targets(
    frame: pd.DataFrame, field: str, min_class_size: int, layer_name: str, log: LogCallback
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labelled rows, class index per labelled row, class names); classes under ``min_class_size`` are dropped."""
    values = frame[field].astype("string").str.strip()
    counts = values[values.notna() & (values != "")].value_counts()
    rare = counts[counts < min_class_size]
    if len(rare):
        log(f"{len(rare)} class(es) of '{field}' with fewer than {min_class_size} features left out: "
            + ", ".join(f"{name} ({count})" for name, count in rare.items()) + ".")
    names = sorted(counts[counts >= min_class_size].index)
    if len(names) < 2:
        found = ", ".join(f"{name} ({count})" for name, count in counts.items()) or "no values"
        raise FieldError(
            f"The field '{field}' of {layer_name} has {len(names)} class(es) with at least {min_class_size} "
            f"features (found: {found}). Classification needs at least two; choose another field."
        )
    index = {name: i for i, name in enumerate(names)}
    rows = np.flatnonzero(values.isin(names).fillna(False).to_numpy())
    return rows, np.array([index[v] for v in values.iloc[rows]], dtype=np.int64), names


def _numeric(frame: pd.DataFrame, field: str, layer_name: str) -> np.ndarray:
    values = pd.to_numeric(frame[field], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(values).any():
        raise FieldError(f"The field '{field}' of {layer_name} holds no numbers. Choose a numeric field.")
    return values


def value_targets(frame: pd.DataFrame, field: str, layer_name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows with a finite value, the values, [field])."""
    values = _numeric(frame, field, layer_name)
    rows = np.flatnonzero(np.isfinite(values))
    if len(rows) < MIN_VALUE_UNITS:
        raise FieldError(
            f"The field '{field}' of {layer_name} has only {len(rows)} numeric value(s); "
            f"predicting it needs at least {MIN_VALUE_UNITS}."
        )
    if np.ptp(values[rows]) == 0:
        raise FieldError(
            f"The field '{field}' of {layer_name} has the same value ({values[rows[0]]:g}) everywhere: "
            "there is nothing to predict. Choose another field."
        )
    return rows, values[rows], [field]


def distribution_targets(
    frame: pd.DataFrame, fields: tuple[str, ...], layer_name: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows whose shares are all finite, non-negative and not all zero, shares normalised to sum to 1, fields)."""
    if len(fields) < 2:
        raise FieldError("A distribution needs at least two share fields (one per category).")
    shares = np.column_stack([_numeric(frame, field, layer_name) for field in fields])
    usable = np.isfinite(shares).all(axis=1) & (shares >= 0).all(axis=1) & (shares.sum(axis=1) > 0)
    rows = np.flatnonzero(usable)
    if len(rows) < MIN_VALUE_UNITS:
        raise FieldError(
            f"Only {len(rows)} feature(s) of {layer_name} have usable shares in {', '.join(fields)} "
            f"(numbers, none negative, not all zero); at least {MIN_VALUE_UNITS} are needed."
        )
    chosen = shares[rows]
    return rows, chosen / chosen.sum(axis=1, keepdims=True), list(fields)


def sample_inside(geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` uniform random points strictly inside a polygon (rejection sampling in its bounds)."""
    import shapely

    xmin, ymin, xmax, ymax = geometry.bounds
    shapely.prepare(geometry)
    found = np.empty((0, 2))
    for _ in range(SAMPLING_ROUNDS):
        candidates = rng.uniform((xmin, ymin), (xmax, ymax), size=(4 * n, 2))
        inside = shapely.contains_xy(geometry, candidates[:, 0], candidates[:, 1])
        found = np.concatenate([found, candidates[inside]])[:n]
        if len(found) == n:
            break
    return found


def unit_points(geometries, settings: LabelSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchor per unit, points to embed, unit of each point) for geometries already in the model's CRS.

    The anchor is the representative point; with random sampling, polygons get
    ``samples_per_unit`` points inside them (their anchor if they have no area).
    """
    anchor_points = geometries.representative_point()
    anchors = np.column_stack([anchor_points.x.to_numpy(), anchor_points.y.to_numpy()])
    if settings.sampling == "centroid":
        return anchors, anchors.copy(), np.arange(len(anchors))
    chunks, owners = [], []
    for row, geometry in enumerate(geometries):
        sampled = np.empty((0, 2))
        if geometry.geom_type in ("Polygon", "MultiPolygon") and geometry.area > 0:
            sampled = sample_inside(geometry, settings.samples_per_unit, np.random.default_rng([settings.seed, row]))
        chunks.append(sampled if len(sampled) else anchors[row : row + 1])
        owners.append(np.full(len(chunks[-1]), row))
    return anchors, np.concatenate(chunks), np.concatenate(owners)


def check_overlap(metric_anchors: np.ndarray, extent: list[float] | None, layer_name: str, log: LogCallback) -> None:
    """Refuse labels entirely outside the model's training extent; note how many lie outside it.

    The card's extent is in the metric CRS the POIs were trained in; for a lon/lat
    model that is the UTM zone of the data, which is also the labels' zone.
    """
    if not extent:
        return
    x, y = metric_anchors[:, 0], metric_anchors[:, 1]
    xmin, ymin, xmax, ymax = extent
    inside = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
    if not inside.any():
        raise InputDataError(
            f"None of the {len(x)} labelled features of {layer_name} lies within the area the model was trained on "
            f"(x {xmin:.0f} to {xmax:.0f}, y {ymin:.0f} to {ymax:.0f}). Use labels covering the POIs' area, "
            "or a model trained on POIs where the labels are."
        )
    if not inside.all():
        log(f"{int((~inside).sum())} of {len(x)} labelled features lie outside the model's training area; "
            "their embeddings are extrapolations.")


def load_labels(
    path: str | Path,
    task: str,
    fields: tuple[str, ...],
    model_crs: CRS,
    training_extent: list[float] | None,
    settings: LabelSettings,
    layer: str | None = None,
    control: JobControl | None = None,
) -> LabelSet:
    """Read a label layer, check its fields and targets, and place its units in the model's CRS."""
    control = control or JobControl()
    settings.validate()
    if task not in TASKS:
        raise SettingsError(f"Unknown target kind '{task}'. Choose one of: {', '.join(TASKS)}.")
    path = Path(path)
    layer_name = f"the label layer {path.name}" + (f" ({layer})" if layer else "")
    frame = read_label_layer(path, layer)
    require_fields(frame, fields, layer_name)
    usable = frame.geometry.notna() & ~frame.geometry.is_empty
    if not usable.all():
        control.log(f"{int((~usable).sum())} features of {layer_name} have no geometry and were left out.")
    frame = frame[usable].reset_index(drop=True)
    if task == "class":
        rows, targets, names = class_targets(frame, fields[0], settings.min_class_size, layer_name, control.log)
    elif task == "value":
        rows, targets, names = value_targets(frame, fields[0], layer_name)
    else:
        rows, targets, names = distribution_targets(frame, fields, layer_name)
    source_crs = parse_crs(frame.crs)
    if source_crs != model_crs:
        control.log(f"Labels moved from {crs_label(source_crs)} to the model's CRS {crs_label(model_crs)}.")
    anchors, points, owner = unit_points(frame.geometry.to_crs(model_crs), settings)
    if not (np.isfinite(anchors).all() and np.isfinite(points).all()):
        raise InputDataError(
            f"Some features of {layer_name} cannot be placed in the model's CRS {crs_label(model_crs)}."
        )
    metric_crs = choose_metric_crs(anchors, model_crs)
    metric_anchors = to_crs(anchors, model_crs, metric_crs)
    check_overlap(metric_anchors[rows], training_extent, layer_name, control.log)
    return LabelSet(
        frame, task, tuple(fields), names, rows, targets, anchors, metric_anchors, model_crs, metric_crs, points, owner,
        layer_name,
    )
