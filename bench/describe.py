"""Describe-a-place benchmark on places the model never saw: is a held-out POI's class among the top 1 / top 5?

For each city (the embedded Helsinki demo, and each OpenStreetMap extract given with
``--pbf``, e.g. Liechtenstein from https://download.geofabrik.de)
and seed, whole square blocks (2 km) are drawn: a share of them is the test,
as many others the validation. Two models train per seed: one without the test and
validation blocks (its descriptions of the validation POIs choose the evidence weight),
one without the test blocks only (its descriptions of the test POIs are the result).
The weight is chosen once, over both cities and all seeds, by the validation blocks'
mean Hit@5 (ties: the higher Hit@1); the test blocks never choose anything.

Printed side by side for the test POIs: the model alone (weight 0), the training POIs'
kernel density alone (weight 1), the blend at the chosen weight and at the product's
default (``describe.EVIDENCE_WEIGHT``), the 5 most frequent training classes (the base
rates), the first 5 distinct classes of the nearest training POIs (what a GIS user
reads off a nearest-neighbour join), and, as a ceiling, each test block's own 5 most
frequent classes (an oracle: no answer that is the same across a block does better).

    nice -n 10 .venv/bin/python bench/describe.py [--pbf FILE ...] [--epochs 40] [--seeds 0 1 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from calliper.core.catalog.loading import load_model  # noqa: E402
from calliper.core.catalog.training import train_from_points  # noqa: E402
from calliper.core.data.demo_city import build_demo_data, helsinki_pbf  # noqa: E402
from calliper.core.data.poi_io import PointTable, read_points  # noqa: E402
from calliper.core.landuse.splits import block_ids  # noqa: E402
from calliper.core.maps.describe import EVIDENCE_WEIGHT, ClassScores, class_logits, class_scores  # noqa: E402
from calliper.core.model.evidence import load_evidence  # noqa: E402
from calliper.core.model.inference import embed_locations  # noqa: E402
from calliper.core.model.pipeline import TrainJob  # noqa: E402
from calliper.core.model.train import TrainSettings  # noqa: E402
from calliper.core.text.descriptions import TextFields  # noqa: E402

FIELDS = TextFields("class", "category", "name")
TOPS = (1, 5)
WEIGHTS = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))
NEAREST_QUERY = 256
ORACLE = "own block's 5 most frequent (oracle)"
CEILING_TARGET = 0.5


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", nargs="*", default=[], help="OSM extracts of further cities (.osm.pbf), beside the embedded Helsinki one")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--block", type=float, default=2000.0, help="held-out block side, metres")
    p.add_argument("--held-out", type=float, default=0.2, help="share of blocks in the test (and in the validation)")
    p.add_argument("--keep", type=Path, help="keep the trained models here and reuse those already there")
    return p.parse_args()


@dataclass
class Split:
    test: np.ndarray
    validation: np.ndarray
    block: np.ndarray  # each POI's block


def split_blocks(xy: np.ndarray, args: argparse.Namespace, seed: int) -> Split:
    """Test and validation POIs: those in two disjoint random sets of whole blocks (at least one block each)."""
    owner = block_ids(xy, args.block)
    n_blocks = owner.max() + 1
    n = max(1, round(args.held_out * n_blocks))
    order = np.random.default_rng(seed).permutation(n_blocks)
    return Split(np.isin(owner, order[:n]), np.isin(owner, order[n:2 * n]), owner)


def trained_model(points: PointTable, keep: np.ndarray, out: Path, args: argparse.Namespace, seed: int):
    """A model trained on the ``keep`` POIs (reused from ``out`` when ``--keep`` already holds it)."""
    if not (out / "card.json").exists():
        train = PointTable(points.xy[keep], points.attributes.loc[keep].reset_index(drop=True), points.crs,
                           points.source)
        train_from_points(TrainJob(points=train, fields=FIELDS, out=out,
                                   train=TrainSettings(epochs=args.epochs, seed=seed), overwrite=True))
    return load_model(out)


def scores_at(model, xy: np.ndarray, crs) -> ClassScores:
    """Both parts of Describe at the held-out points (the product's own functions)."""
    evidence = load_evidence(model.folder)
    classes, logits = class_logits(model, evidence, embed_locations(model, xy, crs))
    return class_scores(evidence, classes, logits, xy)


def ranked_hits(scores: np.ndarray, classes: list[str], truth: np.ndarray) -> dict[int, float]:
    """Hit@k of per-point class scores: the true class among the k best (ties: the more frequent class first)."""
    best = np.argsort(-scores, axis=1, kind="stable")[:, : max(TOPS)]
    names = np.asarray(classes, dtype=object)[best]
    return {k: float(np.mean((names[:, :k] == truth[:, None]).any(axis=1))) for k in TOPS}


def most_frequent(train_classes: np.ndarray) -> list[str]:
    """The base rates' answer: the most frequent training classes, most frequent first."""
    values, counts = np.unique(train_classes, return_counts=True)
    return list(values[np.argsort(-counts, kind="stable")[: max(TOPS)]])


def listed_hits(lists: list[list[str]], truth: np.ndarray) -> dict[int, float]:
    return {k: float(np.mean([t in row[:k] for row, t in zip(lists, truth)])) for k in TOPS}


def own_block_classes(classes: np.ndarray, block: np.ndarray) -> list[list[str]]:
    """Each held-out POI's own block's most frequent classes: an oracle, the most any one answer per block reaches."""
    frequent = {b: most_frequent(classes[block == b]) for b in np.unique(block)}
    return [frequent[b] for b in block]


def nearest_classes(train_xy: np.ndarray, train_classes: np.ndarray, xy: np.ndarray) -> list[list[str]]:
    """The first distinct classes among the nearest training POIs, nearest first."""
    _, rows = cKDTree(train_xy).query(xy, k=min(NEAREST_QUERY, len(train_xy)))
    return [list(dict.fromkeys(train_classes[row]))[: max(TOPS)] for row in np.atleast_2d(rows)]


def run_city(pbf: Path, args: argparse.Namespace, work: Path) -> tuple[dict, dict]:
    """Validation Hit@k per weight, and the test's per-seed parts and baselines, for one city."""
    data = build_demo_data(work / pbf.stem, pbf)
    points = read_points(data.pois)
    classes = points.attributes["class"].astype(str).to_numpy()
    validation: dict[float | str, list[dict[int, float]]] = {w: [] for w in (*WEIGHTS, "base rates")}
    tests = []
    for seed in args.seeds:
        split = split_blocks(points.xy, args, seed)
        # named by everything that shapes the split and the training, so --keep never reuses another split's model
        stem = work / f"{pbf.stem}-seed{seed}-block{args.block:g}-held{args.held_out:g}-epochs{args.epochs}"
        chooser = trained_model(points, ~(split.test | split.validation), Path(f"{stem}-validation"), args, seed)
        found = scores_at(chooser, points.xy[split.validation], points.crs)
        truth = classes[split.validation]
        for weight in WEIGHTS:
            validation[weight].append(ranked_hits(found.blend(weight), found.classes, truth))
        validation["base rates"].append(listed_hits([most_frequent(classes[~(split.test | split.validation)])]
                                                    * len(truth), truth))
        model = trained_model(points, ~split.test, Path(f"{stem}-test"), args, seed)
        truth, train_classes = classes[split.test], classes[~split.test]
        tests.append({
            "scores": scores_at(model, points.xy[split.test], points.crs), "truth": truth,
            "5 most frequent classes": listed_hits([most_frequent(train_classes)] * len(truth), truth),
            "nearest POIs' classes": listed_hits(nearest_classes(points.xy[~split.test], train_classes,
                                                                 points.xy[split.test]), truth),
            ORACLE: listed_hits(own_block_classes(truth, split.block[split.test]),
                                                                truth),
        })
        print(f"  {pbf.stem} seed {seed}: {split.test.sum()} test POIs in {len(set(split.block[split.test]))} blocks, "
              f"{split.validation.sum()} validation POIs in {len(set(split.block[split.validation]))} blocks, "
              f"{len(set(train_classes))} training classes", flush=True)
    return validation, tests


def share_of_ceiling(hits: list[dict], base: list[dict], oracle: list[dict], k: int) -> float:
    """How much of the oracle's margin over the base rates ``hits`` reach at Hit@k (means over seeds)."""
    mean = {name: np.mean([h[k] for h in runs]) for name, runs in (("hits", hits), ("base", base), ("oracle", oracle))}
    return float((mean["hits"] - mean["base"]) / max(mean["oracle"] - mean["base"], 1e-9))


def mean_validation(validations: dict[str, dict]) -> dict[float | str, tuple[float, float]]:
    """Mean Hit@1 and Hit@5 per weight (and of the base rates) over cities and seeds."""
    return {w: tuple(float(np.mean([hit[k] for v in validations.values() for hit in v[w]])) for k in TOPS)
            for w in next(iter(validations.values()))}


def main() -> None:
    args = parse_args()
    pbfs = [helsinki_pbf()] + [Path(p) for p in args.pbf]
    with tempfile.TemporaryDirectory(prefix="calliper-describe-") as scratch:
        work = args.keep or Path(scratch)
        runs = {pbf.stem: run_city(pbf, args, work) for pbf in pbfs}
    curve = mean_validation({city: run[0] for city, run in runs.items()})
    chosen = max(WEIGHTS, key=lambda w: (round(curve[w][1], 6), round(curve[w][0], 6), -w))
    print(f"\nValidation blocks, mean over cities and seeds {args.seeds} ({args.epochs} epochs):")
    for weight, (hit1, hit5) in curve.items():
        name = "5 most frequent classes" if weight == "base rates" else f"evidence weight {weight:.1f}"
        print(f"  {name:<24} Hit@1 {hit1:.3f}  Hit@5 {hit5:.3f}" + ("  <- chosen" if weight == chosen else ""))
    methods = {"model alone (weight 0)": 0.0, "training POIs alone (weight 1)": 1.0,
               f"blend, chosen weight {chosen:g}": chosen, f"blend, default weight {EVIDENCE_WEIGHT:g}": EVIDENCE_WEIGHT}
    print(f"\nTest blocks: held-out POIs whose class is the top 1 / among the top 5 (mean ± sd over seeds {args.seeds}):")
    for city, (_, tests) in runs.items():
        print(f"{city}:")
        rows = {name: [ranked_hits(t["scores"].blend(w), t["scores"].classes, t["truth"]) for t in tests]
                for name, w in methods.items()}
        rows.update({name: [t[name] for t in tests] for name in ("5 most frequent classes", "nearest POIs' classes",
                                                                 ORACLE)})
        for name, hits in rows.items():
            print(f"  {name:<38}" + "".join(f"  Hit@{k} {np.mean([h[k] for h in hits]):.3f} ± "
                                              f"{np.std([h[k] for h in hits]):.3f}" for k in TOPS))
        for name in list(methods)[2:]:
            print(f"  {name} against the oracle's ceiling: " + ", ".join(
                f"Hit@{k} {share_of_ceiling(rows[name], rows['5 most frequent classes'], rows[ORACLE], k):.0%}"
                for k in TOPS) + f" of the oracle's margin over the base rates (target {CEILING_TARGET:.0%})")


if __name__ == "__main__":
    main()
