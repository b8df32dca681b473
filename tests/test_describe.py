"""Describe a place: POI classes ranked by the model and by the training POIs nearby, its nearest POIs; CLI and Processing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from calliper.core.maps import DESCRIBE_EVIDENCE_WEIGHT
from calliper.core.maps.phrase_map import KERNEL_NEIGHBOURS
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


def kernel_posterior(evidence, classes, xy, bandwidth, neighbours=KERNEL_NEIGHBOURS):
    """p(class | xy) of the evidence, brute force: each class's Cauchy kernel over its nearest POIs, normalised."""
    distance = np.hypot(*(evidence.xy - np.asarray(xy)).T)
    names = np.asarray(evidence.classes)[evidence.class_index]
    density = np.array([(1.0 / (1.0 + (np.sort(distance[names == c])[:neighbours] / bandwidth) ** 2)).sum()
                        for c in classes])
    return density / density.sum()


def model_only_posterior(model, evidence, classes, xy):
    """The old Describe: softmax over the classes of the training logits plus each class's log share."""
    from calliper.core.maps.clusters import class_descriptions
    from calliper.core.model.inference import embed_locations, training_logits

    counts = evidence.class_counts()
    logits = training_logits(model, embed_locations(model, np.array([xy])), class_descriptions(classes))[0]
    logits = logits + np.log(np.array([counts[c] for c in classes]) / len(evidence.xy))
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def test_a_dense_cluster_of_one_class_is_described_by_that_class_first(demo_model):
    from calliper.core.maps.describe import describe_place
    from calliper.core.maps.phrase_map import evidence_bandwidth

    evidence = load_evidence(demo_model.folder)
    share, name, centre = densest_single_class_cluster(evidence)
    assert share > 0.5  # measured on the demo: most POIs around that spot share one class
    by_pois = describe_place(demo_model, tuple(centre), top=len(evidence.classes), evidence_weight=1.0)
    assert by_pois.descriptions[0].poi_class == name, by_pois.as_text()
    expected = kernel_posterior(evidence, evidence.classes, centre, evidence_bandwidth(evidence))
    for d in by_pois.descriptions:  # the POIs' part is the kernel posterior, and alone it is the score
        assert d.evidence == pytest.approx(expected[evidence.classes.index(d.poi_class)], abs=1e-4)
        assert d.score == pytest.approx(d.evidence, abs=1e-4)
    assert by_pois.descriptions[0].evidence > 2 * evidence.class_counts()[name] / len(evidence.xy)  # its base rate
    place = describe_place(demo_model, tuple(centre), top=5)  # the default blend agrees
    assert place.descriptions[0].poi_class == name, place.as_text()
    assert [d.score for d in place.descriptions] == sorted((d.score for d in place.descriptions), reverse=True)
    assert place.nearest_pois[0].distance_m <= CLUSTER_RADIUS and name in {p.poi_class for p in place.nearest_pois}


def test_evidence_weight_0_is_the_model_alone_and_the_blend_a_weighted_geometric_mean(demo_model):
    from calliper.core.maps.describe import describe_place, describe_points

    evidence = load_evidence(demo_model.folder)
    xy = evidence.xy[[0, 500, 1000]]
    everything = len(evidence.classes)
    for point in xy:
        alone = describe_place(demo_model, tuple(point), top=everything, evidence_weight=0.0)
        expected = model_only_posterior(demo_model, evidence, evidence.classes, point)
        order = np.argsort(-expected, kind="stable")
        assert [d.poi_class for d in alone.descriptions][:20] == [evidence.classes[i] for i in order[:20]]
        for d in alone.descriptions:
            assert d.score == pytest.approx(expected[evidence.classes.index(d.poi_class)], abs=1e-4)
            assert d.model == pytest.approx(d.score, abs=1e-4)
        half = describe_place(demo_model, tuple(point), top=everything, evidence_weight=0.5)
        parts = {d.poi_class: (d.model, d.evidence) for d in half.descriptions}
        geometric = {c: np.sqrt(m * e) for c, (m, e) in parts.items()}
        total = sum(geometric.values())
        assert sum(d.score for d in half.descriptions) == pytest.approx(1.0, abs=1e-3)
        for d in half.descriptions[:3]:
            assert d.score == pytest.approx(geometric[d.poi_class] / total, rel=0.02)
    many = describe_points(demo_model, xy, evidence.crs_wkt, top=3, evidence_weight=0.0)
    for row, point in zip(many.classes, xy):
        expected = model_only_posterior(demo_model, evidence, evidence.classes, point)
        assert row == [evidence.classes[i] for i in np.argsort(-expected, kind="stable")[:3]]
    assert np.allclose(many.score, many.model, atol=1e-9)


def test_a_phrase_keeps_the_models_score_and_leaves_the_classes_alone(demo_model):
    from calliper.core.maps.clusters import class_descriptions
    from calliper.core.maps.describe import describe_place
    from calliper.core.model.inference import embed_locations, training_logits

    evidence = load_evidence(demo_model.folder)
    point = tuple(evidence.xy[300])
    plain = describe_place(demo_model, point, top=5)
    with_phrases = describe_place(demo_model, point, phrases=["nightlife", "a bench to sit on"], top=5)
    assert with_phrases.descriptions == plain.descriptions  # a phrase never moves the classes
    assert describe_place(demo_model, point, phrases=["nightlife"], evidence_weight=1.0).phrases == \
        describe_place(demo_model, point, phrases=["nightlife"], evidence_weight=0.0).phrases  # the POIs do not score it
    counts = evidence.class_counts()
    location = embed_locations(demo_model, np.array([point]))
    classes = training_logits(demo_model, location, class_descriptions(list(counts)))[0] + np.log(
        np.array(list(counts.values())) / len(evidence.xy))
    for phrase in with_phrases.phrases:
        own = training_logits(demo_model, location, [phrase.text])[0, 0] + np.log(1 / len(counts))
        assert phrase.poi_class is None and phrase.evidence is None
        assert phrase.score == pytest.approx(np.exp(own) / (np.exp(own) + np.exp(classes).sum()), abs=1e-4)
    assert [p.score for p in with_phrases.phrases] == sorted((p.score for p in with_phrases.phrases), reverse=True)


def test_describe_json_has_the_documented_shape_best_first(demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    phrases = tmp_path / "phrases.txt"
    phrases.write_text("a place to drink coffee\n\nnightlife\n", encoding="utf-8")
    assert main(["describe", "--model", str(demo_model.folder), "--point", "24.9455,60.1700", "--point-crs",
                 "EPSG:4326", "--phrases", str(phrases), "--top", "400", "--json"]) == 0
    place = json.loads(capsys.readouterr().out)
    assert set(place) == {"location", "crs", "evidence_weight", "descriptions", "phrases", "nearest_pois"}
    assert place["location"] == [24.9455, 60.17] and place["crs"] == "EPSG:4326"
    assert place["evidence_weight"] == DESCRIBE_EVIDENCE_WEIGHT
    evidence = load_evidence(demo_model.folder)
    assert sorted(item["class"] for item in place["descriptions"]) == sorted(evidence.classes)  # every class once
    for item in place["descriptions"]:
        assert set(item) == {"text", "class", "score", "model", "evidence"}
        assert all(0 <= item[part] <= 1 for part in ("score", "model", "evidence"))
    assert sum(item["score"] for item in place["descriptions"]) == pytest.approx(1.0, abs=0.01)
    scores = [item["score"] for item in place["descriptions"]]
    assert scores == sorted(scores, reverse=True)
    assert {p["text"] for p in place["phrases"]} == {"a place to drink coffee", "nightlife"}
    assert all(set(p) == {"text", "score"} and 0 < p["score"] < 1 for p in place["phrases"])
    nearest = place["nearest_pois"]
    assert len(nearest) == 5 and all(set(p) == {"class", "name", "distance_m"} for p in nearest)
    assert [p["distance_m"] for p in nearest] == sorted(p["distance_m"] for p in nearest)
    assert any(p["name"] for p in nearest)  # names come from the training layer's name field


def test_describe_text_shows_both_parts_of_each_score(demo_model, capsys):
    from calliper.cli.main import main

    assert main(["describe", "--model", str(demo_model.folder), "--point", "24.9455,60.1700", "--point-crs",
                 "EPSG:4326", "--top", "3", "--evidence-weight", "0.25"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "What is here (0.25 x the training POIs nearby + 0.75 x the model, as log-probabilities):" in lines
    header = lines.index("   score   model  POIs near")
    rows = lines[header + 1: header + 4]
    assert all(len(row.split("%")) == 4 and "A place of " in row for row in rows)  # three numbers, then the text


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
        "evidence weight must be between 0": ["--model", str(demo_model.folder), "--point", "385900,6672100",
                                              "--evidence-weight", "1.5"],
    }
    for message, args in cases.items():
        assert main(["describe", *args]) == 2, message
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_processing_describe_places_adds_the_best_classes_their_scores_and_both_parts(processing, demo_data, trained):
    from qgis.core import QgsVectorLayer

    result = processing.run("calliper:describe", {"MODEL": str(trained.folder), "INPUT": str(demo_data.pois),
                                                  "TOP": 3, "OUTPUT": "memory:"})
    layer = result["OUTPUT"] if isinstance(result["OUTPUT"], QgsVectorLayer) else QgsVectorLayer(result["OUTPUT"])
    names = layer.fields().names()
    assert names[-12:] == [f"{part}_{rank}" for rank in (1, 2, 3) for part in ("class", "score", "model", "pois")]
    classes = set(load_evidence(trained.folder).classes)
    features = list(layer.getFeatures())
    assert len(features) == 1711
    w = DESCRIBE_EVIDENCE_WEIGHT
    for feature in features[:200]:
        assert feature["score_1"] >= feature["score_2"] >= feature["score_3"]
        assert {feature["class_1"], feature["class_2"], feature["class_3"]} <= classes
        # the blend is a weighted geometric mean of the parts, normalised: the ratio of two classes' scores says so
        ratio = (feature["model_1"] / feature["model_2"]) ** (1 - w) * (feature["pois_1"] / feature["pois_2"]) ** w
        assert feature["score_1"] / feature["score_2"] == pytest.approx(ratio, rel=1e-3)
    hits = np.mean([f["class"] in (f["class_1"], f["class_2"], f["class_3"]) for f in features])
    assert hits > 5 * 3 / len(classes)  # the POIs' own class is among the three far more often than by chance
    alone = processing.run("calliper:describe", {"MODEL": str(trained.folder), "INPUT": str(demo_data.pois),
                                                 "TOP": 1, "EVIDENCE_WEIGHT": 0.0, "OUTPUT": "memory:"})["OUTPUT"]
    alone = alone if isinstance(alone, QgsVectorLayer) else QgsVectorLayer(alone)
    assert all(f["score_1"] == pytest.approx(f["model_1"], abs=1e-9) for f in list(alone.getFeatures())[:200])
