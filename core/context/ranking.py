"""Text-to-location ranking (UGBench-style): rank candidate places for a text, score Hit@k and MRR.

Held-out POIs are the candidates; each query is a text generated for one of them
(its description, a caption of its surroundings, a spatial-grounding question) and
the place it came from is the answer. Ties are counted against the system: a target
scored equal to another candidate ranks behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..model.settings import ContextSettings
from .captions import describe_places, nearest_question, relation_question
from .graph import StreetNetwork

if TYPE_CHECKING:
    from ..model.files import LoadedModel

HIT_KS = (1, 5, 10)


@dataclass
class QuerySet:
    """Texts of one kind and, for each, the index of its answer among the candidates."""

    kind: str
    texts: list[str]
    targets: np.ndarray


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target among the candidates (Q, C scores; ties count against it)."""
    scores = np.asarray(scores, dtype=np.float64)
    target_scores = scores[np.arange(len(scores)), np.asarray(targets)]
    return (scores >= target_scores[:, None]).sum(axis=1)


def hit_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of queries whose target is among the top ``k``."""
    return float(np.mean(np.asarray(ranks) <= k))


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank."""
    return float(np.mean(1.0 / np.asarray(ranks, dtype=np.float64)))


def ranking_metrics(ranks: np.ndarray) -> dict[str, float]:
    """Hit@1, Hit@5, Hit@10 and MRR of a set of ranks."""
    return {**{f"hit@{k}": hit_at_k(ranks, k) for k in HIT_KS}, "mrr": mrr(ranks)}


def benchmark_queries(
    held_xy: np.ndarray,
    held_classes: np.ndarray,
    held_texts: list[str],
    context_xy: np.ndarray,
    context_classes: np.ndarray,
    settings: ContextSettings,
    streets: StreetNetwork | None = None,
    seed: int = 0,
) -> list[QuerySet]:
    """Descriptions, captions and grounding questions of held-out places, with their answers.

    Graphs are built against the context POIs only (never the held-out ones), so the
    statements are what a model trained on the context POIs could know.
    """
    captions = describe_places(held_xy, held_classes, context_xy, context_classes, settings, streets, seed=seed)
    rows = np.arange(len(held_xy))
    with_nearest = np.array([row for row in rows if captions[row].nearest], dtype=np.int64)
    with_relation = np.array([row for row in rows if captions[row].relation], dtype=np.int64)
    return [
        QuerySet("description", list(held_texts), rows),
        QuerySet("caption", [caption.text for caption in captions], rows),
        QuerySet("nearest POI of a type", [nearest_question(captions[r].nearest) for r in with_nearest], with_nearest),
        QuerySet("direction/distance", [relation_question(captions[r].relation) for r in with_relation], with_relation),
    ]


def nearest_match_scores(
    query_vectors: np.ndarray,
    text_vectors: np.ndarray,
    poi_text_index: np.ndarray,
    poi_xy: np.ndarray,
    candidates_xy: np.ndarray,
) -> np.ndarray:
    """Text-only baseline: find the POI description that best matches the query (frozen text
    embeddings, no training), then rank candidates by their distance to the nearest POI with it."""
    from scipy.spatial import cKDTree

    best = np.argmax(np.asarray(query_vectors) @ np.asarray(text_vectors).T, axis=1)
    distance_by_text: dict[int, np.ndarray] = {}
    for text in np.unique(best):
        tree = cKDTree(np.asarray(poi_xy)[np.asarray(poi_text_index) == text])
        distance_by_text[int(text)] = tree.query(candidates_xy)[0]
    return -np.stack([distance_by_text[int(text)] for text in best])


def model_scores(
    model: LoadedModel, texts: list[str], candidates_xy: np.ndarray, crs: object | None = None, encoder=None
) -> np.ndarray:
    """(Q, C) cosine similarities between texts and candidate places in a trained model's space.

    ``encoder`` (the model's text encoder) saves loading it again for every call.
    """
    from ..model.inference import embed_locations, embed_texts

    return embed_texts(model, texts, encoder) @ embed_locations(model, candidates_xy, crs).T


def text_scores(model: LoadedModel, text: str, xy: np.ndarray, crs: object, control=None) -> np.ndarray:
    """(N,) cosine similarity of each place to ``text`` (an empty text raises an error saying so)."""
    from ..model.inference import embed_locations, embed_phrase

    return embed_locations(model, xy, crs, control=control) @ embed_phrase(model, text)


def rank_points_file(
    model: LoadedModel, text: str, points_path: str | Path, layer: str | None = None, out: str | Path | None = None,
    overwrite: bool = False,
):
    """The features of a point layer ranked for ``text``: a GeoDataFrame with ``score`` and ``rank`` columns, best
    first; written to ``out`` (GeoPackage) when given."""
    import geopandas as gpd

    from ..outputs import check_output_path
    from ..data.poi_io import read_points
    from ..data.vector_io import write_geopackage

    if out is not None:
        out = check_output_path(out, overwrite, inputs=(points_path,))
    table = read_points(points_path, layer)
    scores = text_scores(model, text, table.xy, table.crs)
    frame = gpd.GeoDataFrame(
        table.attributes.assign(score=scores.astype(np.float64)),
        geometry=gpd.points_from_xy(table.xy[:, 0], table.xy[:, 1]),
        crs=table.crs,
    )
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    if out is not None:
        write_geopackage(frame, out, Path(out).stem)
    return frame
