"""The profile algorithms (profile places, profile raster, places like this, land use carried) run through Processing.

Layers go to ``processing.run`` as file paths. Rasters are 50 m pixels over a 1 km box
of central Helsinki that holds hundreds of the demo POIs. "Another model" is the
demo model itself: the core tests cover two cities; these check the front end.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

# xmin, ymin, xmax, ymax in EPSG:32635, the demo data's and the demo model's CRS.
BOX = (385500.0, 6671700.0, 386500.0, 6672700.0)
PIXEL = 50.0
TWO_SEEDS = "42,24"
PHRASES = ["a place to eat", "a quiet park", "shops and offices"]


def qgis_extent(box, crs: str) -> str:
    """An extent as Processing writes it: xmin,xmax,ymin,ymax [CRS]."""
    return f"{box[0]},{box[2]},{box[1]},{box[3]} [{crs}]"


@pytest.fixture
def phrase_file(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\n".join(PHRASES + ["", PHRASES[0]]) + "\n", encoding="utf-8")  # a blank and a repeat
    return path


@pytest.fixture
def empty_vocabulary(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n   \n", encoding="utf-8")
    return path


def test_profile_algorithm_adds_pr_fields_over_the_model_classes_that_sum_to_one(processing, trained, demo_model,
                                                                              demo_data, tmp_path):
    import geopandas as gpd
    from calliper.core.landuse.study import field_names
    from calliper.core.profiles import PROFILE_PREFIX
    from calliper.core.profiles.vocabulary import model_vocabulary

    result = processing.run("calliper:profile", {
        "MODEL": str(trained.folder), "INPUT": str(demo_data.landuse), "OUTPUT": str(tmp_path / "profiles.gpkg")})
    frame = gpd.read_file(result["OUTPUT"])
    vocabulary = model_vocabulary(demo_model)
    columns = field_names(PROFILE_PREFIX, vocabulary.labels)
    assert result["OUTPUT"] == str(tmp_path / "profiles.gpkg") and len(frame) == demo_data.n_landuse
    assert [c for c in frame.columns if c.startswith(PROFILE_PREFIX)] == columns and "landuse" in frame.columns
    profiles = frame[columns].to_numpy()
    np.testing.assert_allclose(profiles.sum(axis=1), 1.0, atol=1e-5)
    assert (profiles >= 0).all() and profiles.std(axis=0).max() > 0.01  # places differ
    best = np.array(vocabulary.labels)[profiles.argmax(axis=1)]
    assert (frame["profile_top"].to_numpy() == best).all()
    np.testing.assert_allclose(frame["profile_top_score"], profiles.max(axis=1), atol=1e-6)


def test_profile_raster_algorithm_paints_one_band_per_phrase_of_a_vocabulary_file(processing, trained, demo_model,
                                                                               phrase_file, tmp_path):
    from calliper.core.maps.grid import read_grid
    from calliper.core.model.inference import embed_locations
    from calliper.core.profiles.profiler import Profiler
    from calliper.core.profiles.vocabulary import phrase_vocabulary
    from rasterio.windows import Window

    result = processing.run("calliper:profileraster", {
        "MODEL": str(trained.folder), "EXTENT": qgis_extent(BOX, "EPSG:32635"), "PIXEL_SIZE": PIXEL,
        "VOCABULARY": str(phrase_file), "OUTPUT": str(tmp_path / "profile.tif")})
    with rasterio.open(result["OUTPUT"]) as src:
        values, grid = src.read(), read_grid(src)
        assert src.count == len(PHRASES) and list(src.descriptions) == PHRASES
        assert json.loads(src.tags()["calliper_vocabulary"]) == PHRASES and src.crs.to_epsg() == 32635
    assert (grid.width, grid.height) == (20, 20)
    sums = values.sum(axis=0)
    finite = np.isfinite(sums)
    assert finite.sum() > finite.size / 2  # central Helsinki: most pixels are near the training POIs
    np.testing.assert_allclose(sums[finite], 1.0, atol=1e-4)
    row, col = np.argwhere(finite)[len(np.argwhere(finite)) // 2]
    centre = grid.pixel_centres(Window(int(col), int(row), 1, 1))
    expected = Profiler(demo_model, phrase_vocabulary(phrase_file)).profiles(embed_locations(demo_model, centre))[0]
    np.testing.assert_allclose(values[:, row, col], expected, atol=1e-4)  # the algorithm may run on CUDA


@pytest.fixture(scope="module")
def embedding(processing, trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("profiles-embedding") / "embedding.tif"
    return processing.run("calliper:embeddingraster", {
        "MODEL": str(trained.folder), "EXTENT": qgis_extent(BOX, "EPSG:32635"), "PIXEL_SIZE": PIXEL,
        "OUTPUT": str(out), "RGB_OUTPUT": None})["OUTPUT"]


def test_similarity_algorithm_like_a_place_of_another_model_peaks_at_that_place(processing, trained, embedding,
                                                                             project, tmp_path):
    with rasterio.open(embedding) as src:
        has_data = np.isfinite(src.read(1))
        rows, cols = np.nonzero(has_data)
        row, col = rows[len(rows) // 3], cols[len(rows) // 3]
        x, y = map(float, src.xy(row, col))  # numpy 2 writes its scalars as np.float64(...), which QGIS refuses
    out = tmp_path / "like.tif"
    result = processing.runAndLoadResults("calliper:similarity", {
        "MODEL": str(trained.folder), "EMBEDDING": embedding, "POINT": f"{x!r},{y!r} [EPSG:32635]",
        "LIKE_MODEL": str(trained.folder), "OUTPUT": str(out)})
    with rasterio.open(result["OUTPUT"]) as src:
        values = src.read(1)
        assert src.tags()["calliper_kind"] == "like_this" and src.count == 1
    assert np.isnan(values[~has_data]).all()
    assert np.unravel_index(np.nanargmax(values), values.shape) == (row, col)
    assert values[row, col] == pytest.approx(1.0, abs=1e-4) and np.nanmin(values) >= -1.0001
    (loaded,) = [layer for layer in project.mapLayers().values() if layer.source() == str(out)]
    assert loaded.renderer().type() == "singlebandpseudocolor"
    assert loaded.renderer().legendSymbologyItems()[-1][0] == f"more like the place {x:.8g}, {y:.8g}"


def test_transfer_algorithm_from_the_demo_model_to_itself_scores_profiles_and_poi_counts(processing, trained,
                                                                                       demo_data, project, tmp_path):
    import geopandas as gpd
    from qgis.core import QgsProcessingFeedback

    class Log(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines = []

        def pushInfo(self, info):  # noqa: N802 - QGIS API
            self.lines.append(info)

    out = tmp_path / "transfer"
    log = Log()
    result = processing.runAndLoadResults("calliper:transfer", {
        "SOURCE_MODEL": str(trained.folder), "SOURCE_LABELS": str(demo_data.landuse), "LABEL_FIELD": "landuse",
        "TARGET_MODEL": str(trained.folder), "TARGET_LABELS": str(demo_data.landuse), "SEEDS": TWO_SEEDS,
        "OUTPUT_FOLDER": str(out)}, feedback=log)
    assert sorted(p.name for p in out.iterdir()) == [".calliper-output.json", "metrics.json", "predictions.gpkg"]
    assert result["PREDICTIONS"] == str(out / "predictions.gpkg") and result["METRICS"] == str(out / "metrics.json")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scored"] is True and set(metrics["methods"]) == {
        "profiles", "poi_counts", "geometry", "trees", "ensemble", "profiles_shape_blend"}
    assert metrics["protocol"]["seeds"] == [42, 24] and metrics["target_labels"] == str(demo_data.landuse)
    kept = demo_data.n_landuse - 3  # three classes of one feature each are below the default minimum class size
    assert metrics["n_source_units"] == metrics["n_target_units"] == metrics["n_target_scored"] == kept
    assert len(metrics["classes"]) == 14 and "road" not in metrics["classes"]
    # trained and scored on the same city: far above the 1 in 14 of chance, not a measure of transfer
    # (the shapes alone are scored, not asserted: shape is not enough for 14 classes)
    assert all(metrics["methods"][name]["macro_f1"]["mean"] > 0.5 for name in ("profiles", "poi_counts"))
    predictions = gpd.read_file(result["PREDICTIONS"])
    classes = metrics["classes"]
    assert len(predictions) == demo_data.n_landuse and set(predictions["predicted"]) <= set(classes)  # rare ones too
    shares = predictions[[f"p_{name}" for name in classes]].to_numpy()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-5)
    scores_logged = [line for line in log.lines if line.startswith("Scores on the")]
    assert len(scores_logged) == 1 and "profiles" in scores_logged[0].lower()
    assert metrics["headline"]["verdict"] in scores_logged[0]  # whether the model counts, said where the scores are
    (loaded,) = project.mapLayersByName("landuse carried to the target")
    assert loaded.featureCount() == demo_data.n_landuse


def test_profile_algorithms_refuse_an_empty_vocabulary_file_with_the_core_message(processing, trained, demo_data,
                                                                                embedding, empty_vocabulary,
                                                                                tmp_path):
    from qgis.core import QgsProcessingException

    message = f"The vocabulary file {empty_vocabulary} has no phrases: write one phrase per line."
    with pytest.raises(QgsProcessingException, match=message):
        processing.run("calliper:profile", {"MODEL": str(trained.folder), "INPUT": str(demo_data.landuse),
                                            "VOCABULARY": str(empty_vocabulary), "OUTPUT": str(tmp_path / "p.gpkg")})
    with pytest.raises(QgsProcessingException, match=message):
        processing.run("calliper:profileraster", {
            "MODEL": str(trained.folder), "EXTENT": qgis_extent(BOX, "EPSG:32635"), "PIXEL_SIZE": PIXEL,
            "VOCABULARY": str(empty_vocabulary), "OUTPUT": str(tmp_path / "p.tif")})
    with pytest.raises(QgsProcessingException, match=message):
        processing.run("calliper:similarity", {
            "MODEL": str(trained.folder), "EMBEDDING": embedding, "POINT": "386000,6672200 [EPSG:32635]",
            "LIKE_MODEL": str(trained.folder), "VOCABULARY": str(empty_vocabulary), "OUTPUT": str(tmp_path / "l.tif")})
    with pytest.raises(QgsProcessingException, match=message):
        processing.run("calliper:transfer", {
            "SOURCE_MODEL": str(trained.folder), "SOURCE_LABELS": str(demo_data.landuse), "LABEL_FIELD": "landuse",
            "TARGET_MODEL": str(trained.folder), "VOCABULARY": str(empty_vocabulary), "SEEDS": TWO_SEEDS,
            "OUTPUT_FOLDER": str(tmp_path / "t")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt"]


def test_profile_front_ends_refuse_inputs_that_do_not_go_together(processing, trained, demo_data, embedding,
                                                                 phrase_file, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="written as a GeoPackage: choose an output file ending in .gpkg"):
        processing.run("calliper:profile", {"MODEL": str(trained.folder), "INPUT": str(demo_data.landuse),
                                            "OUTPUT": str(tmp_path / "p.shp")})
    common = {"MODEL": str(trained.folder), "EMBEDDING": embedding, "OUTPUT": str(tmp_path / "l.tif")}
    with pytest.raises(QgsProcessingException, match=r"another model \(LIKE_MODEL\) start from a place: give a point"):
        processing.run("calliper:similarity", {**common, "TEXT": "nightlife", "LIKE_MODEL": str(trained.folder)})
    with pytest.raises(QgsProcessingException, match=r"give that model \(LIKE_MODEL\) too"):
        processing.run("calliper:similarity", {**common, "POINT": "386000,6672200 [EPSG:32635]",
                                               "VOCABULARY": str(phrase_file)})
    with pytest.raises(QgsProcessingException, match=r"\(TARGET_LABELS\) or target units \(TARGET_UNITS\), not both"):
        processing.run("calliper:transfer", {
            "SOURCE_MODEL": str(trained.folder), "SOURCE_LABELS": str(demo_data.landuse), "LABEL_FIELD": "landuse",
            "TARGET_MODEL": str(trained.folder), "TARGET_LABELS": str(demo_data.landuse),
            "TARGET_UNITS": str(demo_data.landuse), "OUTPUT_FOLDER": str(tmp_path / "t")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.txt"]
