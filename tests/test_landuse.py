"""Land-use classification and value prediction: labels, splits, probes, metrics, outputs, CLI.

Real data throughout: the demo city's OSM land-use polygons and POIs, and the
session's demo model.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

LINEAR_TWO_SEEDS = {"kind": "linear", "seeds": (42, 24)}


@pytest.fixture(scope="module")
def model_crs(demo_model):
    from calliper.core.model.inference import model_crs

    return model_crs(demo_model)


def _load(demo_data, model_crs, path=None, sampling="centroid", min_class_size=10):
    from calliper.core.landuse.labels import LabelSettings, load_labels

    return load_labels(
        path or demo_data.landuse, "class", ("landuse",), model_crs, None,
        LabelSettings(sampling=sampling, samples_per_unit=8, min_class_size=min_class_size),
    )


def _settings(**extra):
    from calliper.core.landuse.labels import LabelSettings
    from calliper.core.landuse.probes import ProbeSettings
    from calliper.core.landuse.study import ClassifySettings

    return ClassifySettings(labels=LabelSettings(min_class_size=10), probe=ProbeSettings(**LINEAR_TWO_SEEDS), **extra)


def test_random_samples_fall_inside_their_polygons_and_repeat_with_the_seed(demo_data, model_crs):
    import geopandas as gpd
    import shapely

    labels = _load(demo_data, model_crs, sampling="random")
    polygons = gpd.read_file(demo_data.landuse).geometry.to_crs(model_crs).to_numpy()
    owners = polygons[labels.owner]
    sampled = np.array([p.area > 0 for p in owners])
    assert sampled.sum() > 8 * 200  # nearly every polygon got its 8 points
    inside = shapely.contains_xy(owners[sampled], labels.points[sampled, 0], labels.points[sampled, 1])
    assert inside.all()
    assert np.bincount(labels.owner).max() == 8
    again = _load(demo_data, model_crs, sampling="random")
    np.testing.assert_array_equal(again.points, labels.points)


def test_spatial_split_never_shares_a_block_between_train_and_test(demo_data, model_crs):
    from calliper.core.landuse.splits import SplitSettings, block_ids, make_split

    xy = _load(demo_data, model_crs).metric_anchors
    settings = SplitSettings(kind="spatial", block_size=250.0)
    blocks = block_ids(xy, 250.0)
    assert len(np.unique(blocks)) >= 10
    for seed in (42, 24, 7, 0, 100):
        split = make_split(xy, settings, seed)
        parts = [set(blocks[split.train]), set(blocks[split.val]), set(blocks[split.test])]
        assert parts[0].isdisjoint(parts[2]) and parts[0].isdisjoint(parts[1]) and parts[1].isdisjoint(parts[2])
        assert sorted(np.concatenate([split.train, split.val, split.test])) == list(range(len(xy)))
        assert 0.1 < len(split.test) / len(xy) < 0.35
    assert not np.array_equal(make_split(xy, settings, 42).test, make_split(xy, settings, 24).test)


def test_block_too_large_for_the_area_is_a_settings_error(demo_data, model_crs):
    from calliper.core.errors import SettingsError
    from calliper.core.landuse.splits import SplitSettings, make_split

    xy = _load(demo_data, model_crs).metric_anchors
    with pytest.raises(SettingsError, match="block size"):
        make_split(xy, SplitSettings(kind="spatial", block_size=50_000.0), 42)


def test_metrics_equal_scikit_learn_on_a_fixed_example():
    from calliper.core.landuse.metrics import classification_metrics, distribution_metrics, regression_metrics
    from sklearn import metrics as sk

    truth = np.array([0, 0, 1, 1, 2, 2, 2, 3, 0, 1])
    predicted = np.array([0, 1, 1, 1, 2, 0, 2, 0, 0, 2])  # class 3 never predicted, class 4 never seen
    ours = classification_metrics(truth, predicted, n_classes=5)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    for name in ("precision", "recall", "f1"):
        expected = getattr(sk, f"{name}_score")(truth, predicted, average="macro", zero_division=0)
        assert ours[f"macro_{name}"] == pytest.approx(expected)
    np.testing.assert_allclose(ours["per_class_f1"], sk.f1_score(truth, predicted, labels=range(5), average=None, zero_division=0))
    np.testing.assert_array_equal(ours["confusion_matrix"], sk.confusion_matrix(truth, predicted, labels=range(5)))

    values, estimates = np.array([3.0, 1.5, 4.0, 0.5, 2.0]), np.array([2.5, 1.0, 4.5, 1.5, 2.0])
    ours = regression_metrics(values, estimates)
    assert ours["r2"] == pytest.approx(sk.r2_score(values, estimates))
    assert ours["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(values, estimates)))
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(values, estimates))

    p, q = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]), np.array([[0.25, 0.5, 0.25], [0.2, 0.3, 0.5]])
    ours = distribution_metrics(p, q)
    assert ours["l1"] == pytest.approx(0.25)  # (0.25 + 0 + 0.25) / 2 units
    assert ours["chebyshev"] == pytest.approx(0.125)
    assert ours["kl"] == pytest.approx(0.5 * 0.5 * np.log(2), rel=1e-6)


def test_kl_probe_outputs_are_distributions_and_beat_the_mean_share(demo_model, demo_points):
    from calliper.core.landuse.metrics import distribution_metrics
    from calliper.core.landuse.probes import ProbeSettings, fit_probe
    from calliper.core.model.inference import embed_locations
    from scipy.spatial import cKDTree

    # Target: the category mix (amenity, shop, tourism, ...) of the 30 POIs nearest each POI.
    codes, categories = demo_points.attributes["category"].factorize()
    _, nearest = cKDTree(demo_points.xy).query(demo_points.xy, k=30)
    shares = np.stack([np.bincount(row, minlength=len(categories)) for row in codes[nearest]]) / 30.0
    features = embed_locations(demo_model, demo_points.xy, demo_points.crs)
    order = np.random.default_rng(0).permutation(len(shares))
    test, val, train = order[:300], order[300:450], order[450:]
    for kind in ("linear", "mlp"):
        probe = fit_probe(features, shares, "distribution", len(categories), train, val, ProbeSettings(kind=kind), 42)
        predicted = probe.predict(features[test])
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, atol=1e-6)
        assert (predicted >= 0).all()
        mean_share = np.tile(shares[train].mean(axis=0), (len(test), 1))
        assert distribution_metrics(shares[test], predicted)["kl"] < 0.8 * distribution_metrics(shares[test], mean_share)["kl"]


def test_labels_in_another_crs_are_reprojected_to_the_same_unit_points(demo_data, model_crs, tmp_path):
    import geopandas as gpd

    lonlat = tmp_path / "landuse_4326.gpkg"
    gpd.read_file(demo_data.landuse).to_crs("EPSG:4326").to_file(lonlat, driver="GPKG")
    for sampling in ("centroid", "random"):
        native, moved = _load(demo_data, model_crs, sampling=sampling), _load(demo_data, model_crs, lonlat, sampling)
        np.testing.assert_array_equal(moved.targets, native.targets)
        np.testing.assert_allclose(moved.anchors, native.anchors, atol=0.01)
        np.testing.assert_allclose(moved.points, native.points, atol=0.01)
    assert moved.frame.crs.to_epsg() == 4326  # outputs keep the layer's own CRS


def test_a_label_field_with_one_class_is_an_error_naming_the_field(demo_data, model_crs, tmp_path):
    import geopandas as gpd
    from calliper.core.errors import FieldError
    from calliper.core.landuse.labels import LabelSettings, load_labels

    frame = gpd.read_file(demo_data.landuse)
    frame["kind"] = "grass"
    one_class = tmp_path / "one_class.gpkg"
    frame.to_file(one_class, driver="GPKG")

    with pytest.raises(FieldError, match="'kind'.*1 class.*grass \\(240\\)"):
        load_labels(one_class, "class", ("kind",), model_crs, None, LabelSettings())
    with pytest.raises(FieldError, match="no field 'land_use'. Available fields: osm_id, landuse, kind"):
        load_labels(one_class, "class", ("land_use",), model_crs, None, LabelSettings())


def test_rare_classes_are_left_out_with_a_note(demo_data, model_crs):
    from calliper.core.jobs import JobControl
    from calliper.core.landuse.labels import LabelSettings, load_labels

    notes = []
    labels = load_labels(
        demo_data.landuse, "class", ("landuse",), model_crs, None, LabelSettings(min_class_size=10), control=JobControl(log=notes.append)
    )
    assert labels.class_counts == {"civil": 26, "commercial": 49, "grass": 94, "lane": 15, "residential": 25}
    assert len(labels.rows) == 209 and len(labels.anchors) == 240  # unlabelled polygons still get predictions
    assert any("basin (7)" in note for note in notes)


def test_labels_outside_the_training_area_are_refused(demo_data, demo_model, model_crs, tmp_path):
    import geopandas as gpd
    from calliper.core.errors import InputDataError
    from calliper.core.landuse.labels import LabelSettings, load_labels

    far = tmp_path / "far.gpkg"
    frame = gpd.read_file(demo_data.landuse)
    frame.geometry = frame.geometry.translate(50_000, 0)
    frame.to_file(far, driver="GPKG")
    with pytest.raises(InputDataError, match="None of the .* lies within the area the model was trained on"):
        load_labels(far, "class", ("landuse",), model_crs, demo_model.card.training["extent"], LabelSettings(min_class_size=10))


def test_classify_writes_predictions_metrics_and_report(demo_data, demo_model, tmp_path):
    import geopandas as gpd
    from calliper.core.landuse.study import classify

    result = classify(demo_model, demo_data.landuse, "landuse", tmp_path / "out", _settings(pois=str(demo_data.pois)))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".calliper-output.json", "metrics.json", "predictions.gpkg", "report.html"]

    predictions = gpd.read_file(result.outputs["predictions"])
    classes = ["civil", "commercial", "grass", "lane", "residential"]
    assert result.classes == classes and len(predictions) == 240 and predictions.crs.to_epsg() == 32635
    assert {"landuse", "predicted", "probability", "labelled", *(f"p_{c}" for c in classes)} <= set(predictions.columns)
    probabilities = predictions[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(predictions["probability"], probabilities.max(axis=1), atol=1e-6)
    assert set(predictions["predicted"]) <= set(classes) and predictions["labelled"].sum() == 209
    labelled = predictions[predictions["labelled"] == 1]
    assert (labelled["predicted"] == labelled["landuse"]).mean() > 0.6  # the map probe has seen these units

    metrics = json.loads(result.outputs["metrics"].read_text())
    assert metrics["split"] == "spatial"
    assert set(metrics["methods"]) == {
        "calliper", "coords_only", "poi_counts", "calliper_poi_counts", "calliper_pooled", "geometry", "geometry_coords",
        "geometry_coords_poi_counts", "geometry_poi_counts", "geometry_calliper", "geometry_calliper_poi_counts",
        "geometry_coords_poi_counts_calliper", "trees", "ensemble", "ensemble_calliper"}
    assert metrics["default_method"] == "ensemble_calliper" and metrics["default_candidates"] == ["ensemble_calliper"]
    assert set(metrics["chosen"]["calliper_pooled"]) <= {"polygon", "polygon + 100 m ring", "polygon + 300 m ring"}
    for scores in metrics["methods"].values():
        assert set(scores) == {"accuracy", "macro_precision", "macro_recall", "macro_f1"}
        assert all(set(value) == {"mean", "std"} and 0.0 <= value["mean"] <= 1.0 for value in scores.values())
    assert metrics["classes"]["grass"] == 94 and metrics["n_units"] == 209
    assert sum(map(sum, metrics["confusion_matrix"]["calliper"])) > 2 * 0.1 * 209  # test units of both seeds
    assert len(metrics["chosen"]["poi_counts"]) == 2
    report = result.outputs["report"].read_text()
    assert "spatially blocked split (500 m" in report and "POI counts (TF-IDF)" in report and "Confusion matrix" in report
    assert "CaLLiPer + POI counts" in report and "Shape + coordinates + POI counts" in report
    assert "Boosted trees, no model" in report and html.escape(metrics["headline"]["verdict"]) in report
    assert set(metrics["validation"]) == set(metrics["methods"])
    # the pictures: confusion heat grid, F1 per class and method, the map of test units right and wrong
    assert report.count("<svg") == 3 and "http" not in report.split("<svg", 1)[1].replace("http://www.w3.org", "")
    test_map = metrics["test_map"]
    assert len(test_map["part"]) == 209 and {1, 2} <= set(test_map["part"])


def test_cancelled_classification_leaves_no_files(demo_data, demo_model, tmp_path):
    from calliper.core.errors import CancelledError
    from calliper.core.jobs import JobControl
    from calliper.core.landuse.study import classify

    calls = []
    control = JobControl(progress=lambda fraction, message: calls.append(fraction), is_cancelled=lambda: len(calls) > 3)
    with pytest.raises(CancelledError):
        classify(demo_model, demo_data.landuse, "landuse", tmp_path / "out", _settings(pois=str(demo_data.pois)), control)
    assert list((tmp_path / "out").iterdir()) == []


def test_predict_values_regresses_a_numeric_field_with_baselines(demo_data, demo_model, tmp_path):
    import geopandas as gpd
    from calliper.core.landuse.probes import ProbeSettings
    from calliper.core.landuse.splits import SplitSettings
    from calliper.core.landuse.study import StudySettings, predict_values

    frame = gpd.read_file(demo_data.landuse)
    frame["log_area"] = np.log1p(frame.area)
    path = tmp_path / "areas.gpkg"
    frame.to_file(path, driver="GPKG")
    settings = StudySettings(probe=ProbeSettings(**LINEAR_TWO_SEEDS), pois=str(demo_data.pois), split=SplitSettings(kind="random"))
    result = predict_values(demo_model, path, ["log_area"], tmp_path / "out", settings)
    metrics = json.loads(result.outputs["metrics"].read_text())
    assert metrics["task"] == "value" and metrics["split"] == "random"
    assert set(metrics["methods"]["calliper"]) == {"r2", "rmse", "mae"}
    assert metrics["methods"]["calliper"]["rmse"]["mean"] < frame["log_area"].std() * 1.5
    predictions = gpd.read_file(result.outputs["predictions"])
    assert np.isfinite(predictions["predicted"]).all() and predictions["labelled"].sum() == 240


def test_cli_classify_returns_0_and_a_bad_field_returns_2(demo_data, demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    common = ["classify", "--model", str(demo_model.folder), "--labels", str(demo_data.landuse),
              "--pois", str(demo_data.pois), "--seeds", "42,24"]
    assert main(common + ["--label-field", "landuse", "--min-class-size", "10", "--out-dir", str(tmp_path / "ok")]) == 0
    out = capsys.readouterr().out
    assert "CaLLiPer" in out and "Coordinates only" in out and (tmp_path / "ok" / "metrics.json").exists()

    assert main(common + ["--label-field", "land_use", "--out-dir", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("calliper: error:") and "'land_use'" in error and "landuse" in error
    assert main(common + ["--label-field", "landuse", "--probe", "forest", "--out-dir", str(tmp_path / "bad")]) == 2
    assert "linear, mlp" in capsys.readouterr().err


def test_landuse_demo_prints_baselines_and_writes_a_paletted_class_raster(demo_data, demo_model, tmp_path):
    import rasterio
    from calliper.cli.demo.landuse import run_landuse_demo

    lines = []
    outputs = run_landuse_demo(demo_model, demo_data.landuse, demo_data.pois, tmp_path / "landuse", print_fn=lines.append)
    assert set(outputs) == {"landuse_predictions", "landuse_metrics", "landuse_report", "landuse_classes", "landuse_style"}
    printed = "\n".join(lines)
    assert "CaLLiPer" in printed and "Coordinates only" in printed and "POI counts" in printed and "Macro F1" in printed
    with rasterio.open(outputs["landuse_classes"]) as raster:
        assert raster.count == 2 and raster.dtypes == ("uint8", "uint8") and raster.nodata == 255
        assert raster.descriptions == ("class", "probability_percent")
        assert raster.tags()["class_2"] == "grass" and raster.colormap(1)[2] == (77, 175, 74, 255)
        classes, confidence = raster.read(1), raster.read(2)
    assert set(np.unique(classes)) <= set(range(5)) and len(np.unique(classes)) >= 3  # a map, not one colour
    assert 20 <= confidence.min() and confidence.max() <= 100
    assert 'label="residential"' in outputs["landuse_style"].read_text()
    metrics = json.loads(outputs["landuse_metrics"].read_text())
    assert metrics["raster_method"] in {"calliper", "calliper_poi_counts"}  # pixels have no shape to read
    if metrics["raster_method"] != metrics["default_method"]:
        assert any(note.startswith("The class raster uses") for note in metrics["notes"])


def test_a_class_raster_too_large_for_the_disk_is_refused_before_the_study(demo_data, demo_model, tmp_path):
    from calliper.core.errors import SettingsError
    from calliper.core.jobs import JobControl
    from calliper.core.landuse.study import ClassifySettings, classify

    reached = []
    settings = ClassifySettings(pois=str(demo_data.pois), extent=(20.0, 55.0, 30.0, 65.0), extent_crs="EPSG:4326",
                                pixel_size=0.5)
    with pytest.raises(SettingsError, match="raster would not fit on the disk: .* pixels x 2 band"):
        classify(demo_model, demo_data.landuse, "landuse", tmp_path / "out", settings,
                 JobControl(progress=lambda fraction, message: reached.append(fraction)))
    assert max(reached, default=0.0) < 0.01  # refused before the embeddings and probes, not after
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_default_method_is_chosen_on_validation_blocks_never_on_test(demo_data, demo_model, model_crs, tmp_path):
    from calliper.core.landuse.labels import load_labels
    from calliper.core.landuse.splits import make_split
    from calliper.core.landuse.study import ClassifySettings, classify

    settings = _settings(pois=str(demo_data.pois))
    settings.probe.seeds = (42,)
    labels = load_labels(demo_data.landuse, "class", ("landuse",), model_crs, demo_model.card.training["extent"],
                         settings.labels)
    test_rows = labels.rows[make_split(labels.metric_anchors[labels.rows], settings.split, 42).test]
    swapped = labels.frame.copy()
    values = swapped["landuse"].to_numpy().copy()
    values[test_rows] = np.random.default_rng(0).permutation(values[test_rows])
    assert (values[test_rows] != labels.frame["landuse"].to_numpy()[test_rows]).mean() > 0.3
    swapped["landuse"] = values
    swapped.to_file(tmp_path / "swapped.gpkg", driver="GPKG")

    first = classify(demo_model, demo_data.landuse, "landuse", tmp_path / "a", settings).metrics
    second = classify(demo_model, tmp_path / "swapped.gpkg", "landuse", tmp_path / "b",
                      ClassifySettings(**{**vars(settings)})).metrics
    assert first["validation"] == pytest.approx(second["validation"])  # validation saw the same units and labels
    assert first["default_method"] == second["default_method"] in first["default_candidates"]
    assert first["chosen"] == second["chosen"]  # the radii and poolings validation picked, too
    assert first["methods"]["calliper"]["macro_f1"] != second["methods"]["calliper"]["macro_f1"]  # test did change


def test_point_units_get_no_shape_features_and_a_note(demo_data, demo_model, tmp_path):
    import geopandas as gpd
    from calliper.core.landuse.study import classify

    frame = gpd.read_file(demo_data.landuse)
    frame.geometry = frame.geometry.representative_point()
    frame.to_file(tmp_path / "points.gpkg", driver="GPKG")
    settings = _settings(pois=str(demo_data.pois))
    settings.probe.seeds = (42,)
    metrics = classify(demo_model, tmp_path / "points.gpkg", "landuse", tmp_path / "out", settings).metrics
    assert set(metrics["methods"]) == {"calliper", "coords_only", "poi_counts", "calliper_poi_counts", "coords_poi_counts",
                                       "coords_poi_counts_calliper", "trees", "ensemble", "ensemble_calliper"}
    assert metrics["default_candidates"] == ["ensemble_calliper"]
    assert any("no area" in note and "geometry baseline" in note for note in metrics["notes"])


def test_the_headline_is_the_margin_over_the_best_method_without_the_model(demo_data, demo_model, tmp_path):
    from calliper.core.landuse.study import classify

    metrics = classify(demo_model, demo_data.landuse, "landuse", tmp_path / "out", _settings(pois=str(demo_data.pois))).metrics
    line, methods = metrics["headline"], metrics["methods"]
    without = [name for name in methods if "calliper" not in name]
    assert {"trees", "ensemble", "geometry_coords_poi_counts", "coords_only"} <= set(without)
    best = max(without, key=lambda name: methods[name]["macro_f1"]["mean"])
    assert line["default"] == metrics["default_method"] and line["best_without_model"] == best
    expected = methods[line["default"]]["macro_f1"]["mean"] - methods[best]["macro_f1"]["mean"]
    assert line["margin_macro_f1"] == pytest.approx(expected)
    assert line["margin_accuracy"] == pytest.approx(methods[line["default"]]["accuracy"]["mean"]
                                                    - methods[best]["accuracy"]["mean"])
    assert line["n_seeds"] == 2 and 0 <= line["seeds_clearing"] <= 2
    assert line["worst_seed_margin"] <= line["margin_macro_f1"]
    assert ("The model counts" in line["verdict"]) == (line["margin_macro_f1"] >= 0.01)
    assert ("add nothing measurable" in line["verdict"]) == (line["margin_macro_f1"] <= 0)


def test_the_blend_takes_the_model_only_when_it_beats_the_twin_beyond_the_noise():
    from calliper.core.landuse.ensemble import MODEL_WEIGHTS, TWIN_WEIGHTS, model_counts

    assert np.isclose(TWIN_WEIGHTS.sum(), 1) and np.isclose(MODEL_WEIGHTS.sum(), 1) and TWIN_WEIGHTS[2] == 0
    truth = np.repeat(np.arange(4), 50)
    rng = np.random.default_rng(0)

    def member(right: float, sure: float) -> np.ndarray:
        """Probabilities whose argmax is right on a share ``right`` of the rows, ``sure`` above the others."""
        guess = np.where(rng.random(len(truth)) < right, truth, (truth + 1) % 4)
        return np.eye(4)[guess] * sure + (1 - sure) / 4

    trees, linear, strong = member(0.7, 0.6), member(0.5, 0.4), member(0.95, 0.96)
    assert model_counts([trees, linear, strong], truth, 4)  # a much better embedding probe counts
    noise = rng.dirichlet(np.ones(4), size=len(truth))
    assert not model_counts([trees, linear, noise], truth, 4)  # an embedding that knows nothing does not
    one_more = linear.copy()
    wrong = np.flatnonzero((2 * trees + linear).argmax(axis=1) != truth)
    one_more[wrong[0]] = np.eye(4)[truth[wrong[0]]]  # the twin's mistake on one unit mended: within the noise
    assert not model_counts([trees, linear, one_more], truth, 4)
    blocks = np.arange(len(truth)) // 10  # resampled as whole blocks of ten units
    assert model_counts([trees, linear, strong], truth, 4, blocks)  # a gain on every block survives
    assert not model_counts([trees, linear, strong], truth, 4, np.arange(len(truth)) // 50)  # 4 blocks: too few


def test_the_blend_at_the_trees_weight_predicts_what_the_trees_do(demo_data, model_crs):
    from calliper.core.landuse.ensemble import Blend, members
    from calliper.core.landuse.probes import TREES, ProbeSettings, fit_probe
    from calliper.core.landuse.unit_features import coordinate_features

    labels = _load(demo_data, model_crs)
    x = np.hstack([coordinate_features(labels), np.random.default_rng(1).normal(size=(len(labels.anchors), 3))])[labels.rows]
    rows = np.arange(len(x))
    blend = members(2, 5, "coords", "coords_noise")
    probes = [fit_probe(x[:, m.columns], labels.targets, "class", 5, rows, rows, ProbeSettings(kind=m.kind), 42)
              for m in blend]
    trees = fit_probe(x[:, :2], labels.targets, "class", 5, rows, rows, ProbeSettings(kind=TREES), 42)
    mixed = Blend(probes, [m.columns for m in blend], np.array([1.0, 0.0, 0.0]), [m.name for m in blend])
    np.testing.assert_allclose(mixed.predict(x), trees.predict(x[:, :2]))
    assert mixed.describe() == "Boosted trees, no model 100%"


def test_the_verdict_tells_a_gain_from_a_small_gain_and_from_nothing():
    from calliper.core.landuse.ensemble import verdict

    line = {"best_without_model": "ensemble", "margin_accuracy": 0.0, "seeds_clearing": 4, "n_seeds": 10}
    assert verdict({**line, "margin_macro_f1": 0.02}).startswith("The model counts: +0.020 macro-F1")
    assert verdict({**line, "margin_macro_f1": 0.006}).startswith("The model adds less than the +0.01 that counts")
    assert verdict({**line, "margin_macro_f1": 0.0}).startswith("The embeddings add nothing measurable")
    assert "Trees + linear probes, no model; 4 of 10 seeds clear +0.01" in verdict({**line, "margin_macro_f1": -0.01})
