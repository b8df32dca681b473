"""``calliper profile`` and ``calliper transfer``: places described in words every model shares.

A profile is a model's scores over a vocabulary (its POI classes, or a file of
phrases), so profiles of two cities' models compare: ``similarity --like-point``
(in ``maps``) finds places like one of city A in city B, and ``transfer`` carries
land use from a labelled city to another.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import SettingsError
from .landuse import seeds_argument
from .maps import parse_numbers


def add_profile(commands) -> None:
    p = commands.add_parser("profile", help="a model's scores over a vocabulary (its POI classes by default), "
                                            "for the features of a layer or as a raster with one band per word")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--points", help="vector layer to profile (polygons and lines at a point on their surface)")
    where.add_argument("--extent", help="xmin,ymin,xmax,ymax of a profile raster (in --extent-crs)")
    p.add_argument("--extent-crs", help="CRS of --extent (default: the model's)")
    p.add_argument("--pixel-size", type=float, help="pixel size of the profile raster, in metres")
    p.add_argument("--near-pois", type=float, metavar="METRES",
                   help="raster: compute pixels within this distance of the training POIs (default from their spacing)")
    p.add_argument("--whole-extent", action="store_true", help="raster: compute every pixel")
    p.add_argument("--vocabulary", help="text file of phrases, one per line (default: the model's POI classes)")
    p.add_argument("--out", required=True, help="GeoPackage (with --points) or GeoTIFF (with --extent) to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_run_profile)


def _run_profile(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model_for_maps
    from ..core.maps.rasters import embedding_grid, raster_mask
    from ..core.profiles.outputs import profile_points, profile_raster
    from ..core.profiles.vocabulary import model_vocabulary, phrase_vocabulary
    from .terminal import terminal_job

    if args.points and (args.pixel_size or args.extent_crs or args.near_pois is not None or args.whole_extent):
        raise SettingsError("--pixel-size, --extent-crs, --near-pois and --whole-extent make a raster; "
                            "leave them out with --points.")
    if args.extent and args.pixel_size is None:
        raise SettingsError("A profile raster needs --pixel-size (metres) with --extent.")
    if args.whole_extent and args.near_pois is not None:
        raise SettingsError("--whole-extent computes every pixel; leave out --near-pois with it.")
    vocabulary = phrase_vocabulary(args.vocabulary) if args.vocabulary else None
    model = load_model_for_maps(args.model)
    vocabulary = vocabulary or model_vocabulary(model)
    with terminal_job("profile") as control:
        if args.points:
            out = profile_points(model, vocabulary, args.points, args.out, control=control, overwrite=args.overwrite)
        else:
            extent = parse_numbers(args.extent, 4, "--extent", "385000,6671000,387000,6673000")
            grid = embedding_grid(model, extent, args.pixel_size, args.extent_crs)
            mask, _ = raster_mask(model, grid, near_pois=args.near_pois, whole_extent=args.whole_extent)
            out = profile_raster(model, vocabulary, grid, args.out, mask, control, args.overwrite)
    print(f"Profiles over {vocabulary.source} written to {out}.")


def add_transfer(commands) -> None:
    p = commands.add_parser("transfer", help="carry land use from a labelled city (source) to another (target) "
                                             "through profiles, beside transferred POI counts")
    p.add_argument("--source-model", required=True, help="model folder of the labelled city")
    p.add_argument("--source-labels", required=True, help="labelled polygons or points of the source city")
    p.add_argument("--target-model", required=True, help="model folder of the city to predict")
    p.add_argument("--target-labels", help="labels of the target city: scored, never used for training")
    p.add_argument("--target-units", help="without --target-labels: polygons or points of the target city to "
                                          "predict (default: square cells over the target's POIs)")
    p.add_argument("--cell-size", type=float, default=250.0, help="side of those cells in metres (default 250)")
    p.add_argument("--label-field", required=True, help="field holding the class, in both label layers")
    p.add_argument("--vocabulary", help="text file of phrases to profile with (default: the POI classes both "
                                        "models know)")
    p.add_argument("--out-dir", required=True, help="folder for predictions.gpkg and metrics.json")
    p.add_argument("--block-size", type=float, default=500.0,
                   help="source validation blocks in metres, for the counts' radius (default 500)")
    p.add_argument("--seeds", type=seeds_argument, help="comma-separated probe seeds (default 42,24,7,0,100)")
    p.add_argument("--min-class-size", type=int, default=2, help="classes with fewer features are left out (default 2)")
    p.add_argument("--no-align", action="store_true",
                   help="do not standardise each city's features on its own units")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(run=_run_transfer)


def _run_transfer(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model
    from ..core.landuse.labels import LabelSettings
    from ..core.landuse.probes import ProbeSettings
    from ..core.landuse.report import metrics_table
    from ..core.landuse.splits import SplitSettings
    from ..core.profiles.transfer import TransferSettings, transfer
    from ..core.profiles.vocabulary import phrase_vocabulary
    from .terminal import terminal_job

    if args.target_labels and args.target_units:
        raise SettingsError("Give --target-labels or --target-units, not both: labelled units are predicted too.")
    settings = TransferSettings(
        probe=ProbeSettings(seeds=args.seeds) if args.seeds else ProbeSettings(),
        split=SplitSettings(block_size=args.block_size), labels=LabelSettings(min_class_size=args.min_class_size),
        cell_size=args.cell_size, align=not args.no_align, overwrite=args.overwrite,
    )
    vocabulary = phrase_vocabulary(args.vocabulary) if args.vocabulary else None
    source, target = load_model(args.source_model), load_model(args.target_model)
    with terminal_job("transfer") as control:
        result = transfer(source, args.source_labels, target, args.label_field, Path(args.out_dir),
                          args.target_labels, args.target_units, vocabulary, settings, control)
    metrics = result.metrics
    print(f"{metrics['n_target_units']} target units predicted from {metrics['n_source_units']} source units "
          f"({len(metrics['classes'])} classes).")
    if metrics["scored"]:
        print(f"Scored on {metrics['n_target_scored']} labelled target units (mean ± std over seeds):")
        print(metrics_table(metrics))
    for name, path in result.outputs.items():
        print(f"  {name:12s} {path}")
