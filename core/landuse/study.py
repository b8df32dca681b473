"""Land-use classification and value prediction from a model's embeddings, as map layers.

One study = labels -> feature sets (the studied embeddings at a point and pooled over
the polygon and rings around it, coordinates only, POI counts, the polygon's shape,
and the shape fused with the others) -> the same probe, splits and seeds for each ->
scores -> the outputs' method picked on validation blocks -> a probe trained on every
labelled unit -> predictions written back onto the label geometries (and, for
classes, a class raster over an extent, with the best method pixels can have). The studied embeddings come from a
``FeatureSource``: a CaLLiPer model, an MMGR region raster, or both concatenated.
All outputs of a run appear together or not at all: they are written into a hidden staging folder and moved into place
only once every file is complete, so a cancelled or failed run leaves nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np

from ..atomic import atomic_group
from ..crs import parse_crs
from ..data.vector_io import write_geopackage
from ..errors import SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from ..model.files import LoadedModel
from ..outputs import check_output_files
from .ensemble import (
    MIN_BLOCKS, TWIN_KEY, Blend, design, ensemble_key, evaluate_ensemble, fit_members, headline, members,
)
from .evaluation import FeatureSet, MethodScores, evaluate_methods, fit_on_all
from .geometry import SHAPE_FEATURES, repaired, unit_shapes
from .labels import LabelSet, LabelSettings, load_labels
from .pooling import RING_RADII, pooled_candidates
from .probes import FittedProbe, ProbeSettings
from .report import method_label, write_report
from .splits import SplitSettings, make_split
from .unit_features import (
    FeatureSource,
    PoiCounts,
    coordinate_features,
    default_poi_source,
    embed_units,
    feature_source,
)

PREDICTIONS_FILE = "predictions.gpkg"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
CLASS_RASTER_FILE = "classes.tif"
CLASS_STYLE_FILE = "classes.qml"
CLASS_NODATA = 255


@dataclass
class StudySettings:
    """How units are placed, split and probed, and which POIs feed the POI-count baseline.

    ``pois`` of None means the POI layer (and class field) the model was trained on;
    the POI-count baseline is built at each of ``poi_radii`` and validation picks one per seed.
    """

    labels: LabelSettings = field(default_factory=LabelSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    pois: str | None = None
    poi_class_field: str | None = None
    poi_radii: tuple[float, ...] = (100.0, 250.0, 500.0, 1000.0)
    labels_layer: str | None = None
    overwrite: bool = False

    @classmethod
    def from_options(
        cls,
        *,
        split: str = "spatial",
        block_size: float = 500.0,
        probe: str = "linear",
        seeds: Sequence[int] | None = None,
        sampling: str = "centroid",
        samples_per_unit: int = 10,
        min_class_size: int = 2,
        **fields,
    ):
        """Settings from the flat options of a front end (command line, Processing); ``fields`` go on as they are."""
        return cls(
            labels=LabelSettings(sampling=sampling, samples_per_unit=samples_per_unit, min_class_size=min_class_size),
            split=SplitSettings(kind=split, block_size=block_size),
            probe=ProbeSettings(kind=probe, seeds=tuple(seeds)) if seeds else ProbeSettings(kind=probe),
            **fields,
        )

    def validate(self) -> None:
        self.labels.validate()
        self.split.validate()
        self.probe.validate()
        if not self.poi_radii or min(self.poi_radii) <= 0:
            raise SettingsError(f"POI-count radii must be positive, in metres (got {self.poi_radii}).")


@dataclass
class ClassifySettings(StudySettings):
    """A study of classes, plus an optional class raster over ``extent`` (in ``extent_crs``, default the features')."""

    extent: tuple[float, float, float, float] | None = None
    extent_crs: str | None = None
    pixel_size: float | None = None

    def validate(self) -> None:
        super().validate()
        if (self.extent is None) != (self.pixel_size is None):
            raise SettingsError("A class raster needs both an extent and a pixel size (or neither).")
        if self.pixel_size is not None and self.pixel_size <= 0:
            raise SettingsError(f"The pixel size must be positive (got {self.pixel_size}).")


@dataclass
class StudyResult:
    """Where the outputs are and the metrics document (as in metrics.json)."""

    outputs: dict[str, Path]
    metrics: dict

    @property
    def folder(self) -> Path:
        """The folder the outputs went to: the one asked for, or a new subfolder of it when it is the user's."""
        return Path(self.outputs["predictions"]).parent


@dataclass
class ClassifyResult(StudyResult):
    """A classification's outputs; ``classes`` in the order of the raster's class values."""

    classes: list[str] = field(default_factory=list)


@dataclass
class OutputMethod:
    """A method the outputs use, picked on validation blocks: its name, every unit's features, the counts radius.

    ``at`` gives the features at pixel centres, for a method made of the embeddings (and POI counts) only.
    """

    name: str
    unit_features: np.ndarray
    counts: PoiCounts | None = None
    counts_key: str = ""

    def at(self, source: FeatureSource, metric_xy: np.ndarray, crs) -> np.ndarray:
        """Features at pixel centres (``crs``, metric): the embeddings, with the POI counts when the method has them."""
        vectors = np.asarray(source.embed(metric_xy, crs), dtype=np.float32)
        if self.counts is None:
            return vectors
        return np.hstack([vectors, self.counts.at(metric_xy, self.counts_key)])


@dataclass
class _Study:
    source: FeatureSource
    labels: LabelSet
    scores: dict[str, MethodScores]
    probe: FittedProbe | Blend
    pois: Path
    notes: list[str]
    default: OutputMethod
    raster: OutputMethod
    candidates: list[str]
    test_map: dict | None = None
    headline: dict | None = None


def fused_names(name: str) -> dict[str, str]:
    """The study's method keys around the studied features ``name`` ("calliper")."""
    return {
        "plain": name, "counts": f"{name}_poi_counts", "pooled": f"{name}_pooled",
        "geometry": "geometry", "geometry_counts": "geometry_poi_counts", "geometry_features": f"geometry_{name}",
        "geometry_features_counts": f"geometry_{name}_poi_counts",
    }


def default_candidates(name: str, methods) -> list[str]:
    """The methods the outputs may use, in order of preference on ties: the plain ones, then those with geometry.

    Coordinates and POI counts alone stay baselines: a map of where, or of POIs, is not what is studied.
    """
    keys = fused_names(name)
    order = ("plain", "counts", "pooled", "geometry", "geometry_counts", "geometry_features", "geometry_features_counts")
    return [keys[k] for k in order if keys[k] in methods]


def best_on_validation(scores: dict[str, MethodScores], candidates: list[str]) -> str:
    """The candidate with the best mean validation score; test scores are never looked at."""
    return max(candidates, key=lambda name: scores[name].validation_mean())


def most_chosen(features: FeatureSet, scores: MethodScores) -> tuple[str, np.ndarray]:
    """(candidate, features) of a method: the candidate validation picked most often (the matrix if only one)."""
    if not isinstance(features, dict):
        return "", features
    key = max(features, key=scores.chosen.count)
    return key, features[key]


def _stack(*parts: FeatureSet) -> FeatureSet:
    """Parts side by side; a part with candidates (one per radius) makes the result have the same candidates."""
    keyed = [part for part in parts if isinstance(part, dict)]
    if not keyed:
        return np.hstack(parts)
    return {key: np.hstack([part[key] if isinstance(part, dict) else part for part in parts]) for key in keyed[0]}


def _rows(features: dict[str, FeatureSet], rows: np.ndarray) -> dict[str, FeatureSet]:
    return {name: ({k: v[rows] for k, v in x.items()} if isinstance(x, dict) else x[rows]) for name, x in features.items()}


def collecting(control: JobControl, notes: list[str]) -> JobControl:
    """A control whose log messages are also kept, for the report."""

    def log(message: str) -> None:
        notes.append(message)
        control.log(message)

    return JobControl(control.progress, control.is_cancelled, log, control.start, control.end)


def _unit_feature_sets(source: FeatureSource, labels: LabelSet, counts: PoiCounts, control: JobControl):
    """(the features of every method but the shape fused with the embeddings, over all units; the shapes or None).

    The fused ones wait for the validation scores of these: they take the point or the pooled embeddings."""
    keys = fused_names(source.name)
    embeddings = embed_units(source, labels, control.part(0.0, 0.5))
    coordinates = coordinate_features(labels)
    features: dict[str, FeatureSet] = {
        keys["plain"]: embeddings, "coords_only": coordinates, "poi_counts": dict(counts.units),
        keys["counts"]: _stack(embeddings, counts.units),
    }
    metric_geometries = repaired(labels.frame.geometry.to_crs(labels.metric_crs))
    shapes = unit_shapes(metric_geometries, labels.rows, control.log)
    if shapes is None:
        return features, None
    features.update({
        keys["pooled"]: pooled_candidates(source, labels, metric_geometries, control=control.part(0.5, 1.0)), keys["geometry"]: shapes, "geometry_coords": np.hstack([shapes, coordinates]),
        "geometry_coords_poi_counts": _stack(shapes, coordinates, counts.units),
        keys["geometry_counts"]: _stack(shapes, counts.units),
    })
    return features, shapes


def _run_study(
    source: FeatureSource, labels_path: str | Path, task: str, fields: tuple[str, ...],
    settings: StudySettings, control: JobControl, check_labels: Callable[[LabelSet], None] | None = None,
) -> _Study:
    """The study's scores and fitted probe; ``check_labels`` refuses what cannot be written before the slow part.

    The embeddings fused with the geometry are the point or the pooled ones, whichever scores better on validation.
    """
    notes: list[str] = []
    control = collecting(control, notes)
    pois = Path(settings.pois) if settings.pois else default_poi_source(source)
    class_field = settings.poi_class_field or source.poi_class_field
    if not class_field:
        raise SettingsError("Name the class field of the POI layer for the POI-count baseline (--poi-field).")
    labels = load_labels(
        labels_path, task, fields, source.crs, source.extent, settings.labels, settings.labels_layer, control,
    )
    if check_labels is not None:
        check_labels(labels)
    rows, keys = labels.rows, fused_names(source.name)
    counts = PoiCounts(labels, pois, class_field, settings.poi_radii)
    features, shapes = _unit_feature_sets(source, labels, counts, control.part(0.0, 0.15))
    n_outputs = len(labels.names)

    def evaluate(sets: dict[str, FeatureSet], part: JobControl) -> dict[str, MethodScores]:
        return evaluate_methods(_rows(sets, rows), labels.targets, task, n_outputs, labels.metric_anchors[rows],
                                settings.split, settings.probe, part)

    scores = evaluate(features, control.part(0.15, 0.6))
    fused = features[keys["plain"]]
    if shapes is not None:
        pooling = best_on_validation(scores, [keys["plain"], keys["pooled"]])
        chosen, fused = most_chosen(features[pooling], scores[pooling])
        control.log(f"The geometry is fused with the {'pooled (' + chosen + ')' if chosen else 'point'} embeddings, "
                    "the better of both on validation.")
        features[keys["geometry_features"]] = np.hstack([shapes, fused])
        features[keys["geometry_features_counts"]] = _stack(shapes, fused, counts.units)
        second = {name: features[name] for name in (keys["geometry_features"], keys["geometry_features_counts"])}
        scores.update(evaluate(second, control.part(0.6, 0.7)))
    if task == "class":
        return _class_study(source, labels, settings, features, scores, fused, counts, pois, notes, control)
    candidates = default_candidates(source.name, scores)
    name = best_on_validation(scores, candidates)
    key, unit_features = most_chosen(features[name], scores[name])
    default = OutputMethod(name, unit_features, counts if name == keys["counts"] else None, key)
    control.log(f"Outputs use {method_label(name)}: the best validation score among "
                f"{', '.join(map(method_label, candidates))} ({scores[name].validation_mean():.3f}; test scores are "
                "not used to choose).")
    probe = fit_on_all(default.unit_features[rows], labels.targets, task, n_outputs, settings.split, settings.probe)
    return _Study(source, labels, scores, probe, pois, notes, default, default, candidates)


def _raster_method(name: str, features: dict[str, FeatureSet], scores: dict[str, MethodScores],
                   counts: PoiCounts) -> OutputMethod:
    """The class raster's method: the best on validation of those pixels can have (no shape, no polygon to pool)."""
    keys = fused_names(name)
    raster_name = best_on_validation(scores, [keys["plain"], keys["counts"]])
    raster_key, raster_features = most_chosen(features[raster_name], scores[raster_name])
    return OutputMethod(raster_name, raster_features, counts if raster_name == keys["counts"] else None, raster_key)


def _class_study(source: FeatureSource, labels: LabelSet, settings: StudySettings, features: dict[str, FeatureSet],
                 scores: dict[str, MethodScores], fused: np.ndarray, counts: PoiCounts, pois: Path, notes: list[str],
                 control: JobControl) -> _Study:
    """Classes: the boosted trees and the linear probe on the embedding-free features, the probe on the shape and
    the embeddings, and their blends (see ``ensemble``); the outputs add the model only where it counts."""
    rows, name, n_classes = labels.rows, source.name, len(labels.names)
    xy = labels.metric_anchors[rows]
    shapes = features.get("geometry")
    parts = [coordinate_features(labels), counts.units] if shapes is None else [
        shapes, coordinate_features(labels), counts.units]
    prefix = "coords" if shapes is None else "geometry_coords"
    free_key, model_key = f"{prefix}_poi_counts", f"{prefix}_poi_counts_{name}"
    features[free_key], features[model_key] = _stack(*parts), _stack(*parts, fused)
    new = {key: features[key] for key in (free_key, model_key) if key not in scores}
    scores.update(evaluate_methods(_rows(new, rows), labels.targets, "class", n_classes, xy, settings.split,
                                   settings.probe, control.part(0.7, 0.75)))
    n_free = next(iter(features[free_key].values())).shape[1]
    keys = fused_names(name)
    n_shape, shaped = (0, keys["plain"]) if shapes is None else (shapes.shape[1], keys["geometry_features"])
    blend = members(n_free, n_free + fused.shape[1], free_key, shaped, n_shape)
    default_name, radii = ensemble_key(name), scores[free_key].chosen
    run = evaluate_ensemble({k: v[rows] for k, v in features[model_key].items()}, radii, labels.targets, n_classes,
                            xy, settings.split, settings.probe.seeds, blend, default_name, control.part(0.75, 0.95))
    scores.update(run.scores)
    key = max(features[model_key], key=radii.count)
    x = features[model_key][key]
    fitted = fit_members(x[rows], labels.targets, np.arange(len(rows)), blend, n_classes,
                         settings.probe.seeds[0]).weighted(run.map_weights())
    without = [method for method in scores if name not in method]
    line = headline(scores, default_name, without)
    line.update(outputs=fitted.describe(), seeds_taking_model=sum(run.took_model), design=design(),
                outputs_method=default_name if run.map_takes_model() else TWIN_KEY)
    took = (f"the model's blend beat the blend without it out of fold on training and validation blocks in "
            f"{sum(run.took_model)} of {len(run.took_model)} seeds")
    control.log(f"Outputs use {fitted.describe()} ({took}; POI counts within {key}). {line['verdict']}")
    if min(run.blocks) < MIN_BLOCKS:
        control.log(f"The training and validation units of a split fall in as few as {min(run.blocks)} blocks of "
                    f"{settings.split.block_size:g} m, fewer than {MIN_BLOCKS}: too few to tell a gain of the model "
                    "from luck, so those seeds use the blend without it. A smaller block size gives more blocks.")
    default = OutputMethod(default_name, x, None, key)
    test_map = _test_map(labels, features[model_key][radii[0]][rows], settings, run.first)
    return _Study(source, labels, scores, fitted, pois, notes, default,
                  _raster_method(name, features, scores, counts), [default_name], test_map, line)


def _test_map(labels: LabelSet, x: np.ndarray, settings: StudySettings, fitted: Blend) -> dict:
    """Where the default method (``fitted`` on the first seed's training blocks) is right and wrong on that seed's
    test units (for the report's map)."""
    seed = settings.probe.seeds[0]
    parts = make_split(labels.metric_anchors[labels.rows], settings.split, seed)
    right = fitted.predict(x[parts.test]).argmax(axis=1) == labels.targets[parts.test]
    part = np.zeros(len(labels.rows), dtype=np.int64)  # 0 train or validation, 1 test right, 2 test wrong
    part[parts.test] = np.where(right, 1, 2)
    xy = labels.metric_anchors[labels.rows]
    return {"seed": seed, "x": np.round(xy[:, 0], 1).tolist(), "y": np.round(xy[:, 1], 1).tolist(),
            "part": part.tolist()}


def _metrics_document(labels_path, settings: StudySettings, study: _Study) -> dict:
    """metrics.json: {"split", "methods": {method: {metric: {"mean", "std"}}}} plus what explains them."""
    labels = study.labels
    document = {
        "split": settings.split.kind,
        "methods": {name: scores.summary() for name, scores in study.scores.items()},
        "task": labels.task,
        "fields": list(labels.fields),
        "n_units": int(len(labels.rows)),
        "labels": str(Path(labels_path).absolute()),
        "model": str(study.source.folder),
        "features": study.source.name,
        "protocol": {
            "split_description": settings.split.describe(),
            "block_size_m": settings.split.block_size if settings.split.kind == "spatial" else None,
            "test_fraction": settings.split.test_fraction,
            "val_fraction": settings.split.val_fraction,
            "probe": settings.probe.kind,
            "seeds": list(settings.probe.seeds),
            "sampling": settings.labels.sampling,
            "samples_per_unit": settings.labels.samples_per_unit if settings.labels.sampling == "random" else 1,
            "poi_radii_m": list(settings.poi_radii),
            "pois": str(study.pois),
            "shape_features": list(SHAPE_FEATURES),
            "ring_radii_m": list(RING_RADII),
        },
        "chosen": {name: scores.chosen for name, scores in study.scores.items() if any(scores.chosen)},
        "default_method": study.default.name,
        "default_candidates": study.candidates,
        "raster_method": study.raster.name,
        "validation": {name: scores.validation_mean() for name, scores in study.scores.items()},
        "notes": study.notes,
    }
    if study.headline:
        document["headline"] = study.headline
    if labels.task == "class":
        document["classes"] = labels.class_counts
        document["per_class_f1"] = {name: s.per_class_f1(labels.names) for name, s in study.scores.items()}
        document["confusion_matrix"] = {name: s.confusion_matrix() for name, s in study.scores.items()}
        document["test_map"] = study.test_map
    return document


def field_names(prefix: str, names: Sequence[str]) -> list[str]:
    """Unique, GIS-safe column names ``prefix + name`` ("lane;parking" -> "p_lane_parking")."""
    columns: list[str] = []
    for name in names:
        base = prefix + (re.sub(r"\W+", "_", str(name)).strip("_").lower() or "class")
        column, n = base, 2
        while column in columns:
            column, n = f"{base}_{n}", n + 1
        columns.append(column)
    return columns


def class_columns(names: Sequence[str], probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """The fields of a class prediction: ``predicted`` (the likeliest class), its ``probability``, ``p_<class>``."""
    columns = {"predicted": np.array(names, dtype=object)[probabilities.argmax(axis=1)],
               "probability": probabilities.max(axis=1)}
    columns.update(zip(field_names("p_", names), probabilities.T))
    return columns


def with_columns(frame, columns: dict[str, np.ndarray], what: str, log: Callable[[str], None]):
    """A copy of the layer's features with ``columns`` added; fields of the same names are replaced (and logged)."""
    import geopandas as gpd
    import pandas as pd

    replaced = [name for name in columns if name in frame.columns]
    if replaced:
        log(f"Fields {', '.join(replaced)} of the layer are replaced by {what} in the output.")
    kept = frame.drop(columns=replaced).reset_index(drop=True)
    added = pd.DataFrame(columns)
    return gpd.GeoDataFrame(pd.concat([kept, added], axis=1), geometry=kept.geometry.name, crs=kept.crs)


def _prediction_frame(study: _Study, control: JobControl):
    """The label features (own CRS) with the map probe's predictions for every one of them."""
    labels = study.labels
    predicted = study.probe.predict(study.default.unit_features)
    if labels.task == "class":
        columns = class_columns(labels.names, predicted)
    elif labels.task == "distribution":
        columns = dict(zip(field_names("pred_", labels.names), predicted.T))
    else:
        columns = {"predicted": predicted}
    labelled = np.zeros(len(labels.frame), dtype=np.int32)
    labelled[labels.rows] = 1
    columns["labelled"] = labelled
    return with_columns(labels.frame, columns, "predictions", control.log)


def _class_raster_grid(labels: LabelSet, settings: ClassifySettings, folder: Path):
    """The class raster's grid in the labels' metric CRS, refused when the raster could not fit on the disk."""
    from ..maps.grid import estimate_raster, grid_from_extent

    extent_crs = parse_crs(settings.extent_crs, "The extent") if settings.extent_crs else labels.model_crs
    grid = grid_from_extent(settings.extent, settings.pixel_size, labels.metric_crs, extent_crs=extent_crs)
    estimate_raster(grid, 2, "uint8").check_free_space(folder)
    return grid


def _raster_probe(study: _Study, settings: StudySettings, metrics: dict) -> FittedProbe:
    """The probe of the class raster's method: the outputs' own, or one fitted on the method pixels can have."""
    if study.raster is study.default:
        return study.probe
    note = (f"The class raster uses {method_label(study.raster.name)}, the best on validation of the methods pixels "
            "can have (a pixel has no shape and no polygon to pool over).")
    metrics["notes"].append(note)
    labels = study.labels
    return fit_on_all(study.raster.unit_features[labels.rows], labels.targets, labels.task, len(labels.names),
                      settings.split, settings.probe)


def _write_class_raster(study: _Study, probe: FittedProbe, grid, paths: dict[str, Path], control: JobControl) -> None:
    """Band 1: most likely class (paletted, 255 = no data); band 2: its probability in percent.

    One file keeps class and confidence aligned; both bands are uint8 because a
    colour table needs an integer band. A .qml style beside it names the classes in QGIS.
    """
    from ..maps.clusters import LegendEntry, qgis_style
    from ..maps.grid import category_colormap, write_raster_by_blocks
    from ..maps.rasters import TAG_KIND, TAG_MODEL

    names = study.labels.names
    colours = category_colormap(len(names))
    shares = {name: count / len(study.labels.rows) for name, count in study.labels.class_counts.items()}
    legend = [
        LegendEntry(value, "#{:02x}{:02x}{:02x}".format(*colours[value][:3]), [name], shares[name])
        for value, name in enumerate(names)
    ]

    def compute(xy: np.ndarray) -> np.ndarray:
        vectors = study.raster.at(study.source, xy, grid.crs)
        valid = np.isfinite(vectors).all(axis=1)
        values = np.full((len(xy), 2), CLASS_NODATA, dtype=np.uint8)
        if valid.any():
            probabilities = probe.predict(vectors[valid].astype(np.float32))
            values[valid] = np.column_stack([probabilities.argmax(axis=1), np.rint(100 * probabilities.max(axis=1))])
        return values

    write_raster_by_blocks(
        grid, paths["classes"], 2, compute, dtype="uint8", nodata=CLASS_NODATA,
        band_names=["class", "probability_percent"], control=control, colormap=colours,
        tags={
            TAG_KIND: "landuse_classes", TAG_MODEL: str(study.source.folder), "classes": json.dumps(dict(enumerate(names))),
            **{f"class_{value}": name for value, name in enumerate(names)},
        },
    )
    paths["style"].write_text(qgis_style(legend), encoding="utf-8")


def _output_paths(
    out_dir: str | Path, names: dict[str, str], settings: StudySettings, labels_path, control: JobControl,
) -> dict[str, Path]:
    inputs = (labels_path, settings.pois or "")
    return check_output_files(out_dir, names, settings.overwrite, inputs, "calliper-landuse", control.log)


def _write_tables(study: _Study, metrics: dict, paths: dict[str, Path], control: JobControl) -> None:
    write_geopackage(_prediction_frame(study, control), paths["predictions"], "predictions")
    paths["metrics"].write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
    write_report(metrics, paths["report"])


def classify(
    model: Union[LoadedModel, FeatureSource],
    labels_path: str | Path,
    label_field: str,
    out_dir: str | Path,
    settings: ClassifySettings | None = None,
    control: JobControl | None = None,
) -> ClassifyResult:
    """Score the embeddings of ``model`` (a CaLLiPer model or any ``FeatureSource``) and the baselines on the
    classes of ``label_field``; write predictions, metrics, report.

    With ``settings.extent``, also a class raster (classes.tif) and its QGIS style (classes.qml).
    """
    settings = settings or ClassifySettings()
    control = control or JobControl()
    settings.validate()
    names = {"predictions": PREDICTIONS_FILE, "metrics": METRICS_FILE, "report": REPORT_FILE}
    if settings.extent is not None:
        names.update(classes=CLASS_RASTER_FILE, style=CLASS_STYLE_FILE)
    targets = _output_paths(out_dir, names, settings, labels_path, control)
    grids = []

    def check_labels(labels: LabelSet) -> None:
        if len(labels.names) >= CLASS_NODATA:
            raise SettingsError(
                f"A class raster holds at most {CLASS_NODATA - 1} classes; the labels have {len(labels.names)}."
            )
        grids.append(_class_raster_grid(labels, settings, targets["classes"].parent))

    with output_lock(targets["predictions"]):
        study = _run_study(feature_source(model), labels_path, "class", (label_field,), settings, control.part(0.0, 0.8),
                           check_labels if settings.extent is not None else None)
        metrics = _metrics_document(labels_path, settings, study)
        with atomic_group(targets, control.log, marker="landuse") as paths:
            if grids:
                probe = _raster_probe(study, settings, metrics)
                _write_class_raster(study, probe, grids[0], paths, control.part(0.8, 1.0))
            _write_tables(study, metrics, paths, control)
        control.report(1.0, "done")
        return ClassifyResult(outputs=targets, metrics=metrics, classes=list(study.labels.names))


def predict_values(
    model: Union[LoadedModel, FeatureSource],
    labels_path: str | Path,
    fields: Sequence[str],
    out_dir: str | Path,
    settings: StudySettings | None = None,
    control: JobControl | None = None,
) -> StudyResult:
    """Like ``classify`` for one numeric field (regression) or several share fields (a distribution per unit)."""
    settings = settings or StudySettings()
    control = control or JobControl()
    settings.validate()
    fields = tuple(fields)
    if not fields:
        raise SettingsError("Choose a numeric field, or several share fields forming a distribution.")
    task = "value" if len(fields) == 1 else "distribution"
    names = {"predictions": PREDICTIONS_FILE, "metrics": METRICS_FILE, "report": REPORT_FILE}
    targets = _output_paths(out_dir, names, settings, labels_path, control)
    with output_lock(targets["predictions"]):
        study = _run_study(feature_source(model), labels_path, task, fields, settings, control.part(0.0, 0.9))
        metrics = _metrics_document(labels_path, settings, study)
        with atomic_group(targets, control.log, marker="landuse") as paths:
            _write_tables(study, metrics, paths, control)
        control.report(1.0, "done")
        return StudyResult(outputs=targets, metrics=metrics)

