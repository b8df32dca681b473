"""Land-use classification benchmark: the outputs' method against every baseline and srai's POI embedders.

Builds the POI and land-use layers of an OSM extract (default: the embedded
Helsinki demo; ``--pbf liechtenstein-latest.osm.pbf``, from download.geofabrik.de,
for a second city), trains one CaLLiPer model unless ``--model`` is given, and runs
``classify`` (spatially blocked splits, the probe seeds): the point and pooled
embeddings, coordinates, POI counts, the polygon's shape, the fused methods, and
the method the outputs use (``landuse/ensemble.py``: trees and a linear probe without the
model, the model's probe added where it beats them out of fold). Then, on the same units,
splits, probe and seeds, srai's CountEmbedder, ContextualCountEmbedder and
Hex2VecEmbedder (GeoVex where it runs), alone, with the shape, with shape and
coordinates, and in the outputs' design in place of CaLLiPer; they run in
bench/.venv-srai, which bench/srai_env.sh installs (srai is not a plugin dependency).
Prints macro-F1 and accuracy per method, then the outputs' method against its twin
(the same blend without the model), the boosted trees and the best method without the
model, seed by seed: mean, sd, worst seed and seeds clearing +0.01, and each srai
embedder in the same design against the same twin. Target: the outputs' method >= the
best method without the model + 0.01 on average, or the report saying it is not.

    nice .venv/bin/python bench/landuse.py [--pbf FILE] [--model DIR] [--epochs 20] [--seeds 42,24,7,0,100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from calliper.core.catalog.loading import load_model
from calliper.core.catalog.training import train_from_points
from calliper.core.crs import to_crs
from calliper.core.data.demo_city import build_demo_data
from calliper.core.data.poi_io import read_points
from calliper.core.jobs import JobControl
from calliper.core.landuse.ensemble import TREES_KEY, TWIN_KEY, ensemble_key, evaluate_ensemble, headline, members
from calliper.core.landuse.evaluation import evaluate_methods
from calliper.core.landuse.geometry import repaired, unit_shapes
from calliper.core.landuse.labels import LabelSettings, load_labels
from calliper.core.landuse.probes import PAPER_SEEDS, ProbeSettings, parse_seeds
from calliper.core.landuse.report import margin_table, method_label
from calliper.core.landuse.splits import SplitSettings
from calliper.core.landuse.study import ClassifySettings, classify
from calliper.core.landuse.unit_features import PoiCounts, coordinate_features
from calliper.core.model.inference import model_crs
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.train import TrainSettings
from calliper.core.text.descriptions import TextFields

BENCH_SEEDS = PAPER_SEEDS + (1, 2, 3, 4, 5)
BENCH = Path(__file__).resolve().parent
SRAI_PYTHON = BENCH / ".venv-srai" / "bin" / "python"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", help="OSM extract to use instead of the embedded Helsinki one")
    p.add_argument("--model", help="trained model folder (default: train one on the extract's POIs)")
    p.add_argument("--out", help="working folder (default: a new temporary folder)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs when no --model is given")
    p.add_argument("--probe", default="linear", choices=["linear", "mlp"])
    p.add_argument("--seeds", type=parse_seeds, default=BENCH_SEEDS, help="probe seeds (default the paper's five + 5)")
    p.add_argument("--block-size", type=float, default=500.0, help="spatial block size in metres")
    p.add_argument("--min-class-size", type=int, default=10, help="land-use classes with fewer polygons are left out")
    p.add_argument("--srai-epochs", type=int, default=5, help="Hex2Vec / GeoVex training epochs")
    p.add_argument("--no-srai", action="store_true", help="leave srai's embedders out")
    p.add_argument("--table", help="also write the macro-F1 table as Markdown to this file")
    return p.parse_args()


def trained_model(data, args: argparse.Namespace, out: Path):
    if args.model:
        return load_model(args.model)
    started = time.perf_counter()
    job = TrainJob(points=read_points(data.pois), fields=TextFields("class", "category", "name"),
                   train=TrainSettings(epochs=args.epochs, seed=42), out=out / "model", overwrite=True)
    model = load_model(train_from_points(job).folder)
    print(f"trained CaLLiPer+ in {time.perf_counter() - started:.0f} s (epoch {model.card.metrics['epochs_run']})")
    return model


def srai_features(labels, pois: Path, args: argparse.Namespace, out: Path) -> dict[str, np.ndarray]:
    """srai's embeddings at the units' representative points, computed in the bench-only environment."""
    subprocess.run(["bash", str(BENCH / "srai_env.sh")], check=True)
    lonlat = to_crs(labels.anchors, labels.model_crs, "EPSG:4326")
    np.save(out / "units_lonlat.npy", lonlat)
    command = [str(SRAI_PYTHON), str(BENCH / "srai_features.py"), "--pois", str(pois), "--points",
               str(out / "units_lonlat.npy"), "--out", str(out / "srai.npz"), "--epochs", str(args.srai_epochs)]
    done = subprocess.run(command, capture_output=True, text=True)
    print("\n".join(line for line in done.stdout.splitlines() if not line.startswith(("GPU", "TPU", "💡"))))
    if done.returncode:
        sys.exit(f"srai failed:\n{done.stderr[-3000:]}")
    with np.load(out / "srai.npz") as arrays:
        return dict(arrays)


def srai_scores(model, data, settings: ClassifySettings, args: argparse.Namespace, out: Path,
                radii: list[str]) -> tuple[dict, list[dict]]:
    """srai's embedders alone, with the shape, and with shape and coordinates, on the study's units and splits;
    then each in the outputs' design in place of CaLLiPer (the blend of ``landuse/ensemble.py``, the counts within
    the ``radii`` the study's probe without the model chose per seed). Returns (summaries, the blends' headlines
    against the twin and the trees)."""
    labels = load_labels(data.landuse, "class", ("landuse",), model_crs(model), model.card.training.get("extent"),
                         settings.labels)
    rows, n_classes, xy = labels.rows, len(labels.names), labels.metric_anchors[labels.rows]
    shapes = unit_shapes(repaired(labels.frame.geometry.to_crs(labels.metric_crs)), rows, print)
    coordinates = coordinate_features(labels)
    counts = PoiCounts(labels, data.pois, model.card.text["fields"]["class_field"], settings.poi_radii)
    free = {key: np.hstack([shapes, coordinates, x]) for key, x in counts.units.items()}
    n_free = next(iter(free.values())).shape[1]
    features, blends, lines = {}, {}, []
    for name, x in srai_features(labels, data.pois, args, out).items():
        features[name] = x[rows]
        features[f"geometry_{name}"] = np.hstack([shapes, x])[rows]
        features[f"geometry_coords_{name}"] = np.hstack([shapes, coordinates, x])[rows]
        blend = members(n_free, n_free + x.shape[1], "geometry_coords_poi_counts", f"geometry_{name}",
                        shapes.shape[1])
        run = evaluate_ensemble({key: np.hstack([v, x])[rows] for key, v in free.items()}, radii, labels.targets,
                                n_classes, xy, settings.split, settings.probe.seeds, blend, ensemble_key(name))
        blends[ensemble_key(name)] = run.scores[ensemble_key(name)]
        lines.append(headline(run.scores, ensemble_key(name), [TREES_KEY, TWIN_KEY]))
    scores = evaluate_methods(features, labels.targets, "class", n_classes, xy, settings.split, settings.probe,
                              JobControl())
    return {name: s.summary() for name, s in {**scores, **blends}.items()}, lines


def progress_printer(every: float = 60.0):
    """A progress callback printing the elapsed time and the step at most every ``every`` seconds."""
    started, last = time.perf_counter(), [0.0]

    def show(fraction: float, message: str) -> None:
        now = time.perf_counter() - started
        if now - last[0] >= every:
            last[0] = now
            print(f"  {now:5.0f} s {fraction:4.0%} {message}", flush=True)

    return show


def cell(summary: dict, metric: str) -> str:
    return f"{summary[metric]['mean']:.3f} ± {summary[metric]['std']:.3f}"


def main() -> None:
    args = parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="landuse-bench-")).absolute()
    out.mkdir(parents=True, exist_ok=True)
    city = Path(args.pbf).stem.split(".")[0] if args.pbf else "helsinki (embedded)"
    data = build_demo_data(out / "data", args.pbf)
    print(f"{city}: {data.n_pois} POIs, {data.n_landuse} land-use polygons ({data.crs})")
    model = trained_model(data, args, out)
    settings = ClassifySettings(
        labels=LabelSettings(min_class_size=args.min_class_size), split=SplitSettings(block_size=args.block_size),
        probe=ProbeSettings(kind=args.probe, seeds=tuple(args.seeds)), pois=str(data.pois), overwrite=True,
    )
    started = time.perf_counter()
    result = classify(model, data.landuse, "landuse", out / "classify", settings,
                      JobControl(progress=progress_printer(), log=print))
    metrics = result.metrics
    print(f"classify: {time.perf_counter() - started:.0f} s, {metrics['n_units']} units, {len(metrics['classes'])} "
          f"classes, {metrics['protocol']['split_description']}, {args.probe} probe, seeds {list(args.seeds)}")
    methods, srai_lines = dict(metrics["methods"]), []
    if not args.no_srai:
        started = time.perf_counter()
        summaries, srai_lines = srai_scores(model, data, settings, args, out,
                                            metrics["chosen"]["geometry_coords_poi_counts"])
        methods.update(summaries)
        print(f"srai: {time.perf_counter() - started:.0f} s")
    default = metrics["default_method"]
    lines = [f"| method ({city}, {metrics['n_units']} units, {len(metrics['classes'])} classes) | macro-F1 | "
             "accuracy |", "|---|---|---|"]
    for name, summary in methods.items():
        mark = " **(outputs)**" if name == default else ""
        lines.append(f"| {method_label(name)}{mark} | {cell(summary, 'macro_f1')} | {cell(summary, 'accuracy')} |")
    lines += ["", *margin_table(metrics["headline"], city)]
    for line in srai_lines:
        lines += ["", *margin_table(line, f"{city}, srai in the outputs' design")]
    print("\n".join(lines))
    print(metrics["headline"]["verdict"])
    print(f"report: {result.outputs['report']}")
    if args.table:
        Path(args.table).write_text("\n".join(lines + ["", metrics["headline"]["verdict"], ""]), encoding="utf-8")


if __name__ == "__main__":
    main()
