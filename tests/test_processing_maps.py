"""The map and land-use algorithms run headless through the real Processing framework on the demo data.

Layers go to ``processing.run`` as file paths (a context may take ownership of layer
objects it is given and delete them). Rasters are 40 m pixels over a 1 km box of
central Helsinki that holds hundreds of the demo POIs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

# xmin, ymin, xmax, ymax in EPSG:32635, the demo data's and the demo model's CRS.
BOX = (385500.0, 6671700.0, 386500.0, 6672700.0)
PIXEL = 40.0
TWO_SEEDS = "42,24"


def qgis_extent(box, crs: str) -> str:
    """An extent as Processing writes it: xmin,xmax,ymin,ymax [CRS]."""
    return f"{box[0]},{box[2]},{box[1]},{box[3]} [{crs}]"


@pytest.fixture(scope="module")
def lonlat_box():
    """BOX as a lon/lat extent: the algorithm must bring it back into the model's CRS."""
    to_lonlat = Transformer.from_crs("EPSG:32635", "EPSG:4326", always_xy=True)
    return to_lonlat.transform_bounds(*BOX)


@pytest.fixture(scope="module")
def embedding(processing, trained, lonlat_box, tmp_path_factory):
    """An embedding raster and its RGB preview made by the algorithm from a lon/lat extent."""
    folder = tmp_path_factory.mktemp("processing-maps")
    result = processing.run("calliper:embeddingraster", {
        "MODEL": str(trained.folder), "EXTENT": qgis_extent(lonlat_box, "EPSG:4326"), "PIXEL_SIZE": PIXEL,
        "OUTPUT": str(folder / "embedding.tif"), "RGB_OUTPUT": str(folder / "rgb.tif"), "WHOLE_EXTENT": True,
    })
    return result


def test_embedding_raster_algorithm_computes_only_near_the_training_pois_by_default(processing, trained, tmp_path):
    out = tmp_path / "near.tif"
    processing.run("calliper:embeddingraster", {
        "MODEL": str(trained.folder), "EXTENT": qgis_extent((382000, 6668000, 390000, 6676000), "EPSG:32635"),
        "PIXEL_SIZE": 200, "OUTPUT": str(out), "RGB_OUTPUT": None,
    })
    with rasterio.open(out) as src:
        finite = np.isfinite(src.read(1))
    assert 0 < finite.sum() < finite.size / 4


def test_embedding_raster_algorithm_paints_the_model_embedding_in_the_model_crs(embedding, demo_model):
    from calliper.core.maps.grid import read_grid
    from calliper.core.model.inference import embed_locations
    from rasterio.windows import Window

    with rasterio.open(embedding["OUTPUT"]) as src:
        grid, values = read_grid(src), src.read()
        assert src.crs.to_epsg() == 32635 and src.count == 128 and src.dtypes[0] == "float32"
        assert src.descriptions[0] == "emb_000"
    left, bottom, right, top = grid.bounds  # the lon/lat box's outline, covered in metres
    assert left <= BOX[0] + 1 and bottom <= BOX[1] + 1 and right >= BOX[2] - 1 and top >= BOX[3] - 1
    assert 25 <= grid.width <= 27 and 25 <= grid.height <= 27 and grid.transform.a == PIXEL
    centres = grid.pixel_centres(Window(0, 0, grid.width, grid.height))
    expected = embed_locations(demo_model, centres).T.reshape(values.shape)
    np.testing.assert_allclose(values, expected, atol=1e-4)  # the algorithm may run on CUDA, the reference on the CPU

    with rasterio.open(embedding["RGB_OUTPUT"]) as rgb:
        colours = rgb.read()
        assert rgb.count == 3 and rgb.dtypes[0] == "uint8" and rgb.crs.to_epsg() == 32635
        assert colours.shape[1:] == (grid.height, grid.width) and colours.min() >= 1 and colours.max() > 200


def test_embedding_raster_algorithm_masks_with_a_memory_layer_in_half_floats(processing, trained, tmp_path):
    """A layer that is not a file (a memory layer, in lon/lat) is handed to core through a temporary GeoPackage."""
    from qgis.core import QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer

    square = (385900.0, 6672100.0, 386100.0, 6672300.0)  # 200 m square in the middle of BOX
    to_lonlat = Transformer.from_crs("EPSG:32635", "EPSG:4326", always_xy=True)
    ring = [to_lonlat.transform(x, y) for x, y in
            ((square[0], square[1]), (square[2], square[1]), (square[2], square[3]), (square[0], square[3]))]
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "mask", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt("POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring + ring[:1]) + "))"))
    layer.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(layer)  # the project owns it; the algorithm gets its id
    try:
        result = processing.run("calliper:embeddingraster", {
            "MODEL": str(trained.folder), "EXTENT": qgis_extent(BOX, "EPSG:32635"), "PIXEL_SIZE": PIXEL,
            "FLOAT16": True, "MASK": layer.id(), "OUTPUT": str(tmp_path / "masked.tif"),
        })
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert result["RGB_OUTPUT"] is None and not (tmp_path / "rgb.tif").exists()
    with rasterio.open(result["OUTPUT"]) as src:
        first = src.read(1)
        assert src.tags(1, "IMAGE_STRUCTURE").get("NBITS") == "16"
        assert (src.width, src.height) == (25, 25)
    computed = np.isfinite(first)
    assert computed.sum() == 25  # the 5 x 5 pixels of 40 m whose centres lie inside the 200 m square
    rows, cols = np.nonzero(computed)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 14, 10, 14)


def test_similarity_algorithm_from_a_point_peaks_at_that_point(processing, trained, embedding, tmp_path):
    from calliper.core.maps.grid import read_grid
    from rasterio.windows import Window

    with rasterio.open(embedding["OUTPUT"]) as src:
        grid = read_grid(src)
    row, col = 7, 18
    x, y = grid.pixel_centres(Window(col, row, 1, 1))[0]
    lon, lat = Transformer.from_crs("EPSG:32635", "EPSG:4326", always_xy=True).transform(x, y)
    result = processing.run("calliper:similarity", {
        "MODEL": str(trained.folder), "EMBEDDING": embedding["OUTPUT"], "POINT": f"{lon!r},{lat!r} [EPSG:4326]",
        "OUTPUT": str(tmp_path / "similarity.tif"),
    })
    with rasterio.open(result["OUTPUT"]) as src:
        similarity = src.read(1)
        assert src.count == 1 and src.crs.to_epsg() == 32635 and src.tags()["calliper_kind"] == "similarity"
    assert similarity.shape == grid.shape and np.isfinite(similarity).all()
    assert np.unravel_index(similarity.argmax(), similarity.shape) == (row, col)
    assert similarity[row, col] == pytest.approx(1.0, abs=1e-4) and similarity.min() >= -1.0001


def test_cancelled_embedding_raster_algorithm_leaves_no_file(processing, trained, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="was cancelled; no partial output was kept"):
        processing.run("calliper:embeddingraster", {
            "MODEL": str(trained.folder), "EXTENT": qgis_extent(BOX, "EPSG:32635"), "PIXEL_SIZE": PIXEL,
            "OUTPUT": str(tmp_path / "cancelled.tif"), "RGB_OUTPUT": str(tmp_path / "cancelled_rgb.tif"),
        }, feedback=feedback)
    assert list(tmp_path.iterdir()) == []


def test_similarity_algorithm_needs_exactly_one_of_point_and_text(processing, trained, embedding, tmp_path):
    from qgis.core import QgsProcessingException

    common = {"MODEL": str(trained.folder), "EMBEDDING": embedding["OUTPUT"], "OUTPUT": str(tmp_path / "s.tif")}
    with pytest.raises(QgsProcessingException, match=r"Give a point \(POINT\) or a phrase \(TEXT\)"):
        processing.run("calliper:similarity", common)
    with pytest.raises(QgsProcessingException, match=r"Give either a point \(POINT\) or a phrase \(TEXT\), not both"):
        processing.run("calliper:similarity", {**common, "POINT": "386000,6672200 [EPSG:32635]", "TEXT": "nightlife"})
    assert not (tmp_path / "s.tif").exists()


def test_cluster_algorithm_names_clusters_with_the_model_recorded_in_the_raster(processing, demo_model, embedding,
                                                                             project, tmp_path):
    from calliper.core.maps.clusters import class_names

    out = tmp_path / "clusters.tif"
    result = processing.runAndLoadResults("calliper:cluster", {
        "EMBEDDING": embedding["OUTPUT"], "K": 4, "OUTPUT": str(out)})
    with rasterio.open(result["OUTPUT"]) as src:
        values = src.read(1)
        assert src.dtypes[0] == "uint8" and src.nodata == 255 and src.colormap(1)[0][3] == 255
    assert set(np.unique(values)) == {0, 1, 2, 3}
    legend = json.loads(open(result["LEGEND"], encoding="utf-8").read())
    assert result["LEGEND"] == str(out.with_suffix(".json")) and out.with_suffix(".qml").exists()
    assert [entry["value"] for entry in legend["legend"]] == [0, 1, 2, 3]
    known = set(class_names(demo_model))
    assert all(entry["names"] and set(entry["names"]) <= known for entry in legend["legend"])
    assert legend["model"] == str(demo_model.folder)
    loaded = project.mapLayersByName("Cluster map")
    assert len(loaded) == 1 and loaded[0].source() == str(out)
    assert loaded[0].renderer().type() == "paletted"  # the legend's .qml, not plain bands
    labels = [item.label for item in loaded[0].renderer().classes()]
    assert labels == [" / ".join(entry["names"]) for entry in legend["legend"]]


def test_classify_algorithm_writes_predictions_metrics_report_and_class_raster(processing, trained, demo_data,
                                                                            project, tmp_path):
    import geopandas as gpd

    out = tmp_path / "landuse"
    result = processing.runAndLoadResults("calliper:classify", {
        "MODEL": str(trained.folder), "LABELS": str(demo_data.landuse), "LABEL_FIELD": "landuse", "SEEDS": TWO_SEEDS,
        "MIN_CLASS_SIZE": 10, "POIS": str(demo_data.pois), "EXTENT": qgis_extent(BOX, "EPSG:32635"),
        "PIXEL_SIZE": PIXEL, "OUTPUT_FOLDER": str(out),
    })
    classes = ["civil", "commercial", "grass", "lane", "residential"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".calliper-output.json", "classes.qml", "classes.tif", "metrics.json", "predictions.gpkg", "report.html"]
    assert result["PREDICTIONS"] == str(out / "predictions.gpkg") and result["REPORT"] == str(out / "report.html")

    predictions = gpd.read_file(result["PREDICTIONS"])
    assert len(predictions) == 240 and predictions.crs.to_epsg() == 32635
    assert {"landuse", "predicted", "probability", "labelled", *(f"p_{c}" for c in classes)} <= set(predictions.columns)
    assert set(predictions["predicted"]) <= set(classes) and predictions["labelled"].sum() == 209
    metrics = json.loads(open(result["METRICS"], encoding="utf-8").read())
    assert metrics["split"] == "spatial" and metrics["protocol"]["seeds"] == [42, 24]
    assert metrics["protocol"]["pois"] == str(demo_data.pois) and set(metrics["methods"]) == {
        "calliper", "coords_only", "poi_counts", "calliper_poi_counts", "calliper_pooled", "geometry", "geometry_coords",
        "geometry_coords_poi_counts", "geometry_poi_counts", "geometry_calliper", "geometry_calliper_poi_counts",
        "geometry_coords_poi_counts_calliper", "trees", "ensemble", "ensemble_calliper"}

    with rasterio.open(result["CLASS_RASTER"]) as src:
        bands = src.read()
        assert src.count == 2 and src.crs.to_epsg() == 32635 and (src.width, src.height) == (25, 25)
        assert json.loads(src.tags()["classes"]) == {str(i): name for i, name in enumerate(classes)}
    assert bands[0].max() < len(classes) and 0 < bands[1].min() and bands[1].max() <= 100

    (predicted,), (class_layer,) = project.mapLayersByName("Predicted landuse"), project.mapLayersByName("landuse classes")
    assert predicted.featureCount() == 240 and class_layer.source() == result["CLASS_RASTER"]
    renderer = class_layer.renderer()
    assert renderer.type() == "paletted" and [item.label for item in renderer.classes()] == classes


def test_classify_algorithm_refuses_a_label_field_with_one_class(processing, trained, demo_data, tmp_path):
    import geopandas as gpd
    from qgis.core import QgsProcessingException

    frame = gpd.read_file(demo_data.landuse)
    frame["kind"] = "grass"
    one_class = tmp_path / "one_class.gpkg"
    frame.to_file(one_class, driver="GPKG")
    with pytest.raises(QgsProcessingException, match=r"'kind'.*1 class.*grass \(240\)"):
        processing.run("calliper:classify", {
            "MODEL": str(trained.folder), "LABELS": str(one_class), "LABEL_FIELD": "kind", "SEEDS": TWO_SEEDS,
            "POIS": str(demo_data.pois), "OUTPUT_FOLDER": str(tmp_path / "out"),
        })
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def numeric_labels(demo_data, tmp_path_factory):
    """The demo land-use polygons with a numeric field and two share fields (summing to one)."""
    import geopandas as gpd

    frame = gpd.read_file(demo_data.landuse)
    frame["log_area"] = np.log1p(frame.area)
    frame["share_green"] = np.where(frame["landuse"] == "grass", 0.8, 0.2)
    frame["share_built"] = 1.0 - frame["share_green"]
    path = tmp_path_factory.mktemp("numeric") / "areas.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def test_predict_algorithm_regresses_one_field(processing, trained, demo_data, numeric_labels, tmp_path):
    import geopandas as gpd

    result = processing.run("calliper:predict", {
        "MODEL": str(trained.folder), "LABELS": str(numeric_labels), "FIELDS": ["log_area"], "SPLIT": 1,
        "SEEDS": TWO_SEEDS, "POIS": str(demo_data.pois), "OUTPUT_FOLDER": str(tmp_path / "value"),
    })
    metrics = json.loads(open(result["METRICS"], encoding="utf-8").read())
    assert metrics["task"] == "value" and metrics["split"] == "random" and metrics["fields"] == ["log_area"]
    assert set(metrics["methods"]["calliper"]) == {"r2", "rmse", "mae"}
    predictions = gpd.read_file(result["PREDICTIONS"])
    assert np.isfinite(predictions["predicted"]).all() and predictions["labelled"].sum() == 240


def test_predict_algorithm_with_several_fields_predicts_shares(processing, trained, demo_data, numeric_labels,
                                                                tmp_path):
    import geopandas as gpd

    result = processing.run("calliper:predict", {
        "MODEL": str(trained.folder), "LABELS": str(numeric_labels), "FIELDS": ["share_green", "share_built"],
        "PROBE": 0, "SEEDS": TWO_SEEDS, "POIS": str(demo_data.pois), "OUTPUT_FOLDER": str(tmp_path / "shares"),
    })
    metrics = json.loads(open(result["METRICS"], encoding="utf-8").read())
    assert metrics["task"] == "distribution" and metrics["fields"] == ["share_green", "share_built"]
    predictions = gpd.read_file(result["PREDICTIONS"])
    shares = predictions[["pred_share_green", "pred_share_built"]].to_numpy()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-5)
    assert (shares >= 0).all()


def test_layer_files_passes_file_layers_by_path_and_exports_the_others(qgis_app, demo_data, tmp_path):
    import geopandas as gpd
    from calliper.adapters.layer_files import VectorFile, vector_file
    from qgis.core import QgsProcessingContext, QgsVectorLayer

    context = QgsProcessingContext()
    pois = gpd.read_file(demo_data.pois)
    two = tmp_path / "two.gpkg"
    pois.iloc[:10].to_file(two, layer="first", driver="GPKG")
    pois.iloc[10:25].to_file(two, layer="second", driver="GPKG")

    plain = QgsVectorLayer(str(demo_data.pois), "pois", "ogr")
    assert vector_file(plain, context) == VectorFile(str(demo_data.pois))
    second = QgsVectorLayer(f"{two}|layername=second", "second", "ogr")
    assert vector_file(second, context) == VectorFile(str(two), "second")
    first = QgsVectorLayer(f"{two}|layername=first", "first", "ogr")
    assert vector_file(first, context, with_layer_name=False) == VectorFile(str(two))

    exported = vector_file(second, context, with_layer_name=False)  # a path-only reader would get 'first'
    assert exported.layer is None and exported.path != str(two)
    assert len(gpd.read_file(exported.path)) == 15

    plain.setSubsetString("\"class\" = 'restaurant'")
    filtered = vector_file(plain, context)
    copy = gpd.read_file(filtered.path)
    assert filtered.path != str(demo_data.pois) and set(copy["class"]) == {"restaurant"}
    assert len(copy) == (pois["class"] == "restaurant").sum() and copy.crs.to_epsg() == 32635


def test_loaded_similarity_map_gets_the_docks_colour_ramp(processing, trained, embedding, project, tmp_path):
    out = tmp_path / "nightlife.tif"
    processing.runAndLoadResults("calliper:similarity", {
        "MODEL": str(trained.folder), "EMBEDDING": embedding["OUTPUT"], "TEXT": "nightlife", "OUTPUT": str(out)})
    (loaded,) = [layer for layer in project.mapLayers().values() if layer.source() == str(out)]
    assert loaded.renderer().type() == "singlebandpseudocolor"
    with rasterio.open(out) as src:
        values = src.read(1)
    low, high = np.nanpercentile(values, [2, 98])  # the dock's 2-98 % stretch
    span = np.nanmax(values) - np.nanmin(values)
    renderer = loaded.renderer()
    assert abs(renderer.classificationMin() - low) < 0.03 * span and abs(renderer.classificationMax() - high) < 0.03 * span
    assert renderer.legendSymbologyItems()[-1][0] == "more like 'nightlife'"  # read from the raster's query tag
