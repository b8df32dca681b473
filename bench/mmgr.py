"""Imagery + POIs benchmark: seconds per epoch and land-use macro-F1 of image only, POIs only, MMGR and fused.

On the demo city (default: the embedded Helsinki extract; ``--pbf`` for another),
the OSM data drawn as a 4-band image stands in for an orthophoto. Four feature sets
meet the same land-use study (spatially blocked splits, the same probe and seeds):

- image only: MMGR with the intra-modal term alone (two views of a tile, no POIs);
- POIs only: a CaLLiPer model trained on the same POIs;
- MMGR: 0.5 intra + 0.5 inter (tile vs its POI set);
- MMGR + CaLLiPer: both embeddings concatenated.

Target: the fused embeddings (MMGR, and MMGR + CaLLiPer) beat each single modality
(image only, POIs only). Spatial blocks are 250 m by default: the demo city is about
1 x 1.7 km, so 500 m blocks leave a handful of blocks and a test part of one or two.
Prints the machine load beside the timings (they move with other work on the same cores).

    .venv/bin/python bench/mmgr.py [--pbf FILE] [--epochs 40] [--tile-metres 32 --tile-pixels 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from calliper.core.catalog.loading import load_model
from calliper.core.catalog.training import train_from_points
from calliper.core.data.demo_city import build_demo_data
from calliper.core.data.poi_io import read_points
from calliper.core.imagery.loss import LossWeights
from calliper.core.imagery.osm_render import render_osm_image
from calliper.core.imagery.region_maps import write_region_raster
from calliper.core.imagery.tiles import ImagerySettings
from calliper.core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
from calliper.core.landuse.labels import LabelSettings
from calliper.core.landuse.probes import ProbeSettings
from calliper.core.landuse.splits import SplitSettings
from calliper.core.landuse.study import ClassifySettings, classify
from calliper.core.landuse.unit_features import CalliperFeatures, ConcatFeatures, RasterFeatures
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.train import TrainSettings
from calliper.core.text.descriptions import TextFields

FIELDS = TextFields("class", "category")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", help="OSM extract to use instead of the embedded Helsinki one")
    p.add_argument("--out", help="working folder (default: a new temporary folder)")
    p.add_argument("--pixel-size", type=float, default=1.0, help="metres per pixel of the rendered image")
    p.add_argument("--tile-metres", type=float, default=32.0)
    p.add_argument("--tile-pixels", type=int, default=32)
    p.add_argument("--width", type=int, default=16, help="channels of the CNN's first block")
    p.add_argument("--epochs", type=int, default=40, help="MMGR epochs")
    p.add_argument("--calliper-epochs", type=int, default=60)
    p.add_argument("--threads", type=int, help="torch CPU threads for MMGR (default: torch's)")
    p.add_argument("--tie", action="store_true", help="also train MMGR tied to the CaLLiPer model's space")
    p.add_argument("--block-size", type=float, default=250.0, help="spatial block size in metres")
    p.add_argument("--probe", default="linear", choices=["linear", "mlp"])
    p.add_argument("--min-class-size", type=int, default=10)
    return p.parse_args()


def train_image_model(args, data, image: Path, out: Path, name: str, loss: LossWeights, calliper: Path | None = None):
    """Train one MMGR variant and write its region raster; (raster, seconds per epoch, POI match top-1)."""
    job = MMGRJob(
        image=image, points=read_points(data.pois), fields=FIELDS, out=out / name,
        imagery=ImagerySettings(tile_metres=args.tile_metres, tile_pixels=args.tile_pixels),
        train=MMGRTrainSettings(epochs=args.epochs, loss=loss, cpu_threads=args.threads), width=args.width,
        calliper_model=calliper, overwrite=True,
    )
    outcome = train_mmgr(job)
    raster = write_region_raster(outcome.model, outcome.tiles, outcome.embeddings, out / f"{name}.tif", overwrite=True)
    metrics = outcome.card.metrics
    print(f"{name}: {len(outcome.tiles.index)} tiles ({outcome.tiles.skipped} skipped), "
          f"{metrics['seconds_per_epoch']:.2f} s/epoch, own POI set first for {100 * metrics['poi_match']['top1']:.1f} % "
          f"of tiles (chance {100 * metrics['poi_match']['chance_top1']:.2f} %)")
    return raster, metrics["seconds_per_epoch"]


def main() -> None:
    args = parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="mmgr-bench-")).absolute()
    data = build_demo_data(out / "data", args.pbf)
    image = render_osm_image(out / "image.tif", args.pbf, args.pixel_size)
    print(f"{data.n_pois} POIs, {data.n_landuse} land-use polygons ({args.pbf or 'embedded Helsinki'}, {data.crs}); "
          f"image {image.width} x {image.height} px of {args.pixel_size:g} m; tiles {args.tile_metres:g} m / "
          f"{args.tile_pixels} px; load average before: {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    calliper = train_from_points(TrainJob(
        points=read_points(data.pois), fields=FIELDS, train=TrainSettings(epochs=args.calliper_epochs, seed=42),
        out=out / "calliper", overwrite=True,
    ))
    calliper_epoch = calliper.result.seconds / max(1, len(calliper.result.history))
    print(f"calliper: {calliper_epoch:.2f} s/epoch ({time.perf_counter() - started:.0f} s in all)")
    image_only, image_epoch = train_image_model(args, data, image.path, out, "image_only", LossWeights(inter=0.0))
    mmgr, mmgr_epoch = train_image_model(args, data, image.path, out, "mmgr", LossWeights())
    model = load_model(calliper.folder)
    sources = {
        "image only": (RasterFeatures(image_only, name="image_only"), image_epoch),
        "POIs only (CaLLiPer)": (CalliperFeatures(model), calliper_epoch),
        "MMGR": (RasterFeatures(mmgr, name="mmgr"), mmgr_epoch),
        "MMGR + CaLLiPer": (ConcatFeatures([RasterFeatures(mmgr, name="mmgr"), CalliperFeatures(model)]), None),
    }
    if args.tie:
        tied, tied_epoch = train_image_model(args, data, image.path, out, "mmgr_tied", LossWeights(tie=0.5),
                                             calliper.folder)
        sources["MMGR tied to CaLLiPer"] = (RasterFeatures(tied, name="mmgr_tied"), tied_epoch)

    settings = ClassifySettings(
        labels=LabelSettings(min_class_size=args.min_class_size),
        split=SplitSettings(kind="spatial", block_size=args.block_size),
        probe=ProbeSettings(kind=args.probe), pois=str(data.pois), overwrite=True,
    )
    f1, baselines = {}, {}
    for index, (label, (source, _)) in enumerate(sources.items()):
        metrics = classify(source, data.landuse, "landuse", out / f"study_{index}", settings).metrics
        f1[label] = metrics["methods"][source.name]["macro_f1"]
        baselines = {name: metrics["methods"][name]["macro_f1"] for name in ("coords_only", "poi_counts")}
    protocol = metrics["protocol"]
    print(f"\nLand use: {metrics['n_units']} polygons, {len(metrics['classes'])} classes, "
          f"{protocol['split_description']}, {args.probe} probe, seeds {protocol['seeds']}")
    print(f"{'features':26s} {'s/epoch':>8s} {'macro-F1':>16s}")
    for label, (_, seconds) in sources.items():
        timing = f"{seconds:8.2f}" if seconds is not None else f"{'-':>8s}"
        print(f"{label:26s} {timing} {f1[label]['mean']:8.3f} ± {f1[label]['std']:.3f}")
    for name, score in baselines.items():
        print(f"{name:26s} {'-':>8s} {score['mean']:8.3f} ± {score['std']:.3f}")
    best_single = max(f1["image only"]["mean"], f1["POIs only (CaLLiPer)"]["mean"])
    for fused in ("MMGR", "MMGR + CaLLiPer"):
        margin = f1[fused]["mean"] - best_single
        verdict = "meets" if margin > 0 else "misses"
        print(f"{fused}: {100 * margin:+.1f} macro-F1 points over the better single modality ({verdict} the target)")
    print(f"MMGR + CaLLiPer vs MMGR: {100 * (f1['MMGR + CaLLiPer']['mean'] - f1['MMGR']['mean']):+.1f} points; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
