"""``calliper classify`` and ``calliper predict``: probe a model on labelled areas, with baselines.

Heavy modules (torch, geopandas) are imported when a command runs, so ``calliper
--help`` stays instant; choices are checked by the settings' ``validate``, whose
errors name the valid options and exit with code 2 like any bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _numbers(text: str, kind: type, count: int | None = None) -> tuple:
    try:
        values = tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of numbers") from None
    if not values or (count is not None and len(values) != count):
        raise argparse.ArgumentTypeError(f"'{text}' needs {count or 'at least one'} comma-separated number(s)")
    return values


def seeds_argument(text: str) -> tuple[int, ...]:
    from ..core.errors import SettingsError
    from ..core.landuse.probes import parse_seeds

    try:
        return parse_seeds(text)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _extent(text: str) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = _numbers(text, float, 4)
    if xmin >= xmax or ymin >= ymax:
        raise argparse.ArgumentTypeError(f"'{text}' is not xmin,ymin,xmax,ymax with xmin < xmax and ymin < ymax")
    return xmin, ymin, xmax, ymax


def _add_study_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="CaLLiPer model folder written by 'calliper train'")
    p.add_argument("--region-raster",
                   help="region-embedding raster (e.g. from 'calliper mmgr-train'); with --model both are concatenated")
    p.add_argument("--labels", required=True, help="labelled polygons or points (GeoPackage, GeoJSON, Shapefile)")
    p.add_argument("--labels-layer", help="layer name inside the label file")
    p.add_argument("--out-dir", required=True, help="folder for predictions.gpkg, metrics.json and report.html")
    p.add_argument("--pois", help="POI layer for the POI-count baseline (default: the model's training POIs)")
    p.add_argument("--poi-field", help="POI class field for that baseline (default: the model's class field)")
    p.add_argument("--split", default="spatial", help="spatial (blocks, default) or random")
    p.add_argument("--block-size", type=float, default=500.0, help="spatial block size in metres (default 500)")
    p.add_argument("--probe", default="linear", help="linear (default) or mlp (the paper's 128 -> 64 -> K)")
    p.add_argument("--seeds", type=seeds_argument, help="comma-separated probe seeds (default 42,24,7,0,100)")
    p.add_argument("--sampling", default="centroid",
                   help="centroid (each polygon's representative point) or random (mean over random points inside)")
    p.add_argument("--samples", type=int, default=10, help="random points per polygon with --sampling random")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _study_options(args: argparse.Namespace, min_class_size: int = 2) -> dict:
    """The options of ``StudySettings.from_options`` the shared arguments give."""
    return {
        "split": args.split,
        "block_size": args.block_size,
        "probe": args.probe,
        "seeds": args.seeds,
        "sampling": args.sampling,
        "samples_per_unit": args.samples,
        "min_class_size": min_class_size,
        "pois": args.pois,
        "poi_class_field": args.poi_field,
        "labels_layer": args.labels_layer,
        "overwrite": args.overwrite,
    }


def _print_outcome(result) -> None:
    from ..core.landuse.report import metrics_table

    metrics = result.metrics
    protocol = metrics["protocol"]
    print(f"{metrics['n_units']} labelled units, {protocol['split_description']}, {protocol['probe']} probe, "
          f"{len(protocol['seeds'])} seed(s), mean ± std on test units:")
    print(metrics_table(metrics))
    for name, path in result.outputs.items():
        print(f"  {name:12s} {path}")


def add_classify(commands) -> None:
    p = commands.add_parser("classify", help="classify labelled areas (e.g. land use) from embeddings, with baselines")
    _add_study_arguments(p)
    p.add_argument("--label-field", required=True, help="field holding each feature's class")
    p.add_argument("--min-class-size", type=int, default=2, help="classes with fewer features are left out (default 2)")
    p.add_argument("--extent", type=_extent, help="xmin,ymin,xmax,ymax of a class raster (in --extent-crs)")
    p.add_argument("--extent-crs", help="CRS of --extent (default: the CRS of the model or region raster)")
    p.add_argument("--pixel-size", type=float, help="pixel size of the class raster, in metres")
    p.set_defaults(run=_run_classify)


def _run_classify(args: argparse.Namespace) -> None:
    from ..core.landuse.study import ClassifySettings, classify
    from ..core.landuse.unit_features import study_features
    from .terminal import terminal_job

    settings = ClassifySettings.from_options(
        **_study_options(args, args.min_class_size),
        extent=args.extent, extent_crs=args.extent_crs, pixel_size=args.pixel_size,
    )
    features = study_features(args.model, args.region_raster)
    with terminal_job("classify") as control:
        result = classify(features, args.labels, args.label_field, Path(args.out_dir), settings, control)
    _print_outcome(result)


def add_predict(commands) -> None:
    p = commands.add_parser(
        "predict", help="predict a numeric field, or a distribution over several share fields, with baselines"
    )
    _add_study_arguments(p)
    p.add_argument("--fields", required=True,
                   help="one numeric field (regression) or several comma-separated share fields (a distribution)")
    p.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace) -> None:
    from ..core.landuse.study import StudySettings, predict_values
    from ..core.landuse.unit_features import study_features
    from .terminal import terminal_job

    fields = [name.strip() for name in args.fields.split(",") if name.strip()]
    features = study_features(args.model, args.region_raster)
    with terminal_job("predict") as control:
        settings = StudySettings.from_options(**_study_options(args))
        result = predict_values(features, args.labels, fields, Path(args.out_dir), settings, control)
    _print_outcome(result)
