"""Profiles across models: comparable between seeds, "like this" across models, land use carried between cities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

ZONES = {  # a hand-made layout: four 1 km zones, each with its own POI classes
    "commercial": ("restaurant", "cafe", "clothes shop"),
    "industrial": ("factory", "warehouse", "car repair"),
    "residential": ("school", "kindergarten", "playground"),
    "leisure": ("sports centre", "swimming pool", "picnic site"),
}
ZONE_SIZE, CELL = 1000.0, 200.0


def synthetic_city(folder, crs: str, origin: tuple[float, float], arrangement: list[str], seed: int,
                   zones: dict = ZONES):
    """POIs and land-use cells of a 2 x 2 km city whose quadrants hold ``arrangement``'s zones (row-major)."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    points, classes, cells, labels = [], [], [], []
    for quadrant, zone in enumerate(arrangement):
        x0, y0 = origin[0] + ZONE_SIZE * (quadrant % 2), origin[1] + ZONE_SIZE * (quadrant // 2)
        xy = rng.uniform((x0, y0), (x0 + ZONE_SIZE, y0 + ZONE_SIZE), size=(300, 2))
        points.append(xy)
        classes += list(rng.choice(zones[zone], size=len(xy)))
        for cx in np.arange(x0, x0 + ZONE_SIZE, CELL):
            for cy in np.arange(y0, y0 + ZONE_SIZE, CELL):
                cells.append(shapely.box(cx, cy, cx + CELL, cy + CELL))
                labels.append(zone)
    xy = np.concatenate(points)
    folder.mkdir(parents=True, exist_ok=True)
    pois = gpd.GeoDataFrame({"class": classes}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)
    pois.to_file(folder / "pois.gpkg", layer="pois", engine="pyogrio")
    landuse = gpd.GeoDataFrame({"landuse": labels}, geometry=cells, crs=crs)
    landuse.to_file(folder / "landuse.gpkg", layer="landuse", engine="pyogrio")
    return folder / "pois.gpkg", folder / "landuse.gpkg"


def train(pois, out, seed: int = 42, epochs: int = 40, fields=("class",), batch_size: int = 256):
    from calliper.core.catalog.loading import load_model
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.poi_io import read_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields, TextTemplate

    job = TrainJob(read_points(pois), TextFields(*fields), out, template=TextTemplate(include_name=False),
                   train=TrainSettings(epochs=epochs, batch_size=batch_size, seed=seed))
    return load_model(train_from_points(job).folder)


@pytest.fixture(scope="module")
def cities(tmp_path_factory):
    """City A (EPSG:3067) and city B (UTM 32N, its zones in another arrangement), each with a model."""
    root = tmp_path_factory.mktemp("cities")
    a = synthetic_city(root / "a", "EPSG:3067", (385000.0, 6671000.0),
                       ["commercial", "industrial", "residential", "leisure"], seed=1)
    b = synthetic_city(root / "b", "EPSG:32632", (500000.0, 5200000.0),
                       ["leisure", "commercial", "industrial", "residential"], seed=2)
    return {"a": (*a, train(a[0], root / "model_a")), "b": (*b, train(b[0], root / "model_b", seed=7))}


def band_correlation(first, second, log: bool = False) -> float:
    """Mean over bands of the Pearson correlation of band k of two rasters (or of their logs), over pixels with data."""
    with rasterio.open(first) as one, rasterio.open(second) as two:
        x, y = one.read().reshape(one.count, -1), two.read().reshape(two.count, -1)
    if log:
        x, y = np.log(x), np.log(y)
    valid = np.isfinite(x).all(axis=0) & np.isfinite(y).all(axis=0)
    return float(np.mean([np.corrcoef(a[valid], b[valid])[0, 1] for a, b in zip(x, y)]))


def test_profile_maps_of_two_seeds_correlate_more_than_their_embeddings(demo_model, demo_data, tmp_path):
    from calliper.core.maps.rasters import embedding_grid, embedding_raster, evidence_mask
    from calliper.core.profiles.outputs import profile_raster
    from calliper.core.profiles.vocabulary import model_vocabulary

    other = train(demo_data.pois, tmp_path / "seed7", seed=7, fields=("class", "category", "name"), batch_size=512)
    xmin, ymin, xmax, ymax = demo_model.card.training["extent"]
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    grid = embedding_grid(demo_model, (cx - 1500, cy - 1500, cx + 1500, cy + 1500), 50.0)
    mask, _ = evidence_mask(demo_model, grid)
    vocabulary = model_vocabulary(demo_model)
    profiles, embeddings = [], []
    for model in (demo_model, other):
        name = model.card.created.replace(":", "")
        profiles.append(profile_raster(model, vocabulary, grid, tmp_path / f"profile_{name}.tif", mask))
        embeddings.append(embedding_raster(model, grid, tmp_path / f"embedding_{name}.tif", mask=mask))
    with rasterio.open(profiles[0]) as raster:
        assert raster.count == len(vocabulary) and list(raster.descriptions) == vocabulary.labels
        assert json.loads(raster.tags()["calliper_vocabulary"]) == vocabulary.labels
        values = raster.read()
    sums = values.sum(axis=0)
    assert np.allclose(sums[np.isfinite(sums)], 1.0, atol=1e-4)  # a distribution over the vocabulary per pixel
    profile_r, log_r = band_correlation(*profiles), band_correlation(*profiles, log=True)
    embedding_r = band_correlation(*embeddings)
    print(f"band correlation between seeds: profiles {profile_r:.3f} (logs {log_r:.3f}), embeddings {embedding_r:.3f}")
    assert profile_r > embedding_r + 0.2 and log_r > embedding_r + 0.5


def test_like_this_from_a_model_to_itself_peaks_at_the_chosen_place(demo_model, tmp_path):
    from calliper.core.maps.grid import RasterGrid
    from calliper.core.maps.rasters import embedding_grid, embedding_raster, evidence_mask
    from calliper.core.profiles.like_this import like_this_raster

    xmin, ymin, xmax, ymax = demo_model.card.training["extent"]
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    grid: RasterGrid = embedding_grid(demo_model, (cx - 1000, cy - 1000, cx + 1000, cy + 1000), 40.0)
    embedding = embedding_raster(demo_model, grid, tmp_path / "embedding.tif", mask=evidence_mask(demo_model, grid)[0])
    with rasterio.open(embedding) as raster:
        has_data = np.isfinite(raster.read(1))
    rows, cols = np.nonzero(has_data)
    row, col = rows[len(rows) // 3], cols[len(rows) // 3]
    x, y = raster.xy(row, col)  # the pixel's centre
    out = like_this_raster(demo_model, embedding, demo_model, (x, y), tmp_path / "like.tif")
    with rasterio.open(out) as raster:
        values = raster.read(1)
        assert raster.tags()["calliper_kind"] == "like_this"
    assert np.isnan(values[~has_data]).all()
    assert np.unravel_index(np.nanargmax(values), values.shape) == (row, col)
    assert values[row, col] == pytest.approx(1.0, abs=1e-4)
    assert np.nanmedian(values) < 0.9


def test_transfer_between_two_cities_of_one_layout_recovers_it(cities, tmp_path):
    import geopandas as gpd
    from calliper.core.profiles.transfer import transfer

    _, labels_a, model_a = cities["a"]
    _, labels_b, model_b = cities["b"]
    result = transfer(model_a, labels_a, model_b, "landuse", tmp_path / "out", target_labels=labels_b)
    metrics = json.loads(result.outputs["metrics"].read_text())
    assert sorted(metrics["classes"]) == sorted(ZONES)
    assert set(metrics["methods"]) == {"profiles", "poi_counts", "geometry", "trees", "ensemble", "profiles_shape_blend"}
    assert metrics["methods"]["profiles"]["macro_f1"]["mean"] >= 0.8, metrics["methods"]
    assert metrics["default_method"] == "profiles_shape_blend" == metrics["headline"]["default"]
    assert metrics["headline"]["best_without_model"] in {"poi_counts", "geometry", "trees", "ensemble"}
    assert metrics["methods"]["geometry"]["macro_f1"]["mean"] < 0.5  # every cell has the same square shape
    predictions = gpd.read_file(result.outputs["predictions"])
    assert (predictions["predicted"] == predictions["landuse"]).mean() >= 0.8
    assert {"probability"} | {f"p_{z}" for z in ZONES} <= set(predictions.columns)


def test_transfer_carries_the_units_shapes_between_cities(cities, tmp_path):
    import geopandas as gpd
    import shapely
    from calliper.core.profiles.transfer import transfer

    def leisure_as_strips(path, out):
        frame = gpd.read_file(path)
        strips = frame["landuse"] == "leisure"
        frame.loc[strips, "geometry"] = [shapely.box(x0, y0, x1, y0 + 20) for x0, y0, x1, _ in
                                         frame.geometry[strips].bounds.to_numpy()]
        frame.to_file(out, driver="GPKG")
        return out

    (_, labels_a, model_a), (_, labels_b, model_b) = cities["a"], cities["b"]
    result = transfer(model_a, leisure_as_strips(labels_a, tmp_path / "a.gpkg"), model_b, "landuse", tmp_path / "out",
                      target_labels=leisure_as_strips(labels_b, tmp_path / "b.gpkg"))
    metrics = result.metrics
    assert metrics["protocol"]["shape_features"][0] == "log_area"
    assert metrics["per_class_f1"]["geometry"]["leisure"]["mean"] == pytest.approx(1.0)  # the shape alone finds them
    assert metrics["per_class_f1"]["profiles"]["leisure"]["mean"] == pytest.approx(1.0)
    assert metrics["methods"]["profiles"]["macro_f1"]["mean"] >= 0.8


def test_transfer_without_target_labels_predicts_cells_and_scores_nothing(cities, tmp_path):
    import geopandas as gpd
    from calliper.core.profiles.transfer import transfer

    _, labels_a, model_a = cities["a"]
    _, _, model_b = cities["b"]
    result = transfer(model_a, labels_a, model_b, "landuse", tmp_path / "out")
    metrics = json.loads(result.outputs["metrics"].read_text())
    assert metrics["scored"] is False and metrics["methods"] == {}
    cells = gpd.read_file(result.outputs["predictions"])
    assert len(cells) == 64 and cells.crs.to_epsg() == 32632  # 250 m cells over 2 x 2 km of POIs
    # the quadrant of city B holding the factories (its top-left) is predicted industrial
    industrial = cells[cells.geometry.centroid.x.between(500000, 501000) & cells.geometry.centroid.y.between(5201000, 5202000)]
    assert (industrial["predicted"] == "industrial").mean() >= 0.7


def test_profile_cli_writes_fields_on_a_point_layer(cities, tmp_path, capsys):
    import geopandas as gpd
    from calliper.cli.main import main

    pois, _, model = cities["a"]
    vocabulary = tmp_path / "words.txt"
    vocabulary.write_text("a place to eat\nheavy industry\n\na place to eat\n", encoding="utf-8")
    out = tmp_path / "profiles.gpkg"
    assert main(["profile", "--model", str(model.folder), "--points", str(pois), "--vocabulary", str(vocabulary),
                 "--out", str(out)]) == 0
    frame = gpd.read_file(out)
    assert {"pr_a_place_to_eat", "pr_heavy_industry", "profile_top", "profile_top_score"} <= set(frame.columns)
    assert np.allclose(frame["pr_a_place_to_eat"] + frame["pr_heavy_industry"], 1.0, atol=1e-5)
    factories = frame["class"] == "factory"
    assert (frame.loc[factories, "pr_heavy_industry"].mean() > frame.loc[~factories, "pr_heavy_industry"].mean())


def test_like_this_cli_across_cities_finds_the_same_kind_of_zone(cities, tmp_path, capsys):
    from calliper.cli.main import main

    _, _, model_a = cities["a"]
    _, _, model_b = cities["b"]
    embedding = tmp_path / "b.tif"
    assert main(["raster", "--model", str(model_b.folder), "--extent", "500000,5200000,502000,5202000",
                 "--pixel-size", "50", "--out", str(embedding)]) == 0
    out = tmp_path / "like.tif"
    # the middle of city A's industrial quadrant (bottom right there)
    assert main(["similarity", "--model", str(model_b.folder), "--embedding", str(embedding), "--like-model",
                 str(model_a.folder), "--like-point", "386500,6671500", "--out", str(out)]) == 0
    with rasterio.open(out) as raster:
        values, transform = raster.read(1), raster.transform
    rows, cols = np.indices(values.shape)
    x, y = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    industrial = ((np.array(x) < 501000) & (np.array(y) > 5201000)).reshape(values.shape)
    assert np.nanmean(values[industrial]) > np.nanmean(values[~industrial]) + 0.3


def test_profile_bad_inputs_exit_2_with_a_message(cities, tmp_path, capsys):
    import shutil

    from calliper.cli.main import main

    pois_a, labels_a, model_a = cities["a"]
    _, labels_b, model_b = cities["b"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    assert main(["profile", "--model", str(model_a.folder), "--points", str(pois_a), "--vocabulary", str(empty),
                 "--out", str(tmp_path / "p.gpkg")]) == 2
    assert "has no phrases" in capsys.readouterr().err
    # a model trained with another text encoder (its card says so)
    other = tmp_path / "other_encoder"
    shutil.copytree(model_b.folder, other)
    card = json.loads((other / "card.json").read_text())
    card["text_model"] = "another-sentence-encoder"
    (other / "card.json").write_text(json.dumps(card))
    assert main(["transfer", "--source-model", str(model_a.folder), "--source-labels", str(labels_a),
                 "--target-model", str(other), "--target-labels", str(labels_b), "--label-field", "landuse",
                 "--out-dir", str(tmp_path / "t")]) == 2
    assert "different text encoders" in capsys.readouterr().err
    assert not (tmp_path / "t" / "metrics.json").exists()
    # a city whose POIs share no class with city A's
    pois_c, _ = synthetic_city(tmp_path / "c", "EPSG:3067", (385000.0, 6671000.0), ["x", "y", "x", "y"], seed=3,
                               zones={"x": ("alpha",), "y": ("beta",)})
    model_c = train(pois_c, tmp_path / "model_c", epochs=2)
    assert main(["similarity", "--model", str(model_c.folder), "--embedding", str(tmp_path / "none.tif"),
                 "--like-model", str(model_a.folder), "--like-point", "386500,6671500",
                 "--out", str(tmp_path / "l.tif")]) == 2
    assert "share no POI class" in capsys.readouterr().err
    assert not (tmp_path / "l.tif").exists()
