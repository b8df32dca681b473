"""Text-to-location ranking benchmark (UGBench-style): does the context graph help text find places?

Holds out a share of the POIs of an OSM extract (default: the embedded Helsinki
demo), trains on the rest (context POIs and streets come from the training POIs and
the same extract) and ranks all held-out places for texts generated for each of
them: its description, a caption of its surroundings and two kinds of spatial-
grounding question. Systems: CaLLiPer alone, CaLLiPer + captions without the graph
(ablation), CaLLiPer + context graph, and a text-only baseline (the best-matching POI
description by frozen text embedding, candidates ranked by distance to its nearest
POI). Prints Hit@1/5/10 and MRR per system and query kind, then the time of one
training step for context graphs of 100 / 300 / 900 nodes next to CaLLiPer alone on
the same batch, and how many locations per second a map gets from each. Target: the context graph improves Hit@10 over CaLLiPer alone.

    .venv/bin/python bench/ranking.py [--pbf FILE] [--epochs 60] [--held-out 0.1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from calliper.core.catalog.loading import load_model
from calliper.core.catalog.training import train_from_points
from calliper.core.context.graph import read_streets
from calliper.core.context.pipeline import train_context_from_points
from calliper.core.context.ranking import (
    benchmark_queries,
    model_scores,
    nearest_match_scores,
    ranking_metrics,
    target_ranks,
)
from calliper.core.data.demo_city import build_demo_data, helsinki_pbf
from calliper.core.data.poi_io import PointTable, read_points
from calliper.core.model.loss import contrastive_loss
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.settings import CONTEXT_ENCODER, ContextSettings, ModelSettings
from calliper.core.model.train import TrainSettings
from calliper.core.text.descriptions import TextFields, build_texts, clean_value
from calliper.core.text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct

FIELDS = TextFields("class", "category", "name")
GRAPH_SIZES = (100, 300, 900)
TIMED_STEPS = 5
MAP_POINTS = 40_000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pbf", help="OSM extract to use instead of the embedded Helsinki one")
    p.add_argument("--out", help="working folder (default: a new temporary folder)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--held-out", type=float, default=0.1, help="share of POIs held out as ranking candidates")
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args()


def subset(points: PointTable, rows: np.ndarray) -> PointTable:
    return PointTable(points.xy[rows], points.attributes.iloc[rows].reset_index(drop=True), points.crs, points.source)


def train_systems(train_points: PointTable, pbf: Path, out: Path, epochs: int, seed: int) -> dict[str, Path]:
    """Model folders of CaLLiPer alone, CaLLiPer + captions (no graph) and CaLLiPer + context graph."""
    settings = TrainSettings(epochs=epochs, batch_size=512, seed=seed)
    context_options = {"streets": str(pbf)}
    folders = {}
    for name, encoder, trainer in (
        ("CaLLiPer alone", "grid", train_from_points),
        ("CaLLiPer + captions, no graph", CONTEXT_ENCODER, lambda job: train_context_from_points(job, use_graph=False)),
        ("CaLLiPer + context graph", CONTEXT_ENCODER, train_from_points),
    ):
        options = context_options if encoder == CONTEXT_ENCODER else {}
        job = TrainJob(
            points=train_points, fields=FIELDS, train=settings, out=out / name.replace(" ", "_").replace(",", ""),
            model=ModelSettings(encoder=encoder, encoder_options=options), overwrite=True,
        )
        started = time.perf_counter()
        outcome = trainer(job)
        print(f"  trained {name}: best val loss {outcome.card.metrics['best_val_loss']:.3f}, {time.perf_counter() - started:.0f} s")
        folders[name] = outcome.folder
    return folders


def print_table(results: dict[str, dict[str, dict[str, float]]], counts: dict[str, int]) -> None:
    print(f"\n{'query kind':<28}{'system':<32}{'Hit@1':>7}{'Hit@5':>7}{'Hit@10':>8}{'MRR':>7}")
    for kind, by_system in results.items():
        for system, metrics in by_system.items():
            label = f"{kind} ({counts[kind]})" if system == next(iter(by_system)) else ""
            print(
                f"{label:<28}{system:<32}{metrics['hit@1']:>7.3f}{metrics['hit@5']:>7.3f}"
                f"{metrics['hit@10']:>8.3f}{metrics['mrr']:>7.3f}"
            )


def step_seconds(net: torch.nn.Module, coords: torch.Tensor, texts: torch.Tensor) -> float:
    """Best of a few full training steps (forward, loss, backward, AdamW update)."""
    optimizer = torch.optim.AdamW(net.decay_groups(0.01), lr=1e-4)
    net.train()
    times = []
    for _ in range(TIMED_STEPS + 1):
        started = time.perf_counter()
        loss = contrastive_loss(net.encode_location(coords), net.encode_text(texts), net.logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return min(times[1:])


def time_steps(context_folder: Path, calliper_folder: Path, xy: np.ndarray) -> None:
    """Training-step time for batches whose context graphs hold 100 / 300 / 900 nodes in all."""
    context_model = load_model(context_folder)
    context, calliper = context_model.net, load_model(calliper_folder).net
    nodes_per_graph = 1 + ContextSettings(**context_model.card.settings.encoder_options).neighbours
    print(f"\nTraining step (CPU, {torch.get_num_threads()} threads), {nodes_per_graph} nodes per location graph:")
    print(f"{'graph nodes':>12}{'locations':>11}{'context ms':>12}{'CaLLiPer ms':>13}{'ratio':>7}")
    rng = np.random.default_rng(0)
    for nodes in GRAPH_SIZES:
        batch = max(2, round(nodes / nodes_per_graph))
        coords = torch.from_numpy(xy[rng.choice(len(xy), batch, replace=False)])
        texts = torch.randn(batch, context.text_projection.in_features)
        with_graph, alone = step_seconds(context, coords, texts), step_seconds(calliper, coords, texts)
        print(f"{batch * nodes_per_graph:>12}{batch:>11}{with_graph * 1e3:>12.1f}{alone * 1e3:>13.1f}{with_graph / alone:>7.1f}")


def time_maps(context_folder: Path, calliper_folder: Path, xy: np.ndarray) -> None:
    """Locations embedded per second, as a raster does it (PixelEmbedder), with and without the graph."""
    from calliper.core.maps.rasters import PixelEmbedder

    rng = np.random.default_rng(1)
    low, high = xy.min(axis=0), xy.max(axis=0)
    points = low + rng.random((MAP_POINTS, 2)) * (high - low)
    rates = {}
    for name, folder in (("context", context_folder), ("CaLLiPer", calliper_folder)):
        model = load_model(folder)
        embedder = PixelEmbedder(model, model.card.crs_wkt)
        embedder(points[:1])  # measures its batch size
        started = time.perf_counter()
        embedder(points)
        rates[name] = MAP_POINTS / (time.perf_counter() - started)
    print(
        f"\nMap inference over the POI extent: context graph {rates['context']:,.0f} locations/s, "
        f"CaLLiPer alone {rates['CaLLiPer']:,.0f} locations/s (ratio {rates['CaLLiPer'] / rates['context']:.1f})"
    )


def main() -> None:
    args = parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="ranking-bench-")).absolute()
    pbf = Path(args.pbf) if args.pbf else helsinki_pbf()
    data = build_demo_data(out / "data", pbf)
    points = read_points(data.pois)
    texts = build_texts(points.attributes, FIELDS)
    points = subset(points, np.flatnonzero(texts.kept))
    order = np.random.default_rng(args.seed).permutation(len(points.xy))
    n_held = int(round(len(order) * args.held_out))
    held, kept = np.sort(order[:n_held]), np.sort(order[n_held:])
    train_points = subset(points, kept)
    print(f"{len(points.xy)} POIs ({pbf.name}): {len(kept)} for training and context, {n_held} held out as candidates")
    print(f"load before training: {os.getloadavg()[0]:.2f}")
    folders = train_systems(train_points, pbf, out / "models", args.epochs, args.seed)
    classes = points.attributes["class"].map(clean_value).to_numpy(dtype=object)
    descriptions = np.asarray(texts.texts, dtype=object)[texts.text_index]
    models = {name: load_model(folder) for name, folder in folders.items()}
    context = ContextSettings(**models["CaLLiPer + context graph"].card.settings.encoder_options)
    queries = benchmark_queries(
        points.xy[held], classes[held], list(descriptions[held]), points.xy[kept], classes[kept], context,
        read_streets(pbf, points.crs), seed=args.seed,
    )
    encoder = TextEncoder()
    poi_vectors, _ = encode_distinct(texts.texts, encoder, TextEmbeddingCache())
    results: dict[str, dict[str, dict[str, float]]] = {}
    for query_set in queries:
        by_system = results.setdefault(query_set.kind, {})
        for name, model in models.items():
            scores = model_scores(model, query_set.texts, points.xy[held], points.crs, encoder)
            by_system[name] = ranking_metrics(target_ranks(scores, query_set.targets))
        query_vectors, _ = encode_distinct(query_set.texts, encoder, TextEmbeddingCache())
        baseline = nearest_match_scores(
            query_vectors, poi_vectors, texts.text_index[kept], points.xy[kept], points.xy[held]
        )
        by_system["text-only (nearest best match)"] = ranking_metrics(target_ranks(baseline, query_set.targets))
    print_table(results, {query_set.kind: len(query_set.texts) for query_set in queries})
    hit10 = {name: np.mean([results[kind][name]["hit@10"] for kind in results]) for name in models}
    gain = hit10["CaLLiPer + context graph"] - hit10["CaLLiPer alone"]
    print("\nMean Hit@10 over query kinds: " + ", ".join(f"{name} {value:.3f}" for name, value in hit10.items()))
    print(f"Context graph vs CaLLiPer alone: {gain:+.3f} Hit@10 ({'meets' if gain > 0 else 'misses'} the target)")
    print(f"load after ranking: {os.getloadavg()[0]:.2f}")
    time_steps(folders["CaLLiPer + context graph"], folders["CaLLiPer alone"], points.xy[kept])
    time_maps(folders["CaLLiPer + context graph"], folders["CaLLiPer alone"], points.xy[kept])
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
