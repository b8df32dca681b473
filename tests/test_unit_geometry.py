"""Shape features of polygon units against values worked out by hand, and pooling over polygons."""

from __future__ import annotations

import math

import numpy as np
import pytest


def _features(geometry):
    from calliper.core.landuse.geometry import SHAPE_FEATURES, shape_features

    return dict(zip(SHAPE_FEATURES, shape_features(geometry)))


def test_a_square_is_compact_convex_and_not_elongated():
    from shapely.geometry import box

    f = _features(box(0, 0, 10, 10))
    assert f == pytest.approx({"log_area": math.log(100), "perimeter_ratio": 4.0, "convexity": 1.0,
                               "log_vertices": math.log(4), "elongation": 0.0})


def test_a_long_strip_has_a_large_perimeter_ratio_and_elongation():
    from shapely.geometry import box

    f = _features(box(0, 0, 100, 2))  # area 200, perimeter 204, rectangle sides 2 and 100
    assert f == pytest.approx({"log_area": math.log(200), "perimeter_ratio": 204 / math.sqrt(200), "convexity": 1.0,
                               "log_vertices": math.log(4), "elongation": 1 - 2 / 100})


def test_an_l_shape_is_not_convex():
    from shapely.geometry import Polygon

    # 3 x 2 with the 2 x 1 top right removed: area 4, perimeter 10; hull cuts the corner triangle (area 1) -> 5;
    # the smallest rectangle is the 3 x 2 bounding box (the hull's diagonal edge gives 8/sqrt5 x 5/sqrt5 = 8)
    f = _features(Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 2), (0, 2)]))
    assert f == pytest.approx({"log_area": math.log(4), "perimeter_ratio": 10 / 2, "convexity": 4 / 5,
                               "log_vertices": math.log(6), "elongation": 1 - 2 / 3})


def test_a_multipolygon_is_measured_as_one_unit():
    from shapely.geometry import MultiPolygon, box

    # two unit squares 2 m apart: area 2, perimeter 8, hull and rectangle 4 x 1, 8 vertices
    f = _features(MultiPolygon([box(0, 0, 1, 1), box(3, 0, 4, 1)]))
    assert f == pytest.approx({"log_area": math.log(2), "perimeter_ratio": 8 / math.sqrt(2), "convexity": 2 / 4,
                               "log_vertices": math.log(8), "elongation": 1 - 1 / 4})


def test_a_hole_takes_area_and_adds_perimeter_and_vertices():
    from shapely.geometry import Polygon

    # 10 x 10 with a 2 x 2 hole: area 96, perimeter 40 + 8, hull 100, 4 + 4 vertices
    f = _features(Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(4, 4), (6, 4), (6, 6), (4, 6)]]))
    assert f == pytest.approx({"log_area": math.log(96), "perimeter_ratio": 48 / math.sqrt(96), "convexity": 0.96,
                               "log_vertices": math.log(8), "elongation": 0.0})


def test_units_without_area_get_no_shape_features_and_a_note():
    from calliper.core.landuse.geometry import geometry_features, unit_shapes
    from shapely.geometry import LineString, Point, box

    assert np.isnan(geometry_features([Point(0, 0), LineString([(0, 0), (1, 1)])])).all()
    notes = []
    assert unit_shapes([Point(0, 0), Point(5, 5)], np.array([0, 1]), notes.append) is None
    assert len(notes) == 1 and "no area" in notes[0] and "geometry baseline" in notes[0]
    notes.clear()
    shapes = unit_shapes([box(0, 0, 10, 10), box(0, 0, 100, 2), box(0, 0, 1, 1), Point(0, 0)], np.arange(4),
                         notes.append)
    np.testing.assert_allclose(shapes[3], np.median(shapes[:3], axis=0))  # a typical shape, not NaN
    assert notes == ["1 units have no area (points or lines among the polygons); their shape features are the "
                     "median of the labelled units'."]


def test_pooling_over_a_polygon_equals_the_mean_of_its_samples(demo_data, demo_model):
    import shapely
    from calliper.core.crs import to_crs
    from calliper.core.landuse.labels import LabelSettings, load_labels
    from calliper.core.landuse.pooling import inside, pooled_embeddings, pooling_points, ring
    from calliper.core.landuse.unit_features import CalliperFeatures
    from calliper.core.model.inference import embed_locations, model_crs

    labels = load_labels(demo_data.landuse, "class", ("landuse",), model_crs(demo_model), None,
                         LabelSettings(min_class_size=10))
    geometries = labels.frame.geometry.to_crs(labels.metric_crs)[:12]
    for region, outside in ((inside, False), (ring(100.0), True)):
        points, owner = pooling_points(geometries, region, 16, 42)
        near = [g.distance(shapely.Point(p)) for g, p in zip(geometries.to_numpy()[owner], points)]
        assert (np.array(near) > 0).all() == outside and max(near) <= 100.0
        assert np.bincount(owner).min() == 16  # every polygon (and ring) got its samples
        sampled = embed_locations(demo_model, to_crs(points, labels.metric_crs, labels.model_crs), labels.model_crs)
        pooled = pooled_embeddings(CalliperFeatures(demo_model), labels, geometries, region)[:12]
        for unit in range(12):
            mean = sampled[owner == unit].mean(axis=0)
            np.testing.assert_allclose(pooled[unit], mean / np.linalg.norm(mean), atol=1e-5)
