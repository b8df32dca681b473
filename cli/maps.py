"""The map commands of the ``calliper`` command line: ``raster``, ``similarity``, ``cluster`` and ``describe``.

Each ``add_*`` registers a subcommand (see ``cli.COMMANDS``). Heavy modules are
imported when a command runs, so ``calliper --help`` stays fast, and ``cli`` is
imported there too: ``cli`` imports this module at its top.
"""

from __future__ import annotations

import argparse

from ..core.errors import SettingsError
from ..core.maps import DESCRIBE_EVIDENCE_WEIGHT, PHRASE_MAPS


def parse_numbers(text: str, count: int, option: str, example: str) -> tuple[float, ...]:
    """``"1,2,3,4"`` -> floats; a ``SettingsError`` naming the option otherwise."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise SettingsError(f"{option} needs {count} comma-separated numbers, e.g. {example}; got '{text}'.")
    return values


def add_raster(commands) -> None:
    p = commands.add_parser("raster", help="embedding raster (one band per dimension) over an extent")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--extent", help="xmin,ymin,xmax,ymax (in --extent-crs, default the model's CRS)")
    where.add_argument("--extent-layer", help="vector file whose bounding box is the extent")
    p.add_argument("--extent-crs", help="CRS of --extent, e.g. EPSG:4326")
    p.add_argument("--pixel-size", type=float, required=True, help="pixel size in metres")
    p.add_argument("--out", required=True, help="GeoTIFF to write")
    p.add_argument("--rgb", help="also write an RGB preview GeoTIFF (first three principal components)")
    p.add_argument("--float16", action="store_true", help="store half floats (half the size)")
    p.add_argument("--mask-layer", help="compute only inside its polygons or near its points/lines")
    p.add_argument("--mask-buffer", type=float, default=200.0, help="metres around mask points/lines (default 200)")
    p.add_argument("--near-pois", type=float, metavar="METRES",
                   help="compute only within this distance of the training POIs (default: chosen from their spacing)")
    p.add_argument("--whole-extent", action="store_true",
                   help="compute every pixel, also where the model saw no POI (the sea, fields)")
    p.add_argument("--workers", type=int, default=1, help="CPU processes computing blocks (default 1; a GPU uses one)")
    p.add_argument("--no-resume", action="store_true",
                   help="start from nothing even if an interrupted run of the same command left finished blocks")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(run=_run_raster)


def _run_raster(args: argparse.Namespace) -> None:
    from ..core.outputs import check_output_path
    from ..core.catalog.loading import load_model_for_maps
    from ..core.crs import crs_label
    from ..core.maps.rasters import (
        embedding_grid,
        embedding_raster,
        layer_extent,
        raster_mask,
        rgb_preview,
    )
    from .terminal import terminal_job

    if args.extent_layer and args.extent_crs:
        raise SettingsError("--extent-crs applies to --extent only; an --extent-layer carries its own CRS.")
    if args.workers < 1:
        raise SettingsError(f"--workers must be at least 1 (got {args.workers}).")
    if args.whole_extent and (args.near_pois is not None or args.mask_layer):
        raise SettingsError("--whole-extent computes every pixel; leave out --near-pois and --mask-layer with it.")
    if args.rgb:
        check_output_path(args.rgb, args.overwrite, inputs=(args.out,))
    model = load_model_for_maps(args.model)
    if args.extent:
        extent, extent_crs = parse_numbers(args.extent, 4, "--extent", "385000,6671000,387000,6673000"), args.extent_crs
    else:
        extent, extent_crs = layer_extent(args.extent_layer)
    grid = embedding_grid(model, extent, args.pixel_size, extent_crs)
    mask, key = raster_mask(model, grid, args.mask_layer, args.mask_buffer, near_pois=args.near_pois,
                            whole_extent=args.whole_extent)
    with terminal_job("raster") as control:
        control.log(f"Pixels computed: {key if mask is not None else 'the whole extent'}.")
        out = embedding_raster(
            model, grid, args.out, "float16" if args.float16 else "float32", mask,
            control.part(0.0, 0.9 if args.rgb else 1.0), args.overwrite, workers=args.workers,
            resume_key=None if args.no_resume else key,
        )
        rgb = rgb_preview(out, args.rgb, control=control.part(0.9, 1.0), overwrite=args.overwrite) if args.rgb else None
    print(
        f"Embedding raster written to {out} ({grid.width} x {grid.height} pixels of {args.pixel_size:g} m, "
        f"{model.card.settings.embed_dim} bands, {crs_label(grid.crs)})."
    )
    if rgb:
        print(f"RGB preview written to {rgb}.")


def add_similarity(commands) -> None:
    p = commands.add_parser("similarity", help="similarity of every pixel of an embedding raster to a point, phrase or feature")
    p.add_argument("--model", required=True, help="model folder that wrote the embedding raster")
    p.add_argument("--embedding", required=True, help="embedding raster written by 'calliper raster'")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--point", help="x,y of a place (in --point-crs, default the raster's CRS)")
    query.add_argument("--text", help="a phrase, e.g. 'nightlife'")
    query.add_argument("--feature-layer", help="vector file whose feature --feature-id is the query (a point on its surface)")
    query.add_argument("--like-point", help="x,y of a place under --like-model (in --point-crs, default that model's "
                                            "CRS): map the places of this raster whose profile is most like it")
    p.add_argument("--like-model", help="with --like-point: the model (another city's) the place is described by")
    p.add_argument("--vocabulary", help="with --like-point: text file of phrases to compare profiles over, one per "
                                        "line (default: the POI classes both models know)")
    p.add_argument("--feature-id", type=int, help="feature id (fid, as QGIS shows it) in --feature-layer")
    p.add_argument("--point-crs", help="CRS of --point or --like-point, e.g. EPSG:4326")
    p.add_argument("--phrase-map", choices=PHRASE_MAPS, default="evidence",
                   help="with --text: 'evidence' (default) weighs the training POIs of the classes the phrase is "
                        "about by distance; 'model' is the model's similarity alone")
    p.add_argument("--out", required=True, help="GeoTIFF to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_run_similarity)


def _run_similarity(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model_for_maps
    from ..core.maps.similarity import feature_query, phrase_raster, raster_location_query, similarity_raster
    from .terminal import terminal_job

    if args.point_crs and not (args.point or args.like_point):
        raise SettingsError("--point-crs applies to --point and --like-point only; a phrase or a feature needs no CRS.")
    if (args.like_model or args.vocabulary) and not args.like_point:
        raise SettingsError("--like-model and --vocabulary go with --like-point: the place to find more of.")
    if args.like_point:
        _run_like_this(args)
        return
    if args.feature_id is not None and not args.feature_layer:
        raise SettingsError("--feature-id picks a feature of --feature-layer; give that layer too.")
    model = load_model_for_maps(args.model)
    if args.point:
        xy = parse_numbers(args.point, 2, "--point", "386000,6672000")
        query = raster_location_query(model, args.embedding, xy, args.point_crs)
    elif args.feature_layer:
        if args.feature_id is None:
            raise SettingsError("--feature-layer needs --feature-id: the row of the feature to compare with.")
        query = feature_query(model, args.feature_layer, args.feature_id)
    else:
        with terminal_job("phrase map") as control:
            out = phrase_raster(model, args.embedding, args.text, args.out, control, args.overwrite, args.phrase_map)
        print(f"Phrase map of '{' '.join(args.text.split())}' ({args.phrase_map}) written to {out}.")
        return
    with terminal_job("similarity") as control:
        out = similarity_raster(model, args.embedding, query, args.out, control, args.overwrite)
    print(f"Similarity map to the {query.label} written to {out}.")


def _run_like_this(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model, load_model_for_maps
    from ..core.profiles.like_this import like_this_raster
    from ..core.profiles.vocabulary import phrase_vocabulary
    from .terminal import terminal_job

    if not args.like_model:
        raise SettingsError("--like-point needs --like-model: the model whose city the place is in.")
    xy = parse_numbers(args.like_point, 2, "--like-point", "386000,6672000")
    vocabulary = phrase_vocabulary(args.vocabulary) if args.vocabulary else None
    target, source = load_model_for_maps(args.model), load_model(args.like_model)
    with terminal_job("places like this") as control:
        out = like_this_raster(target, args.embedding, source, xy, args.out, args.point_crs, vocabulary, control,
                               args.overwrite)
    print(f"Map of places like {args.like_point} (under {args.like_model}) written to {out}.")


def add_cluster(commands) -> None:
    p = commands.add_parser("cluster", help="k-means cluster map of an embedding raster, named by POI classes")
    p.add_argument("--embedding", required=True, help="embedding raster written by 'calliper raster'")
    p.add_argument("--k", type=int, default=6, help="number of clusters (default 6)")
    p.add_argument("--out", required=True, help="GeoTIFF to write (legend .json and QGIS style .qml beside it)")
    p.add_argument("--model", help="model folder for the legend names (default: the one that wrote the raster)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(run=_run_cluster)


def _run_cluster(args: argparse.Namespace) -> None:
    from ..core.imagery.region_maps import cluster_namer_for
    from ..core.maps.clusters import ClusterSettings, cluster_raster, naming_model_folder
    from .terminal import terminal_job

    namer = cluster_namer_for(naming_model_folder(args.embedding, args.model))
    with terminal_job("cluster") as control:
        result = cluster_raster(args.embedding, args.out, namer, ClusterSettings(k=args.k), control, args.overwrite)
    print(f"Cluster map written to {result.raster} (legend {result.legend_file}, QGIS style {result.style_file}):")
    for entry in result.legend:
        print(f"  {entry.value:3d}  {entry.colour}  {entry.label}  ({100 * entry.share:.0f} % of pixels)")


def add_describe(commands) -> None:
    p = commands.add_parser("describe", help="what is at a place: the POI classes ranked by the model and by the "
                                             "training POIs nearby, and the nearest training POIs")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    p.add_argument("--point", required=True, help="x,y of the place (in --point-crs, default the model's CRS)")
    p.add_argument("--point-crs", help="CRS of --point, e.g. EPSG:4326")
    p.add_argument("--phrases", help="text file with more phrases to score, one per line")
    p.add_argument("--top", type=int, default=10, help="how many descriptions to list (default 10)")
    p.add_argument("--evidence-weight", type=float, default=DESCRIBE_EVIDENCE_WEIGHT,
                   help=f"weight of the training POIs nearby against the model, 0 (the model alone) to 1 (the POIs "
                        f"alone); default {DESCRIBE_EVIDENCE_WEIGHT:g}, chosen on held-out blocks")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(run=_run_describe)


def _run_describe(args: argparse.Namespace) -> None:
    import json

    from ..core.catalog.loading import load_model
    from ..core.maps.describe import describe_place
    from ..core.profiles.vocabulary import read_phrase_file

    if args.top < 1:
        raise SettingsError(f"--top must be at least 1 (got {args.top}).")
    phrases = read_phrase_file(args.phrases) if args.phrases else []
    xy = parse_numbers(args.point, 2, "--point", "386000,6672000")
    place = describe_place(load_model(args.model), xy, args.point_crs, phrases, args.top, args.evidence_weight)
    print(json.dumps(place.as_dict(), ensure_ascii=False) if args.json else place.as_text())
