"""Land use carried from a labelled city to an unlabelled one, through profiles.

A probe trained on city A's embeddings means nothing in city B's model, but a probe
trained on A's *profiles* (log-profiles over the POI classes both models know) reads
B's profiles of the same words. The baseline a GIS user would try is the same probe
on POI-count features over the shared classes (each class's share of the POIs within
a radius), trained on A and applied to B.

Both carry the units' shapes too (log area, perimeter ratio, convexity, vertices,
elongation, see ``landuse/geometry.py``), and the shapes alone are a third method: a
polygon's shape needs no alignment between cities beyond the per-city standardisation.
Points (and target cells of the default grid, all alike) add nothing, with a note.

The predictions come from a fixed blend of two probes' class probabilities: the profiles'
(1/3) and the shapes' alone (2/3), the profiles' probe alone where the units have no area.
The shape is what carries best between cities without the model, and the profiles add
what the model knows of the POIs around; nothing of the target is used to weigh them, and
the source cannot weigh them either (what wins within the source does not carry over).
Over 20 seeds, Helsinki to Liechtenstein: blend 0.309, shapes 0.308, profiles 0.288;
Liechtenstein to Helsinki: blend 0.504, profiles 0.496, shapes 0.448 (the even blend
scored 0.303 and 0.498). Scored beside it: boosted trees on the POI shares and shapes, and
the blend of trees and linear probe without the model (the twin of ``landuse/ensemble.py``).
Trees learn one city's values: they carry worst. The headline is the blend's margin over
the best method without the model.

All feature sets are standardised within each city (every feature to mean 0 and
spread 1 over that city's units): a city's overall POI mix and a model's own
temperature shift every unit alike, and that shift is not land use. The counts'
radius is picked per seed on validation blocks of city A; nothing of city B's labels
is used for any choice. Classes are those labelled in both cities; without target
labels the predictions are written and nothing is scored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_group
from ..crs import choose_metric_crs, parse_crs, to_crs
from ..data.vector_io import write_geopackage
from ..errors import InputDataError, SettingsError
from ..jobs import JobControl
from ..landuse.ensemble import TREES_KEY, TWIN_KEY, TWIN_WEIGHTS, Member, fit_members, headline
from ..landuse.evaluation import MethodScores, fit_chosen, fit_on_all, score
from ..landuse.geometry import SHAPE_FEATURES, repaired, unit_shapes
from ..landuse.labels import LabelSet, LabelSettings, load_labels, unit_points
from ..landuse.probes import TREES, ProbeSettings
from ..landuse.splits import SplitSettings, make_split
from ..landuse.study import StudyResult, class_columns, collecting, with_columns
from ..landuse.unit_features import CalliperFeatures, class_counts, embed_units, unit_means
from ..locks import output_lock
from ..maps.describe import model_evidence
from ..maps.rasters import read_layer
from ..model.files import LoadedModel
from ..model.inference import model_crs
from ..outputs import check_output_files
from .profiler import Profiler
from .vocabulary import Vocabulary, comparison_vocabulary, shared_poi_classes

PREDICTIONS_FILE = "predictions.gpkg"
METRICS_FILE = "metrics.json"
PROFILES, POI_COUNTS, GEOMETRY = "profiles", "poi_counts", "geometry"
BLEND = "profiles_shape_blend"
BLEND_WEIGHTS = {PROFILES: 1 / 3, GEOMETRY: 2 / 3}
EVIDENCE_PURPOSE = "carry land use to or from its city"


@dataclass
class TransferSettings:
    """The probe and its seeds, the source's validation blocks, the counts' radii and the grid of unlabelled units."""

    probe: ProbeSettings = field(default_factory=ProbeSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    labels: LabelSettings = field(default_factory=LabelSettings)
    poi_radii: tuple[float, ...] = (100.0, 250.0, 500.0, 1000.0)
    cell_size: float = 250.0
    align: bool = True
    overwrite: bool = False

    def validate(self) -> None:
        self.probe.validate()
        self.split.validate()
        self.labels.validate()
        if not self.poi_radii or min(self.poi_radii) <= 0:
            raise SettingsError(f"POI-count radii must be positive, in metres (got {self.poi_radii}).")
        if not self.cell_size > 0:
            raise SettingsError(f"The cell size must be a positive distance in metres (got {self.cell_size}).")


@dataclass
class TransferResult(StudyResult):
    """Where the predictions and metrics went (``folder``: a new subfolder of a user's folder) and the metrics."""


def unlabelled_units(frame, model: LoadedModel, layer_name: str) -> LabelSet:
    """Units to predict that carry no label: every feature, placed at its representative point."""
    crs = model_crs(model)
    anchors, points, owner = unit_points(frame.geometry.to_crs(crs), LabelSettings())
    metric_crs = choose_metric_crs(anchors, crs)
    return LabelSet(frame, "class", (), [], np.arange(len(frame)), np.zeros(len(frame), dtype=np.int64), anchors,
                    to_crs(anchors, crs, metric_crs), crs, metric_crs, points, owner, layer_name)


def grid_units(model: LoadedModel, cell_size: float) -> LabelSet:
    """Square cells of ``cell_size`` metres over the model's training POIs (cells with at least one POI)."""
    import geopandas as gpd
    import shapely

    evidence = model_evidence(model, EVIDENCE_PURPOSE)
    cells = np.unique(np.floor(evidence.xy / cell_size).astype(np.int64), axis=0)
    boxes = shapely.box(cells[:, 0] * cell_size, cells[:, 1] * cell_size,
                        (cells[:, 0] + 1) * cell_size, (cells[:, 1] + 1) * cell_size)
    frame = gpd.GeoDataFrame({"cell": np.arange(len(cells))}, geometry=boxes, crs=parse_crs(evidence.crs_wkt))
    return unlabelled_units(frame, model, f"the {len(cells)} cells of {cell_size:g} m over the target's POIs")


def profile_features(model: LoadedModel, units: LabelSet, vocabulary: Vocabulary, control: JobControl) -> np.ndarray:
    """(U, V) log-profiles of the units' mean embeddings."""
    return Profiler(model, vocabulary).log_profiles(embed_units(CalliperFeatures(model), units, control))


class ClassShares:
    """Each of ``classes``' share of the model's training POIs within a radius of the units (``at(radius)``).

    The POIs come from the model folder's evidence, so no POI file is needed; the tree and
    the units' positions in the evidence's CRS are built once for every radius.
    """

    def __init__(self, model: LoadedModel, units: LabelSet, classes: list[str]) -> None:
        from scipy.spatial import cKDTree

        evidence = model_evidence(model, EVIDENCE_PURPOSE)
        lookup = {name: i for i, name in enumerate(classes)}
        codes = np.array([lookup.get(name, -1) for name in evidence.classes])[evidence.class_index]
        kept = codes >= 0
        self.units, self.n_classes, self.codes = units, len(classes), codes[kept]
        self.tree = cKDTree(evidence.xy[kept]) if kept.any() else None
        self.here = to_crs(units.points, units.model_crs, parse_crs(evidence.crs_wkt))

    def at(self, radius: float) -> np.ndarray:
        """(U, C) shares per unit (zeros where no POI of the classes is near)."""
        counts = (class_counts(self.tree, self.codes, self.n_classes, self.here, radius) if self.tree is not None
                  else np.zeros((len(self.here), self.n_classes)))
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        return unit_means(shares, self.units).astype(np.float32)


def standardised(x: np.ndarray) -> np.ndarray:
    """Each feature to mean 0 and spread 1 over the rows (a constant feature to 0)."""
    x = np.asarray(x, np.float64)
    spread = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(spread > 0, spread, 1.0)).astype(np.float32)


def _target_units(target: LoadedModel, target_labels: str | Path | None, target_units: str | Path | None,
                  label_field: str, settings: TransferSettings, control: JobControl) -> LabelSet:
    if target_labels:
        return load_labels(target_labels, "class", (label_field,), model_crs(target),
                           target.card.training.get("extent"), settings.labels, None, control)
    if target_units:
        return unlabelled_units(read_layer(target_units).reset_index(drop=True), target,
                                f"the layer {Path(target_units).name}")
    return grid_units(target, settings.cell_size)


def shared_classes(source: LabelSet, target: LabelSet | None, label_field: str) -> list[str]:
    """The land-use classes labelled in both cities (all of the source's when the target has no labels)."""
    if target is None:
        return list(source.names)
    shared = [name for name in source.names if name in set(target.names)]
    if len(shared) < 2:
        raise InputDataError(
            f"The two label layers share {len(shared)} class of the field '{label_field}' "
            f"({', '.join(shared) or 'none'}); a transfer needs at least two classes labelled in both cities. "
            f"Source classes: {', '.join(source.names)}; target classes: {', '.join(target.names)}."
        )
    return shared


def _labelled(units: LabelSet, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, class index into ``classes``) of the units whose class is one of ``classes``."""
    lookup = {name: i for i, name in enumerate(classes)}
    mapped = np.array([lookup.get(units.names[t], -1) for t in units.targets])
    keep = mapped >= 0
    return units.rows[keep], mapped[keep]


@dataclass
class _Method:
    """One method's features in both cities (candidates by radius for the counts)."""

    source: dict[str, np.ndarray]
    target: dict[str, np.ndarray]


def _score_methods(methods: dict[str, _Method], y: np.ndarray, source_xy: np.ndarray, target_rows: np.ndarray,
                   truth: np.ndarray | None, n_classes: int, settings: TransferSettings) -> dict[str, MethodScores]:
    """Per seed and method: the candidate picked on the source's validation blocks, its probe trained on the
    source, and (with ``truth``) its scores on the target's labelled rows; then the blend of the profiles' and the
    shapes' probes (``BLEND_WEIGHTS``), and the trees and twin on the features without the model."""
    scores = {name: MethodScores() for name in methods}
    free_name = next((name for name in (POI_COUNTS, GEOMETRY) if name in methods), None)
    blended = BLEND if GEOMETRY in methods else None
    extra = [name for name in (blended, *((TREES_KEY, TWIN_KEY) if free_name else ())) if name]
    scores.update({name: MethodScores() for name in extra})
    for seed in settings.probe.seeds:
        parts = make_split(source_xy, settings.split, seed)
        predicted = {}
        for name, method in methods.items():
            chosen, _, probe, value = fit_chosen(method.source, y, "class", n_classes, parts, settings.probe, seed)
            scores[name].chosen.append(chosen)
            scores[name].validation.append(value)
            predicted[name] = (probe.predict(method.source[chosen][parts.val]),
                               probe.predict(method.target[chosen][target_rows]) if truth is not None else None)
        if blended:
            on_validation = sum(w * predicted[name][0] for name, w in BLEND_WEIGHTS.items())
            on_target = None if truth is None else sum(w * predicted[name][1] for name, w in BLEND_WEIGHTS.items())
            predicted[blended] = (on_validation, on_target)
            scores[blended].chosen.append(scores[PROFILES].chosen[-1])
        if free_name:
            predicted.update(_trees_and_twin(methods[free_name], scores[free_name].chosen[-1], y, parts,
                                             target_rows, truth is not None, n_classes, seed))
            for name in (TREES_KEY, TWIN_KEY):
                scores[name].chosen.append(scores[free_name].chosen[-1])
        for name in extra:
            scores[name].validation.append(score("class", y[parts.val], predicted[name][0], n_classes)["macro_f1"])
        if truth is not None:
            for name, (_, on_target) in predicted.items():
                scores[name].per_seed.append(score("class", truth, on_target, n_classes))
    return scores


def _trees_and_twin(free: _Method, key: str, y: np.ndarray, parts, target_rows: np.ndarray, scored: bool,
                    n_classes: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """{trees, twin}: (source validation, target) probabilities of the boosted trees and of the trees 2/3 + linear
    probe 1/3 on the features without the model, fitted on the source's training blocks."""
    x = free.source[key]
    columns = slice(0, x.shape[1])
    fitted = fit_members(x, y, parts.train, [Member(TREES_KEY, columns, TREES), Member("linear", columns, "linear")],
                         n_classes, seed)
    target = free.target[key][target_rows] if scored else None
    return {name: (blend.predict(x[parts.val]), blend.predict(target) if scored else None)
            for name, blend in ((TREES_KEY, fitted), (TWIN_KEY, fitted.weighted(TWIN_WEIGHTS[:2])))}


def transfer(
    source: LoadedModel,
    source_labels: str | Path,
    target: LoadedModel,
    label_field: str,
    out_dir: str | Path,
    target_labels: str | Path | None = None,
    target_units: str | Path | None = None,
    vocabulary: Vocabulary | None = None,
    settings: TransferSettings | None = None,
    control: JobControl | None = None,
) -> TransferResult:
    """Train on ``source``'s labelled units, predict ``target``'s; score when ``target_labels`` are given."""
    settings = settings or TransferSettings()
    control = control or JobControl()
    settings.validate()
    vocabulary = comparison_vocabulary(source, target, vocabulary)
    inputs = (source_labels, target_labels or "", target_units or "")
    paths = check_output_files(out_dir, {"predictions": PREDICTIONS_FILE, "metrics": METRICS_FILE},
                               settings.overwrite, inputs, "calliper-transfer", control.log)
    with output_lock(paths["predictions"]):
        notes: list[str] = []
        control = collecting(control, notes)
        a_units = load_labels(source_labels, "class", (label_field,), model_crs(source),
                              source.card.training.get("extent"), settings.labels, None, control)
        b_units = _target_units(target, target_labels, target_units, label_field, settings, control)
        scored = target_labels is not None
        classes = shared_classes(a_units, b_units if scored else None, label_field)
        a_rows, y = _labelled(a_units, classes)
        if len(np.unique(y)) < 2:
            raise InputDataError(f"The source labels have fewer than two classes of the field '{label_field}'.")
        control.log(f"Transfer of {len(classes)} classes ({', '.join(classes)}) from {len(a_rows)} source units to "
             f"{len(b_units.rows)} target units; profiles over {vocabulary.source}.")
        methods = {PROFILES: _profile_method(source, target, a_units, b_units, a_rows, vocabulary, settings, control)}
        counts = _counts_method(source, target, a_units, b_units, a_rows, settings, control.log)
        if counts is not None:
            methods[POI_COUNTS] = counts
        shapes = _shapes_method(a_units, b_units, a_rows, settings, control.log)
        if shapes is not None:
            methods = {name: _beside(method, shapes) for name, method in methods.items()}
            methods[GEOMETRY] = shapes
        control.check("The transfer")
        b_rows, truth = _labelled(b_units, classes) if scored else (np.zeros(0, dtype=int), None)
        source_xy = a_units.metric_anchors[a_rows]
        scores = _score_methods(methods, y, source_xy, b_rows, truth, len(classes), settings)
        probabilities = _predict_target(methods, y, len(classes), settings)
        control.report(0.9, "writing the predictions")
        metrics = _metrics(classes, scores, scored, vocabulary, source, target, source_labels, target_labels,
                           settings, a_rows, b_units, b_rows, notes)
        with atomic_group(paths, control.log, marker="transfer") as staged:
            frame = with_columns(b_units.frame, class_columns(classes, probabilities), "predictions", control.log)
            write_geopackage(frame, staged["predictions"], "predictions")
            staged["metrics"].write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        control.report(1.0, "done")
        return TransferResult(paths, metrics)


def _predict_target(methods: dict[str, _Method], y: np.ndarray, n_classes: int,
                    settings: TransferSettings) -> np.ndarray:
    """The target's class probabilities: the blend of the profiles' and shapes' probes (``BLEND_WEIGHTS``), trained
    on every source unit, or the profiles' probe alone where the units have no shapes."""
    blend = BLEND_WEIGHTS if GEOMETRY in methods else {PROFILES: 1.0}
    return sum(w * fit_on_all(methods[name].source[""], y, "class", n_classes, settings.split, settings.probe)
               .predict(methods[name].target[""]) for name, w in blend.items())


def _profile_method(source, target, a_units, b_units, a_rows, vocabulary, settings, control) -> _Method:
    a = profile_features(source, a_units, vocabulary, control.part(0.0, 0.3))[a_rows]
    b = profile_features(target, b_units, vocabulary, control.part(0.3, 0.6))
    if settings.align:
        a, b = standardised(a), standardised(b)
    return _Method({"": a}, {"": b})


def _counts_method(source, target, a_units, b_units, a_rows, settings, log) -> _Method | None:
    classes = shared_poi_classes(source, target)
    if not classes:
        log("The models share no POI class, so the POI-count baseline is left out.")
        return None
    method = _Method({}, {})
    a_shares, b_shares = ClassShares(source, a_units, classes), ClassShares(target, b_units, classes)
    for radius in settings.poi_radii:
        key = f"{radius:g} m"
        a, b = a_shares.at(radius)[a_rows], b_shares.at(radius)
        method.source[key], method.target[key] = (standardised(a), standardised(b)) if settings.align else (a, b)
    return method


def _shapes_method(a_units: LabelSet, b_units: LabelSet, a_rows: np.ndarray, settings: TransferSettings,
                   log) -> _Method | None:
    """The units' shape features in both cities (standardised in each), or None when either city's units lack area."""
    a = unit_shapes(repaired(a_units.frame.geometry.to_crs(a_units.metric_crs)), a_rows, log)
    b = (unit_shapes(repaired(b_units.frame.geometry.to_crs(b_units.metric_crs)), b_units.rows, log)
         if a is not None else None)
    if b is None:
        return None
    a, b = a[a_rows], b
    return _Method({"": standardised(a) if settings.align else a}, {"": standardised(b) if settings.align else b})


def _beside(method: _Method, shapes: _Method) -> _Method:
    """``method``'s features with the shapes beside them, candidate by candidate."""
    return _Method({key: np.hstack([x, shapes.source[""]]) for key, x in method.source.items()},
                   {key: np.hstack([x, shapes.target[""]]) for key, x in method.target.items()})


def _metrics(classes, scores, scored, vocabulary, source, target, source_labels, target_labels, settings, a_rows,
             b_units, b_rows, notes) -> dict:
    document = {
        "classes": classes,
        "methods": {name: s.summary() for name, s in scores.items()} if scored else {},
        "scored": scored,
        "default_method": BLEND if GEOMETRY in scores else PROFILES,
        "source_model": str(source.folder),
        "target_model": str(target.folder),
        "source_labels": str(Path(source_labels).absolute()),
        "target_labels": str(Path(target_labels).absolute()) if target_labels else None,
        "target_units": b_units.layer_name,
        "n_source_units": int(len(a_rows)),
        "n_target_units": int(len(b_units.rows)),
        "n_target_scored": int(len(b_rows)),
        "vocabulary": vocabulary.labels,
        "validation": {name: s.validation_mean() for name, s in scores.items()},
        "chosen": {name: s.chosen for name, s in scores.items() if any(s.chosen)},
        "protocol": {"probe": settings.probe.kind, "seeds": list(settings.probe.seeds),
                     "block_size_m": settings.split.block_size, "poi_radii_m": list(settings.poi_radii),
                     "align": settings.align,
                     "shape_features": list(SHAPE_FEATURES) if GEOMETRY in scores else []},
        "notes": notes,
    }
    if scored and len(scores) > 1:
        default = BLEND if GEOMETRY in scores else PROFILES
        document["headline"] = headline(scores, default, [name for name in scores if name not in (PROFILES, BLEND)])
    if scored:
        document["per_class_f1"] = {name: s.per_class_f1(classes) for name, s in scores.items()}
    return document
