"""The evidence-aware phrase map: class matching, the kernel density and the calibrated sum, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio


def test_a_phrase_is_matched_to_its_best_classes_with_softmax_weights():
    from calliper.core.maps.phrase_map import match_classes

    match = match_classes(np.array([0.90, 0.50, 0.85, 0.10]), ["pub", "bench", "bar", "atm"], k=3, temperature=0.05)
    assert match.classes == ["pub", "bar", "bench"]
    # logits 18, 17, 10: weights e^0, e^-1, e^-8 over their sum
    total = 1 + math.exp(-1) + math.exp(-8)
    np.testing.assert_allclose(match.weights, [1 / total, math.exp(-1) / total, math.exp(-8) / total], rtol=1e-9)


def test_the_heavy_tailed_density_of_a_hand_made_layer_ranks_places_as_computed_by_hand():
    from calliper.core.maps.phrase_map import EvidenceDensity

    density = EvidenceDensity(np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([1.0, 0.5]), bandwidth=100.0)
    places = np.array([[0.0, 0.0], [500.0, 0.0], [1000.0, 0.0], [3000.0, 0.0]])
    by_hand = [
        math.log(1 + 0.5 / 101),  # on the heavy POI; the light one is 10 bandwidths away
        math.log(1.5 / 26),  # halfway: both 5 bandwidths away
        math.log(1 / 101 + 0.5),  # on the light POI
        math.log(1 / 901 + 0.5 / 401),  # far out: still ordered, not tied at zero as a Gaussian would be
    ]
    np.testing.assert_allclose(density.log_density(places), by_hand, rtol=1e-9)
    assert list(np.argsort(-density.log_density(places))) == [0, 2, 1, 3]


def test_fusion_adds_calibrated_evidence_and_weighted_calibrated_similarity():
    from calliper.core.maps.phrase_map import Calibration, fuse

    model, evidence = Calibration.of(np.array([0.1, 0.3])), Calibration.of(np.array([-2.0, 0.0]))
    assert (model.mean, model.spread, evidence.mean, evidence.spread) == pytest.approx((0.2, 0.1, -1.0, 1.0))
    similarity, log_density = np.array([0.4, 0.0, 0.2]), np.array([-1.0, 1.0, -3.0])
    # z(evidence) = 0, 2, -2; z(model) = 2, -2, 0
    np.testing.assert_allclose(fuse(similarity, log_density, model, evidence, 0.0), [0, 2, -2], atol=1e-6)
    np.testing.assert_allclose(fuse(similarity, log_density, model, evidence, 1.5), [3, -1, -2], atol=1e-6)
    assert list(np.argsort(-fuse(similarity, log_density, model, evidence, 1.5))) == [0, 1, 2]


def test_the_model_folder_round_trips_the_evidence_a_phrase_map_needs(demo_model, demo_points):
    from calliper.core.model.evidence import EVIDENCE_FILE, load_evidence

    evidence = load_evidence(demo_model.folder)
    assert len(evidence.xy) == len(evidence.text_index) == len(evidence.class_index) > 1000
    assert evidence.xy.dtype == np.float64 and evidence.class_index.max() < len(evidence.classes)
    # every stored position is one of the training layer's POIs, with its own class
    from scipy.spatial import cKDTree

    distance, rows = cKDTree(demo_points.xy).query(evidence.xy)
    assert distance.max() < 1e-6
    own = demo_points.attributes["class"].astype(str).to_numpy()[rows]
    assert (np.array(evidence.classes)[evidence.class_index] == own).all()
    size = (demo_model.folder / EVIDENCE_FILE).stat().st_size
    assert size < 40 * len(evidence.xy) + 100_000  # compact: tens of MB for a million POIs


def test_a_class_phrase_map_is_highest_at_that_class_and_tags_what_it_matched(demo_model, tmp_path):
    from calliper.core.maps.grid import grid_from_extent
    from calliper.core.maps.rasters import embedding_raster
    from calliper.core.maps.similarity import phrase_raster
    from calliper.core.model.evidence import load_evidence

    evidence = load_evidence(demo_model.folder)
    extent = (385500.0, 6671600.0, 386500.0, 6672600.0)
    embedding = embedding_raster(demo_model, grid_from_extent(extent, 25.0, "EPSG:32635"), tmp_path / "emb.tif")
    out = phrase_raster(demo_model, embedding, "A place of restaurant", tmp_path / "restaurant.tif")
    with rasterio.open(out) as src:
        values, tags, transform = src.read(1), src.tags(), src.transform
    assert tags["calliper_phrase_map"].startswith("matched POI classes restaurant (")
    rows, cols = rasterio.transform.rowcol(transform, *evidence.xy.T)
    inside = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
    cls = np.array(evidence.classes)[evidence.class_index]
    at = lambda name: values[np.array(rows)[inside & (cls == name)], np.array(cols)[inside & (cls == name)]]  # noqa: E731
    assert np.median(at("restaurant")) > np.quantile(values, 0.75) > np.median(at("bench"))


def test_a_model_only_phrase_map_is_the_model_similarity_and_an_unknown_kind_is_refused(demo_model, tmp_path):
    from calliper.core.errors import SettingsError
    from calliper.core.maps.grid import grid_from_extent
    from calliper.core.maps.rasters import embedding_raster
    from calliper.core.maps.similarity import phrase_raster, similarity_raster, text_query

    grid = grid_from_extent((385800.0, 6671800.0, 386200.0, 6672200.0), 40.0, "EPSG:32635")
    embedding = embedding_raster(demo_model, grid, tmp_path / "emb.tif")
    model_map = phrase_raster(demo_model, embedding, "nightlife", tmp_path / "m.tif", kind="model")
    reference = similarity_raster(demo_model, embedding, text_query(demo_model, "nightlife"), tmp_path / "s.tif")
    with rasterio.open(model_map) as a, rasterio.open(reference) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    with pytest.raises(SettingsError, match="Unknown phrase map 'blend'. Choose one of: evidence, model"):
        phrase_raster(demo_model, embedding, "nightlife", tmp_path / "x.tif", kind="blend")
    assert not (tmp_path / "x.tif").exists()
