"""Land-use classification and value prediction from a model's embeddings, as map layers.

One study = labels -> three feature sets (the studied embeddings, coordinates
only, POI counts) -> the same probe, splits and seeds for each -> scores -> a probe trained
on every labelled unit -> predictions written back onto the label geometries (and,
for classes, a class raster over an extent). The studied embeddings come from a
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

from ..atomic import atomic_group, check_output_path
from ..crs import parse_crs
from ..data.vector_io import write_geopackage
from ..errors import SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from ..model.files import LoadedModel
from .evaluation import MethodScores, evaluate_methods, fit_on_all
from .labels import LabelSet, LabelSettings, load_labels
from .probes import FittedProbe, ProbeSettings
from .report import method_label, write_report
from .splits import SplitSettings
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


@dataclass
class ClassifyResult(StudyResult):
    """A classification's outputs; ``classes`` in the order of the raster's class values."""

    classes: list[str] = field(default_factory=list)


@dataclass
class _Study:
    source: FeatureSource
    labels: LabelSet
    scores: dict[str, MethodScores]
    probe: FittedProbe
    pois: Path
    notes: list[str]
    default: DefaultMethod


@dataclass
class DefaultMethod:
    """The method the outputs use, picked on validation blocks: its name, every unit's features, the counts radius."""

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


def _default_method(source: FeatureSource, embeddings: np.ndarray, counts: PoiCounts,
                    scores: dict[str, MethodScores]) -> DefaultMethod:
    """The map method with the best mean validation score: the embeddings alone, or with the POI counts.

    Test scores are never looked at. The counts radius is the one validation chose most often.
    """
    combined = f"{source.name}_poi_counts"
    if scores[combined].validation_mean() <= scores[source.name].validation_mean():
        return DefaultMethod(source.name, embeddings)
    key = max(counts.units, key=scores[combined].chosen.count)
    return DefaultMethod(combined, np.hstack([embeddings, counts.units[key]]), counts, key)


def collecting(control: JobControl, notes: list[str]) -> JobControl:
    """A control whose log messages are also kept, for the report."""

    def log(message: str) -> None:
        notes.append(message)
        control.log(message)

    return JobControl(control.progress, control.is_cancelled, log, control.start, control.end)


def _run_study(
    source: FeatureSource, labels_path: str | Path, task: str, fields: tuple[str, ...],
    settings: StudySettings, control: JobControl, check_labels: Callable[[LabelSet], None] | None = None,
) -> _Study:
    """The study's scores and fitted probe; ``check_labels`` refuses what cannot be written before the slow part."""
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
    embeddings = embed_units(source, labels, control.part(0.0, 0.1))
    rows = labels.rows
    counts = PoiCounts(labels, pois, class_field, settings.poi_radii)
    features = {
        source.name: embeddings[rows],
        "coords_only": coordinate_features(labels)[rows],
        "poi_counts": {radius: x[rows] for radius, x in counts.units.items()},
        f"{source.name}_poi_counts": {radius: np.hstack([embeddings, x])[rows] for radius, x in counts.units.items()},
    }
    n_outputs = len(labels.names)
    scores = evaluate_methods(
        features, labels.targets, task, n_outputs, labels.metric_anchors[rows],
        settings.split, settings.probe, control.part(0.1, 0.9),
    )
    default = _default_method(source, embeddings, counts, scores)
    control.log(f"Outputs use {method_label(default.name)}: the best validation score "
                f"({scores[default.name].validation_mean():.3f}; test scores are not used to choose).")
    probe = fit_on_all(default.unit_features[rows], labels.targets, task, n_outputs, settings.split, settings.probe)
    return _Study(source, labels, scores, probe, pois, notes, default)


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
        },
        "chosen": {name: scores.chosen for name, scores in study.scores.items() if any(scores.chosen)},
        "default_method": study.default.name,
        "validation": {name: scores.validation_mean() for name, scores in study.scores.items()},
        "notes": study.notes,
    }
    if labels.task == "class":
        document["classes"] = labels.class_counts
        document["per_class_f1"] = {name: s.per_class_f1(labels.names) for name, s in study.scores.items()}
        document["confusion_matrix"] = {name: s.confusion_matrix() for name, s in study.scores.items()}
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


def _write_class_raster(study: _Study, grid, paths: dict[str, Path], control: JobControl) -> None:
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
        vectors = study.default.at(study.source, xy, grid.crs)
        valid = np.isfinite(vectors).all(axis=1)
        values = np.full((len(xy), 2), CLASS_NODATA, dtype=np.uint8)
        if valid.any():
            probabilities = study.probe.predict(vectors[valid].astype(np.float32))
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


def _output_paths(out_dir: str | Path, names: dict[str, str], settings: StudySettings, labels_path) -> dict[str, Path]:
    inputs = (labels_path, settings.pois or "")
    return {key: check_output_path(Path(out_dir) / name, settings.overwrite, inputs) for key, name in names.items()}


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
    targets = _output_paths(out_dir, names, settings, labels_path)
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
        with atomic_group(targets) as paths:
            if grids:
                _write_class_raster(study, grids[0], paths, control.part(0.8, 1.0))
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
    targets = _output_paths(out_dir, names, settings, labels_path)
    with output_lock(targets["predictions"]):
        study = _run_study(feature_source(model), labels_path, task, fields, settings, control.part(0.0, 0.9))
        metrics = _metrics_document(labels_path, settings, study)
        with atomic_group(targets) as paths:
            _write_tables(study, metrics, paths, control)
        control.report(1.0, "done")
        return StudyResult(outputs=targets, metrics=metrics)

