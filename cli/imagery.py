"""The imagery commands of the ``calliper`` command line: ``render-osm``, ``mmgr-train`` and ``region-raster``.

``mmgr-train`` learns region embeddings from an image and a POI layer (MMGR) and
can write the region raster and its maps at once; ``region-raster`` applies a
trained model to an image; ``render-osm`` draws an OSM extract as a stand-in image.
Heavy modules are imported when a command runs, so ``calliper --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import SettingsError


def _bands(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of band numbers, e.g. 1,2,3") from None


def _add_map_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rgb", help="also write an RGB preview GeoTIFF of the region raster")
    p.add_argument("--clusters", help="also write a cluster map GeoTIFF (legend named by the model's POI classes)")
    p.add_argument("--k", type=int, default=6, help="number of clusters (default 6)")
    p.add_argument("--phrase", help="also write a similarity map to this phrase (taken as a set of one POI)")
    p.add_argument("--similarity", help="GeoTIFF for the --phrase similarity map")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _write_maps(model, raster: Path, args: argparse.Namespace, control) -> None:
    """The optional maps of a region raster: RGB preview, clusters, phrase similarity."""
    from ..core.imagery.region_maps import mmgr_cluster_names, mmgr_text_query
    from ..core.maps.clusters import ClusterSettings, cluster_raster
    from ..core.maps.rasters import rgb_preview
    from ..core.maps.similarity import similarity_raster

    if args.rgb:
        print(f"RGB preview written to {rgb_preview(raster, args.rgb, control=control, overwrite=args.overwrite)}.")
    if args.clusters:
        result = cluster_raster(
            raster, args.clusters, lambda centres, n: mmgr_cluster_names(model, centres, n), ClusterSettings(k=args.k),
            control, args.overwrite,
        )
        print(f"Cluster map written to {result.raster}:")
        for entry in result.legend:
            print(f"  {entry.value:3d}  {entry.label}  ({100 * entry.share:.0f} % of tiles)")
    if args.phrase:
        out = similarity_raster(None, raster, mmgr_text_query(model, args.phrase), args.similarity, control, args.overwrite)
        print(f"Similarity to '{args.phrase}' written to {out}.")


def _check_map_arguments(args: argparse.Namespace) -> None:
    """Refuse bad map options and unusable map paths before any work, so none fails after a model is written."""
    from ..core.outputs import check_output_path

    if bool(args.phrase) != bool(args.similarity):
        raise SettingsError("--phrase and --similarity go together: the phrase, and the GeoTIFF for its map.")
    for path in (getattr(args, "raster", None), args.rgb, args.clusters, args.similarity):
        if path:
            check_output_path(path, args.overwrite, inputs=(args.image,))


def add_render_osm(commands) -> None:
    p = commands.add_parser("render-osm", help="draw an OSM extract as a 4-band image (buildings, roads, water, green)")
    p.add_argument("--out", required=True, help="GeoTIFF to write")
    p.add_argument("--pbf", help="OSM extract (default: the packaged Helsinki demo)")
    p.add_argument("--pixel-size", type=float, default=1.0, help="metres per pixel (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_run_render_osm)


def _run_render_osm(args: argparse.Namespace) -> None:
    from ..core.outputs import check_output_path
    from ..core.imagery.osm_render import render_osm_image

    if not args.pixel_size > 0:
        raise SettingsError(f"--pixel-size must be a positive number of metres (got {args.pixel_size}).")
    rendered = render_osm_image(check_output_path(args.out, args.overwrite), args.pbf, args.pixel_size)
    counts = ", ".join(f"{count} {name}" for name, count in rendered.counts.items())
    print(f"Image written to {rendered.path} ({rendered.width} x {rendered.height} pixels; {counts}).")


def add_mmgr_train(commands) -> None:
    p = commands.add_parser("mmgr-train", help="learn region embeddings from an image and the POIs in its tiles (MMGR)")
    p.add_argument("--image", required=True, help="raster image (orthophoto, satellite scene, rendered OSM)")
    p.add_argument("--bands", type=_bands, help="comma-separated 1-based bands to use (default: all)")
    p.add_argument("--pois", required=True, help="POI file (GeoPackage, GeoJSON, Shapefile, CSV with x/y)")
    p.add_argument("--layer", help="layer name inside the POI file")
    p.add_argument("--class-field", required=True, help="field holding the POI class")
    p.add_argument("--category-field", help="field holding the POI category")
    p.add_argument("--csv-crs", help="CRS of a CSV file's coordinates (default EPSG:4326)")
    p.add_argument("--tile-metres", type=float, default=64.0, help="tile side on the ground (default 64 m)")
    p.add_argument("--tile-pixels", type=int, default=64, help="tile side in pixels (default 64)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--temperature", type=float, default=0.5, help="InfoNCE temperature (default 0.5, as MMGR)")
    p.add_argument("--calliper-model", help="CaLLiPer model folder: tie tile embeddings to its space")
    p.add_argument("--tie-weight", type=float, default=0.5, help="weight of the CaLLiPer tie term (with --calliper-model)")
    p.add_argument("--image-encoder", default="small_cnn", help="small_cnn (default) or torchvision (a local backbone)")
    p.add_argument("--backbone", help="torchvision model name, e.g. resnet18 (with --image-encoder torchvision)")
    p.add_argument("--backbone-weights", help="local weights file of that backbone (never downloaded)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 is fastest for small tiles on a busy machine)")
    p.add_argument("--text-model", help="local sentence-transformers folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--raster", help="also write the region-embedding raster (one pixel per tile)")
    _add_map_arguments(p)
    p.set_defaults(run=_run_mmgr_train)


def _run_mmgr_train(args: argparse.Namespace) -> None:
    from ..core.data.poi_io import read_points
    from ..core.imagery.loss import LossWeights
    from ..core.imagery.region_maps import write_region_raster
    from ..core.imagery.tiles import ImagerySettings
    from ..core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
    from ..core.text.descriptions import TextFields
    from .terminal import terminal_job

    _check_map_arguments(args)
    if (args.rgb or args.clusters or args.phrase) and not args.raster:
        raise SettingsError("The maps are made from the region raster: give --raster too.")
    job = MMGRJob(
        image=Path(args.image), points=read_points(args.pois, args.layer, args.csv_crs),
        fields=TextFields(args.class_field, args.category_field), out=Path(args.out),
        imagery=ImagerySettings(bands=args.bands, tile_metres=args.tile_metres, tile_pixels=args.tile_pixels),
        train=MMGRTrainSettings(
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, device=args.device,
            seed=args.seed, cpu_threads=args.threads,
            loss=LossWeights(temperature=args.temperature, tie=args.tie_weight if args.calliper_model else 0.0),
        ),
        image_encoder=args.image_encoder,
        backbone={"name": args.backbone, "weights": args.backbone_weights} if args.backbone else {},
        calliper_model=Path(args.calliper_model) if args.calliper_model else None,
        text_model=args.text_model, layer_name=f"the layer {Path(args.pois).name}", overwrite=args.overwrite,
    )
    with terminal_job("mmgr-train") as control:
        outcome = train_mmgr(job, control.part(0.0, 0.9 if args.raster else 1.0))
        metrics = outcome.card.metrics
        print(f"MMGR model written to {outcome.folder} ({len(outcome.tiles.index)} tiles, {outcome.tiles.skipped} "
              f"skipped; {metrics['seconds_per_epoch']:.1f} s per epoch; final loss {metrics['final_loss']:.4f}; "
              f"own POI set ranked first for {100 * metrics['poi_match']['top1']:.1f} % of tiles).")
        if args.raster:
            model = outcome.model
            raster = write_region_raster(model, outcome.tiles, outcome.embeddings, args.raster, control.part(0.9, 1.0),
                                         args.overwrite)
            print(f"Region raster written to {raster}.")
            _write_maps(model, raster, args, control)


def add_region_raster(commands) -> None:
    p = commands.add_parser("region-raster", help="apply an MMGR model to an image: one embedding per tile")
    p.add_argument("--model", required=True, help="MMGR model folder written by 'calliper mmgr-train'")
    p.add_argument("--image", required=True, help="raster image with the bands the model was trained on")
    p.add_argument("--out", required=True, help="GeoTIFF to write")
    _add_map_arguments(p)
    p.set_defaults(run=_run_region_raster)


def _run_region_raster(args: argparse.Namespace) -> None:
    from ..core.imagery.files import load_mmgr
    from ..core.imagery.region_maps import region_raster
    from .terminal import terminal_job

    _check_map_arguments(args)
    model = load_mmgr(args.model)
    with terminal_job("region-raster") as control:
        raster = region_raster(model, args.image, args.out, control, args.overwrite)
        print(f"Region raster written to {raster}.")
        _write_maps(model, raster, args, control)
