"""Land use carried between cities: profiles against transferred POI counts, with the within-city upper bound.

Builds the POI and land-use layers of the embedded Helsinki demo and of a second
OSM extract (--pbf, e.g. Liechtenstein from download.geofabrik.de), trains one model per
city (or takes --model-a/--model-b), and carries the land-use classes both cities
label (each with at least --min-class-size polygons) both ways. Prints macro-F1 and
accuracy (mean ± std over the probe seeds) for:

* profiles: the probe on source log-profiles over the shared POI classes, beside the
  units' shapes, applied to the target;
* POI counts: the same probe on shared-class POI shares within a radius picked on
  source validation blocks, beside the shapes (the baseline);
* geometry: the shapes alone;
* boosted trees on the POI shares and shapes (no model) and the blend of trees and linear
  probe without the model;
* the default output: the profiles' probe 1/3 blended with the shapes' 2/3;
* with ``--unaligned``, each of them without the per-city standardisation;
* within the target city (the upper bound): the same features, probe and classes,
  trained and tested on the target's own spatial blocks.

Then the default against its twin, the trees and the best method without the model,
seed by seed (mean, sd, worst seed, seeds clearing +0.01). Target: the default never
below the best transferred method without the model.

    .venv/bin/python bench/transfer.py --pbf FILE [--model-a DIR --model-b DIR] [--epochs 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from calliper.core.catalog.loading import load_model
from calliper.core.catalog.training import train_from_points
from calliper.core.data.demo_city import build_demo_data
from calliper.core.data.poi_io import read_points
from calliper.core.jobs import JobControl
from calliper.core.landuse.evaluation import evaluate_methods
from calliper.core.landuse.geometry import repaired, unit_shapes
from calliper.core.landuse.labels import LabelSettings, load_labels
from calliper.core.landuse.probes import PAPER_SEEDS, ProbeSettings, parse_seeds
from calliper.core.landuse.report import margin_table
from calliper.core.landuse.splits import SplitSettings
from calliper.core.model.inference import model_crs
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.train import TrainSettings
from calliper.core.profiles.transfer import ClassShares, TransferSettings, profile_features, standardised, transfer
from calliper.core.profiles.vocabulary import shared_poi_classes, shared_vocabulary
from calliper.core.text.descriptions import TextFields

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", required=True, help="the second city's OSM extract (.osm.pbf)")
    p.add_argument("--model-a", help="trained model of the Helsinki demo (default: train one)")
    p.add_argument("--model-b", help="trained model of the second city (default: train one)")
    p.add_argument("--out", help="working folder (default: a new temporary folder)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs when no model is given")
    p.add_argument("--min-class-size", type=int, default=10, help="land-use classes with fewer polygons are left out")
    p.add_argument("--block-size", type=float, default=500.0, help="spatial blocks in metres")
    p.add_argument("--seeds", type=parse_seeds, default=PAPER_SEEDS + (1, 2, 3, 4, 5), help="probe seeds")
    p.add_argument("--unaligned", action="store_true", help="also run without the per-city standardisation")
    return p.parse_args()


def city_model(label: str, pois: Path, given: str | None, folder: Path, epochs: int):
    if given:
        return load_model(given)
    started = time.perf_counter()
    job = TrainJob(read_points(pois), TextFields("class", "category", "name"), folder,
                   train=TrainSettings(epochs=epochs, seed=42), overwrite=True)
    model = load_model(train_from_points(job).folder)
    print(f"trained {label} in {time.perf_counter() - started:.0f} s (epoch {model.card.metrics['epochs_run']})")
    return model


def cell(summary: dict, metric: str) -> str:
    return f"{summary[metric]['mean']:.3f} ± {summary[metric]['std']:.3f}"


def within_city(model, other, labels_path: Path, classes: list[str], settings: TransferSettings) -> dict:
    """The upper bound: profiles and POI shares of the target, probed on its own spatial blocks."""
    units = load_labels(labels_path, "class", ("landuse",), model_crs(model), model.card.training.get("extent"),
                        settings.labels)
    lookup = {name: i for i, name in enumerate(classes)}
    mapped = [lookup.get(units.names[t], -1) for t in units.targets]
    keep = [i for i, value in enumerate(mapped) if value >= 0]
    rows = units.rows[keep]
    targets = np.array([mapped[i] for i in keep])
    shares = ClassShares(model, units, shared_poi_classes(model, other))
    shapes = standardised(unit_shapes(repaired(units.frame.geometry.to_crs(units.metric_crs)), rows, print)[rows])
    features = {
        "profiles": np.hstack([standardised(profile_features(model, units, shared_vocabulary(model, other),
                                                             JobControl())[rows]), shapes]),
        "poi_counts": {f"{r:g} m": np.hstack([standardised(shares.at(r)[rows]), shapes]) for r in settings.poi_radii},
        "geometry": shapes,
    }
    scores = evaluate_methods(features, targets, "class", len(classes), units.metric_anchors[rows], settings.split,
                              settings.probe)
    return {name: s.summary() for name, s in scores.items()}


def main() -> None:
    args = parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="transfer-bench-")).absolute()
    cities = {"Helsinki": build_demo_data(out / "helsinki"), "second city": build_demo_data(out / "second", args.pbf)}
    for name, data in cities.items():
        print(f"{name}: {data.n_pois} POIs, {data.n_landuse} land-use polygons ({data.crs})")
    models = {
        "Helsinki": city_model("Helsinki", cities["Helsinki"].pois, args.model_a, out / "model-helsinki", args.epochs),
        "second city": city_model("the second city", cities["second city"].pois, args.model_b, out / "model-second",
                                  args.epochs),
    }
    settings = TransferSettings(labels=LabelSettings(min_class_size=args.min_class_size),
                                split=SplitSettings(block_size=args.block_size), probe=ProbeSettings(seeds=args.seeds),
                                overwrite=True)
    variants = [("", settings)] + [(" (no align)", TransferSettings(**{**settings.__dict__, "align": False}))] * (
        args.unaligned)
    for source, target in (("Helsinki", "second city"), ("second city", "Helsinki")):
        started = time.perf_counter()
        runs = {}
        for label, chosen in variants:
            result = transfer(models[source], cities[source].landuse, models[target], "landuse",
                              out / f"transfer-{source[:3]}-{label.strip()[1:3] or 'al'}",
                              target_labels=cities[target].landuse, settings=chosen)
            runs.update({f"{name}{label}": summary for name, summary in result.metrics["methods"].items()})
        metrics = result.metrics
        within = within_city(models[target], models[source], cities[target].landuse, metrics["classes"], settings)
        print(f"\n{source} -> {target}: {len(metrics['classes'])} shared classes ({', '.join(metrics['classes'])}), "
              f"{metrics['n_source_units']} source units, {metrics['n_target_scored']} scored target units, "
              f"{len(metrics['vocabulary'])} shared POI classes ({time.perf_counter() - started:.0f} s)")
        print(f"  {'method':34s} {'macro-F1':>15s} {'accuracy':>15s}")
        for name, summary in runs.items():
            print(f"  {'transferred ' + name:34s} {cell(summary, 'macro_f1'):>15s} {cell(summary, 'accuracy'):>15s}")
        for name, summary in within.items():
            print(f"  {'within the target, ' + name:34s} {cell(summary, 'macro_f1'):>15s} "
                  f"{cell(summary, 'accuracy'):>15s}")
        print("\n".join(["", *margin_table(metrics["headline"], f"{source} -> {target}"), ""]))
        print(metrics["headline"]["verdict"])


if __name__ == "__main__":
    main()
