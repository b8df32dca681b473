"""Text-to-location ranking: ranks, Hit@k and MRR by hand, the text-only baseline and the benchmark queries."""

from __future__ import annotations

import numpy as np
import pytest
from calliper.core.context.captions import compass, round_distance
from calliper.core.context.graph import offsets
from calliper.core.context.ranking import (
    benchmark_queries,
    hit_at_k,
    mrr,
    nearest_match_scores,
    ranking_metrics,
    target_ranks,
)
from calliper.core.model.settings import ContextSettings
from calliper.core.text.descriptions import clean_value


def test_ranks_hits_and_mrr_equal_hand_computations():
    scores = np.array(
        [
            [0.9, 0.1, 0.5, 0.3],  # target 2 is second
            [0.2, 0.8, 0.1, 0.0],  # target 1 is first
            [0.5, 0.5, 0.4, 0.6],  # target 0 ties with 1 and trails 3: third (ties count against it)
            [0.1, 0.2, 0.3, 0.4],  # target 0 is last
        ]
    )
    ranks = target_ranks(scores, np.array([2, 1, 0, 0]))
    assert ranks.tolist() == [2, 1, 3, 4]
    assert hit_at_k(ranks, 1) == 0.25
    assert hit_at_k(ranks, 3) == 0.75
    assert mrr(ranks) == pytest.approx((1 / 2 + 1 + 1 / 3 + 1 / 4) / 4)
    assert ranking_metrics(ranks) == pytest.approx({"hit@1": 0.25, "hit@5": 1.0, "hit@10": 1.0, "mrr": mrr(ranks)})


def test_text_only_baseline_ranks_by_distance_to_the_best_matching_pois():
    text_vectors = np.array([[1.0, 0.0], [0.0, 1.0]])  # two descriptions
    poi_text_index = np.array([0, 1, 1])
    poi_xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 300.0]])
    candidates = np.array([[10.0, 0.0], [90.0, 0.0], [0.0, 280.0]])
    queries = np.array([[0.9, 0.1], [0.2, 0.8]])  # match description 0, then 1
    scores = nearest_match_scores(queries, text_vectors, poi_text_index, poi_xy, candidates)
    assert scores[0] == pytest.approx([-10.0, -90.0, -np.hypot(0.0, 280.0)])
    assert scores[1] == pytest.approx([-90.0, -10.0, -20.0])
    assert target_ranks(scores, np.array([0, 2])).tolist() == [1, 2]


def test_benchmark_questions_hold_for_their_answer_place(demo_points):
    classes = demo_points.attributes["class"].map(clean_value).to_numpy(dtype=object)
    order = np.random.default_rng(5).permutation(len(classes))
    held, kept = order[:60], order[60:]
    settings = ContextSettings()
    texts = [f"A place of {c}" for c in classes[held]]
    generated = benchmark_queries(
        demo_points.xy[held], classes[held], texts, demo_points.xy[kept], classes[kept], settings
    )
    queries = {query_set.kind: query_set for query_set in generated}
    assert list(queries) == ["description", "caption", "nearest POI of a type", "direction/distance"]
    assert queries["description"].texts == texts and queries["caption"].targets.tolist() == list(range(60))
    nearest = queries["nearest POI of a type"]
    assert len(nearest.texts) > 40
    for text, target in zip(nearest.texts, nearest.targets):
        poi_class = text.removeprefix("A place whose nearest ").split(" is ")[0]
        distance, bearing = offsets(demo_points.xy[held][target], demo_points.xy[kept])
        same = np.flatnonzero((classes[kept] == poi_class) & (distance >= settings.min_distance))
        closest = same[np.argmin(distance[same])]
        assert text.endswith(f"is {round_distance(distance[closest])} m to the {compass(bearing[closest])}")
    relation = queries["direction/distance"]
    for text, target in zip(relation.texts, relation.targets):
        distance, bearing = offsets(demo_points.xy[kept], demo_points.xy[held][target])  # seen from each POI
        usable = distance >= settings.min_distance
        closest = np.flatnonzero(usable)[np.argmin(distance[usable])]
        assert text.startswith(f"A place {round_distance(distance[closest])} m {compass(bearing[closest])} of")
        assert text.endswith(classes[kept][closest])
