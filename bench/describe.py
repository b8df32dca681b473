"""Describe-a-place benchmark: is a held-out POI's class among the model's top 5 descriptions of its location?

For each city (the embedded Helsinki demo, and Liechtenstein from ../shared/data when
present) a share of the POIs is held out, the model trains on the rest, and each
held-out POI's location is described. Printed side by side in one run: the model's
top-5 class descriptions, the 5 most frequent training classes, and the classes of the
5 nearest training POIs (what a GIS user gets from a nearest-neighbour join).

    .venv/bin/python bench/describe.py [--pbf FILE ...] [--epochs 40] [--held-out 0.2] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from calliper.core.catalog.loading import load_model  # noqa: E402
from calliper.core.catalog.training import train_from_points  # noqa: E402
from calliper.core.data.demo_city import build_demo_data, helsinki_pbf  # noqa: E402
from calliper.core.data.poi_io import PointTable, read_points  # noqa: E402
from calliper.core.maps.describe import describe_points  # noqa: E402
from calliper.core.model.pipeline import TrainJob  # noqa: E402
from calliper.core.model.train import TrainSettings  # noqa: E402
from calliper.core.text.descriptions import TextFields  # noqa: E402

FIELDS = TextFields("class", "category", "name")
TOP = 5
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "liechtenstein.osm.pbf"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", nargs="*", help="OSM extracts (default: Helsinki, and Liechtenstein when present)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--held-out", type=float, default=0.2)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    return p.parse_args()


def split(points: PointTable, share: float, seed: int) -> tuple[PointTable, np.ndarray]:
    held = np.random.default_rng(seed).random(len(points.xy)) < share
    train = PointTable(points.xy[~held], points.attributes.loc[~held].reset_index(drop=True), points.crs, points.source)
    return train, held


def hit_rate(candidates: list[list[str]], truth: np.ndarray) -> float:
    return float(np.mean([t in c for c, t in zip(candidates, truth)]))


def run_city(pbf: Path, args: argparse.Namespace, work: Path) -> dict[str, list[float]]:
    data = build_demo_data(work / pbf.stem, pbf)
    points = read_points(data.pois)
    classes = points.attributes["class"].astype(str).to_numpy()
    results: dict[str, list[float]] = {"model top 5": [], "5 most frequent classes": [], "5 nearest training POIs": []}
    for seed in args.seeds:
        train, held = split(points, args.held_out, seed)
        outcome = train_from_points(TrainJob(points=train, fields=FIELDS, out=work / f"{pbf.stem}-{seed}",
                                             train=TrainSettings(epochs=args.epochs, seed=seed), overwrite=True))
        model = load_model(outcome.folder)
        truth = classes[held]
        described, _ = describe_points(model, points.xy[held], points.crs, TOP)
        train_classes = classes[~held]
        values, counts = np.unique(train_classes, return_counts=True)
        frequent = list(values[np.argsort(-counts)[:TOP]])
        _, nearest = cKDTree(points.xy[~held]).query(points.xy[held], k=TOP)
        results["model top 5"].append(hit_rate(described, truth))
        results["5 most frequent classes"].append(hit_rate([frequent] * len(truth), truth))
        results["5 nearest training POIs"].append(hit_rate([list(train_classes[row]) for row in nearest], truth))
        print(f"  {pbf.stem} seed {seed}: {held.sum()} held-out POIs, {len(values)} classes, "
              + ", ".join(f"{k} {v[-1]:.3f}" for k, v in results.items()), flush=True)
    return results


def main() -> None:
    args = parse_args()
    pbfs = [Path(p) for p in args.pbf] if args.pbf else [helsinki_pbf()] + ([SHARED] if SHARED.exists() else [])
    with tempfile.TemporaryDirectory(prefix="calliper-describe-") as scratch:
        table = {pbf.stem: run_city(pbf, args, Path(scratch)) for pbf in pbfs}
    print(f"\nHeld-out POIs whose class is among the top {TOP} (mean ± sd over seeds {args.seeds}):")
    print(f"{'city':<20}" + "".join(f"{name:>28}" for name in next(iter(table.values()))))
    for city, results in table.items():
        print(f"{city:<20}" + "".join(f"{np.mean(v):>20.3f} ± {np.std(v):.3f}" for v in results.values()))


if __name__ == "__main__":
    main()
