"""Describe a place: the model's class descriptions ranked for a location, its nearest POIs; CLI and Processing."""

from __future__ import annotations

import json

import numpy as np
from calliper.core.model.evidence import load_evidence
from scipy.spatial import cKDTree

CLUSTER_RADIUS = 60.0


def densest_single_class_cluster(evidence, min_members: int = 10):
    """The class whose POIs crowd one spot most (share of all POIs within 60 m), and that spot's centre."""
    everything = cKDTree(evidence.xy)
    best = (0.0, None, None)
    for index, name in enumerate(evidence.classes):
        rows = np.flatnonzero(evidence.class_index == index)
        if len(rows) < min_members:
            continue
        own = cKDTree(evidence.xy[rows])
        members = [own.query_ball_point(evidence.xy[row], CLUSTER_RADIUS) for row in rows]
        biggest = max(members, key=len)
        centre = evidence.xy[rows][biggest].mean(axis=0)
        share = len(biggest) / len(everything.query_ball_point(centre, CLUSTER_RADIUS))
        if len(biggest) >= min_members and share > best[0]:
            best = (share, name, centre)
    return best


def test_a_dense_cluster_of_one_class_is_described_by_that_class_first(demo_model):
    from calliper.core.maps.describe import describe_place

    share, name, centre = densest_single_class_cluster(load_evidence(demo_model.folder))
    assert share > 0.5  # measured on the demo: most POIs around that spot share one class
    place = describe_place(demo_model, tuple(centre), top=5)
    assert place.descriptions[0].poi_class == name, place.as_text()
    assert [d.score for d in place.descriptions] == sorted((d.score for d in place.descriptions), reverse=True)
    assert place.nearest_pois[0].distance_m <= CLUSTER_RADIUS and name in {p.poi_class for p in place.nearest_pois}


def test_describe_json_has_the_documented_shape_best_first(demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    phrases = tmp_path / "phrases.txt"
    phrases.write_text("a place to drink coffee\n\nnightlife\n", encoding="utf-8")
    assert main(["describe", "--model", str(demo_model.folder), "--point", "24.9455,60.1700", "--point-crs",
                 "EPSG:4326", "--phrases", str(phrases), "--top", "400", "--json"]) == 0
    place = json.loads(capsys.readouterr().out)
    assert set(place) == {"location", "crs", "descriptions", "nearest_pois"}
    assert place["location"] == [24.9455, 60.17] and place["crs"] == "EPSG:4326"
    evidence = load_evidence(demo_model.folder)
    assert len(place["descriptions"]) == len(evidence.classes) + 2  # every class and both phrases
    for item in place["descriptions"]:
        assert set(item) == {"text", "class", "score"} and -1 <= item["score"] <= 1
        assert (item["class"] is None) == (item["text"] in ("a place to drink coffee", "nightlife"))
        assert item["class"] is None or item["class"] in evidence.classes
    scores = [item["score"] for item in place["descriptions"]]
    assert scores == sorted(scores, reverse=True)
    nearest = place["nearest_pois"]
    assert len(nearest) == 5 and all(set(p) == {"class", "name", "distance_m"} for p in nearest)
    assert [p["distance_m"] for p in nearest] == sorted(p["distance_m"] for p in nearest)
    assert any(p["name"] for p in nearest)  # names come from the training layer's name field


def test_describe_refuses_bad_input_with_one_line_and_exit_code_2(demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    cases = {
        "not a Calliper model folder": ["--model", str(tmp_path / "nothing"), "--point", "385900,6672100"],
        "outside the area of the model's CRS": ["--model", str(demo_model.folder), "--point", "150,-30",
                                                "--point-crs", "EPSG:4326"],
        "has no phrases": ["--model", str(demo_model.folder), "--point", "385900,6672100", "--phrases", str(empty)],
        "--point needs 2": ["--model", str(demo_model.folder), "--point", "385900"],
    }
    for message, args in cases.items():
        assert main(["describe", *args]) == 2, message
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_processing_describe_places_adds_the_best_classes_and_scores(processing, demo_data, trained):
    from qgis.core import QgsVectorLayer

    result = processing.run("calliper:describe", {"MODEL": str(trained.folder), "INPUT": str(demo_data.pois),
                                                  "TOP": 3, "OUTPUT": "memory:"})
    layer = result["OUTPUT"] if isinstance(result["OUTPUT"], QgsVectorLayer) else QgsVectorLayer(result["OUTPUT"])
    names = layer.fields().names()
    assert names[-6:] == ["class_1", "score_1", "class_2", "score_2", "class_3", "score_3"]
    classes = set(load_evidence(trained.folder).classes)
    features = list(layer.getFeatures())
    assert len(features) == 1711
    for feature in features[:200]:
        assert feature["score_1"] >= feature["score_2"] >= feature["score_3"]
        assert {feature["class_1"], feature["class_2"], feature["class_3"]} <= classes
    hits = np.mean([f["class"] in (f["class_1"], f["class_2"], f["class_3"]) for f in features])
    assert hits > 5 * 3 / len(classes)  # the POIs' own class is among the three far more often than by chance
