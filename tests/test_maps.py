"""Map outputs: embedding rasters, RGB previews, similarity maps and cluster maps on the real demo model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from calliper.core.errors import CancelledError, OutputPathError, SettingsError
from calliper.core.jobs import JobControl
from calliper.core.maps.grid import estimate_raster, grid_from_extent, write_raster_by_blocks
from calliper.core.model.inference import embed_locations, model_crs
from pyproj import CRS, Transformer

# A 1.2 x 1.0 km block of central Helsinki (EPSG:32635) holding hundreds of the demo POIs.
EXTENT = (385500.0, 6671700.0, 386700.0, 6672700.0)
PIXEL = 25.0


@pytest.fixture(scope="module")
def grid(demo_model):
    from calliper.core.maps.rasters import embedding_grid

    return embedding_grid(demo_model, EXTENT, PIXEL)


@pytest.fixture(scope="module")
def embedding_tif(demo_model, grid, tmp_path_factory) -> Path:
    from calliper.core.maps.rasters import embedding_raster

    return embedding_raster(demo_model, grid, tmp_path_factory.mktemp("maps") / "embedding.tif")


def read_band(path: Path, band: int = 1) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(band)


def test_grid_matches_the_requested_extent_and_pixel_size_in_the_model_crs(grid):
    assert grid.crs.to_epsg() == 32635
    assert grid.transform == Affine(PIXEL, 0.0, EXTENT[0], 0.0, -PIXEL, EXTENT[3])
    assert (grid.width, grid.height) == (48, 40)
    assert grid.bounds == pytest.approx(EXTENT)


def test_grid_from_a_lonlat_extent_covers_it_in_the_target_crs():
    extent = (24.93, 60.165, 24.95, 60.172)
    grid = grid_from_extent(extent, 20.0, "EPSG:32635", extent_crs="EPSG:4326")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32635", always_xy=True)
    edge = np.linspace(0, 1, 50)
    lon = np.concatenate([extent[0] + edge * (extent[2] - extent[0]), np.full(50, extent[0]), np.full(50, extent[2])])
    lat = np.concatenate([np.full(50, extent[1]), extent[1] + edge * (extent[3] - extent[1]), edge * 0 + extent[3]])
    x, y = to_utm.transform(lon, lat)
    xmin, ymin, xmax, ymax = grid.bounds
    assert grid.crs == CRS.from_epsg(32635) and grid.transform.a == 20.0 and grid.transform.e == -20.0
    assert xmin == pytest.approx(x.min()) and ymax == pytest.approx(y.max())
    assert xmax >= x.max() and ymin <= y.min() and xmax - x.max() < 20 and y.min() - ymin < 20
    assert (grid.width, grid.height) == (np.ceil((x.max() - x.min()) / 20), np.ceil((y.max() - y.min()) / 20))


def test_embedding_raster_holds_embed_locations_at_every_pixel_centre(demo_model, grid, embedding_tif):
    with rasterio.open(embedding_tif) as src:
        values = src.read()
        assert (src.count, src.width, src.height) == (128, grid.width, grid.height)
        assert src.transform == grid.transform and CRS.from_wkt(src.crs.to_wkt()) == model_crs(demo_model)
        assert src.descriptions[0] == "emb_000" and src.descriptions[-1] == "emb_127"
        assert np.isnan(src.nodata) and src.profile["tiled"] and src.compression.name == "zstd"
        tags = src.tags()
    centres = grid.pixel_centres(rasterio.windows.Window(0, 0, grid.width, grid.height))
    expected = embed_locations(demo_model, centres)
    np.testing.assert_allclose(values.reshape(128, -1).T, expected, atol=1e-5)
    assert Path(tags["calliper_model"]) == Path(demo_model.folder).absolute()
    assert "OpenStreetMap" in tags["attribution"] and "grid encoder, 128-d" in tags["calliper_model_summary"]


def test_float16_embedding_raster_stores_half_floats_close_to_float32(demo_model, grid, embedding_tif, tmp_path):
    from calliper.core.maps.rasters import embedding_raster

    half = embedding_raster(demo_model, grid, tmp_path / "half.tif", dtype="float16")
    with rasterio.open(half) as src:
        assert src.tags(1, "IMAGE_STRUCTURE").get("NBITS") == "16"
        values = src.read()
    with rasterio.open(embedding_tif) as src:
        np.testing.assert_allclose(values, src.read(), atol=2e-3)
    assert half.stat().st_size < 0.6 * embedding_tif.stat().st_size


def test_mask_layer_leaves_nodata_away_from_the_pois(demo_model, demo_data, demo_points, grid, tmp_path):
    from calliper.core.maps.rasters import embedding_raster, mask_from_layer, rgb_preview

    mask = mask_from_layer(demo_data.pois, grid, 30.0)
    masked = embedding_raster(demo_model, grid, tmp_path / "masked.tif", mask=mask)
    band = read_band(masked)
    rows, cols = grid.pixel_of(demo_points.xy)
    inside = grid.contains(rows, cols)
    assert np.isfinite(band[rows[inside], cols[inside]]).all()
    centres = grid.pixel_centres(rasterio.windows.Window(0, 0, grid.width, grid.height))
    nearest = np.min(np.hypot(*(centres[:, None, :] - demo_points.xy[None, :, :]).transpose(2, 0, 1)), axis=1)
    far = (nearest > 30.0 + PIXEL).reshape(grid.shape)
    assert far.any() and np.isnan(band[far]).all()
    rgb = rgb_preview(masked, tmp_path / "rgb.tif")
    with rasterio.open(rgb) as src:
        colours = src.read()
        assert src.dtypes == ("uint8",) * 3 and src.nodata == 0
    assert (colours[:, np.isnan(band)] == 0).all()
    assert (colours[:, np.isfinite(band)] > 0).all() and colours.std() > 20


def test_polygon_mask_keeps_exactly_the_pixels_inside_the_polygons(demo_data, grid):
    import geopandas as gpd
    from calliper.core.maps.rasters import mask_from_layer

    mask = mask_from_layer(demo_data.landuse, grid)
    polygons = gpd.read_file(demo_data.landuse).to_crs(grid.crs).geometry.make_valid()
    inside = polygons[polygons.area > 0].representative_point()  # a few OSM polygons are degenerate
    outside = np.array([[EXTENT[0] - 50_000.0, EXTENT[1]], [EXTENT[2] + 50_000.0, EXTENT[3]]])
    assert mask(np.column_stack([inside.x, inside.y])).all()
    assert not mask(outside).any()


def test_similarity_map_peaks_at_the_clicked_pixel(demo_model, grid, embedding_tif, tmp_path):
    from calliper.core.maps.similarity import location_query, similarity_raster

    row, col = 17, 29
    centre = grid.pixel_centres(rasterio.windows.Window(col, row, 1, 1))[0]
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(*centre)
    query = location_query(demo_model, (lon, lat), "EPSG:4326")
    similarity = read_band(similarity_raster(demo_model, embedding_tif, query, tmp_path / "click.tif"))
    assert similarity.shape == grid.shape
    assert np.unravel_index(similarity.argmax(), similarity.shape) == (row, col)
    assert similarity[row, col] == pytest.approx(1.0, abs=1e-4)
    assert similarity.min() < 0.5


def test_phrase_of_a_poi_class_is_most_similar_where_those_pois_are(demo_model, demo_points, grid, embedding_tif,
                                                                    tmp_path):
    from calliper.core.maps.similarity import similarity_raster, text_query

    query = text_query(demo_model, "A place of restaurant, a type of amenity")
    similarity = read_band(similarity_raster(demo_model, embedding_tif, query, tmp_path / "text.tif"))
    rows, cols = grid.pixel_of(demo_points.xy)
    inside = grid.contains(rows, cols)
    at_pois = similarity[rows[inside], cols[inside]]
    restaurant = (demo_points.attributes["class"] == "restaurant").to_numpy()[inside]
    assert restaurant.sum() > 50
    assert at_pois[restaurant].mean() > at_pois[~restaurant].mean() + 0.05


def test_feature_similarity_uses_the_representative_point(demo_model, demo_data):
    import geopandas as gpd
    from calliper.core.maps.similarity import feature_query

    landuse = gpd.read_file(demo_data.landuse, fid_as_index=True)
    fid = landuse.index[0]
    query = feature_query(demo_model, demo_data.landuse, fid)
    point = landuse.geometry.loc[[fid]].representative_point().iloc[0]
    assert landuse.geometry.loc[fid].contains(point)
    expected = embed_locations(demo_model, [[point.x, point.y]], landuse.crs)[0]
    np.testing.assert_allclose(query.vector, expected, atol=1e-6)


def test_cancelled_raster_write_leaves_no_file(grid, tmp_path):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    out = tmp_path / "cancelled.tif"
    small = grid_from_extent(EXTENT, 5.0, grid.crs)  # 240 x 200 pixels: 4 blocks of 128
    with pytest.raises(CancelledError):
        write_raster_by_blocks(small, out, 2, lambda xy: xy, control=JobControl(is_cancelled=cancelled),
                               block_size=128)
    assert len(calls) == 4
    assert list(tmp_path.iterdir()) == []


def test_zero_pixel_extent_and_pixel_larger_than_extent_are_refused():
    with pytest.raises(SettingsError, match="385500, 6671700, 385500, 6672700 has no area"):
        grid_from_extent((385500, 6671700, 385500, 6672700), 10.0, "EPSG:32635")
    with pytest.raises(SettingsError, match="pixel size 2000 is larger than the extent .1200 x 1000"):
        grid_from_extent(EXTENT, 2000.0, "EPSG:32635")
    with pytest.raises(SettingsError, match="positive"):
        grid_from_extent(EXTENT, 0.0, "EPSG:32635")


def test_raster_larger_than_the_free_disk_is_refused_before_writing(tmp_path):
    huge = grid_from_extent((0, 0, 4e6, 4e6), 1.0, "EPSG:32635")
    assert estimate_raster(huge, 128, "float32").bytes_uncompressed == 16 * 10**12 * 128 * 4
    with pytest.raises(SettingsError, match="would not fit on the disk: 16,000,000,000,000 pixels x 128"):
        write_raster_by_blocks(huge, tmp_path / "huge.tif", 128, lambda xy: xy)
    assert list(tmp_path.iterdir()) == []


def test_existing_outputs_are_kept_without_overwrite(demo_model, grid, embedding_tif, tmp_path):
    from calliper.core.maps.clusters import cluster_raster
    from calliper.core.maps.rasters import embedding_raster, rgb_preview
    from calliper.core.maps.similarity import similarity_raster, text_query

    existing = tmp_path / "exists.tif"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputPathError, match="already exists"):
        embedding_raster(demo_model, grid, existing)
    with pytest.raises(OutputPathError):
        rgb_preview(embedding_tif, existing)
    with pytest.raises(OutputPathError):
        similarity_raster(demo_model, embedding_tif, text_query(demo_model, "cafe"), existing)
    with pytest.raises(OutputPathError):
        cluster_raster(embedding_tif, existing, demo_model)
    assert existing.read_bytes() == b"keep me"


def test_cluster_legend_names_clusters_by_the_models_poi_classes(demo_model, embedding_tif, tmp_path):
    from calliper.core.maps.clusters import CLUSTER_NODATA, ClusterSettings, cluster_raster

    result = cluster_raster(embedding_tif, tmp_path / "clusters.tif", demo_model, ClusterSettings(k=4, seed=1))
    classes = set(demo_model.card.training["top_classes"])
    assert len(result.legend) == 4
    assert all(len(entry.names) == 3 and set(entry.names) <= classes for entry in result.legend)
    assert len({entry.label for entry in result.legend}) == 4
    assert sum(entry.share for entry in result.legend) == pytest.approx(1.0, abs=1e-3)
    with rasterio.open(result.raster) as src:
        values = src.read(1)
        assert src.nodata == CLUSTER_NODATA and src.colormap(1)[0][:3] == (228, 26, 28)
        tags = src.tags()
    assert set(np.unique(values)) == {0, 1, 2, 3}
    assert np.bincount(values.ravel())[0] == np.bincount(values.ravel()).max()  # sorted by size
    assert json.loads(tags["classes"])["0"] == result.legend[0].label == tags["class_0"]
    legend = json.loads(result.legend_file.read_text())
    assert [entry["label"] for entry in legend["legend"]] == [entry.label for entry in result.legend]
    assert f'label="{result.legend[0].label}"' in result.style_file.read_text()


def test_cli_makes_raster_rgb_similarity_and_cluster_files(demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    emb, rgb = tmp_path / "emb.tif", tmp_path / "rgb.tif"
    assert main(["raster", "--model", str(demo_model.folder), "--extent", "24.94,60.166,24.95,60.17",
                 "--extent-crs", "EPSG:4326", "--pixel-size", "30", "--out", str(emb), "--rgb", str(rgb)]) == 0
    assert main(["similarity", "--model", str(demo_model.folder), "--embedding", str(emb),
                 "--point", "24.945,60.168", "--point-crs", "EPSG:4326", "--out", str(tmp_path / "click.tif")]) == 0
    assert main(["similarity", "--model", str(demo_model.folder), "--embedding", str(emb), "--phrase-map", "model",
                 "--text", "nightlife", "--out", str(tmp_path / "text.tif")]) == 0
    assert main(["similarity", "--model", str(demo_model.folder), "--embedding", str(emb),
                 "--text", "nightlife", "--out", str(tmp_path / "phrase.tif")]) == 0
    assert main(["cluster", "--embedding", str(emb), "--k", "3", "--out", str(tmp_path / "clusters.tif")]) == 0
    printed = capsys.readouterr().out
    assert "Embedding raster written" in printed and "Cluster map written" in printed
    assert "Phrase map of 'nightlife' (evidence) written" in printed
    with rasterio.open(emb) as src:
        assert src.count == 128 and src.crs.to_epsg() == 32635 and src.res == (30.0, 30.0)
        shape = (src.height, src.width)
    with rasterio.open(rgb) as src:
        assert src.count == 3 and (src.height, src.width) == shape
    for name in ("click", "text"):
        values = read_band(tmp_path / f"{name}.tif")
        assert values.shape == shape and np.isfinite(values).all() and -1.0 <= values.min() < values.max() <= 1.0
    phrase = read_band(tmp_path / "phrase.tif")
    assert phrase.shape == shape and np.isfinite(phrase).all() and phrase.std() > 0
    assert set(np.unique(read_band(tmp_path / "clusters.tif"))) == {0, 1, 2}
    assert (tmp_path / "clusters.json").exists() and (tmp_path / "clusters.qml").exists()


def test_cli_raster_over_a_layer_extent_with_a_mask_in_half_floats(demo_model, demo_data, demo_points, tmp_path):
    from calliper.cli.main import main

    out = tmp_path / "masked.tif"
    assert main(["raster", "--model", str(demo_model.folder), "--extent-layer", str(demo_data.pois),
                 "--pixel-size", "40", "--float16", "--mask-layer", str(demo_data.pois), "--mask-buffer", "40",
                 "--out", str(out)]) == 0
    with rasterio.open(out) as src:
        band = src.read(1)
        left, bottom, right, top = src.bounds
        assert src.tags(1, "IMAGE_STRUCTURE").get("NBITS") == "16" and src.res == (40.0, 40.0)
    (xmin, ymin), (xmax, ymax) = demo_points.xy.min(axis=0), demo_points.xy.max(axis=0)
    assert (left, top) == pytest.approx((xmin, ymax)) and right >= xmax and bottom <= ymin
    assert 0.05 < np.isnan(band).mean() < 0.95


def test_cli_bad_input_prints_one_line_and_returns_2(demo_model, embedding_tif, tmp_path, capsys):
    from calliper.cli.main import main

    model = str(demo_model.folder)
    assert main(["raster", "--model", model, "--extent", "385500,6671700,385500", "--pixel-size", "20",
                 "--out", str(tmp_path / "a.tif")]) == 2
    assert "--extent needs 4 comma-separated numbers" in capsys.readouterr().err
    assert main(["raster", "--model", model, "--extent", ",".join(map(str, EXTENT)), "--pixel-size", "5000",
                 "--out", str(tmp_path / "a.tif")]) == 2
    assert main(["similarity", "--model", model, "--embedding", str(tmp_path / "missing.tif"), "--text", "cafe",
                 "--out", str(tmp_path / "b.tif")]) == 2
    assert main(["cluster", "--embedding", str(embedding_tif), "--k", "1", "--out", str(tmp_path / "c.tif")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("calliper: error: ") for line in errors)
    assert list(tmp_path.iterdir()) == []


def test_cli_similarity_to_a_feature_peaks_at_that_feature(demo_model, demo_data, tmp_path):
    import geopandas as gpd
    import rasterio
    from calliper.cli.main import main

    frame = gpd.read_file(demo_data.pois, fid_as_index=True)  # feature ids are the layer's fids, as in QGIS
    x, y = frame.geometry.loc[5].x, frame.geometry.loc[5].y
    emb, out = tmp_path / "emb.tif", tmp_path / "sim.tif"
    extent = f"{x - 315},{y - 315},{x + 315},{y + 315}"  # 21 x 21 pixels of 30 m: the feature is a pixel centre
    assert main(["raster", "--model", str(demo_model.folder), "--extent", extent, "--pixel-size", "30", "--out", str(emb)]) == 0
    assert main(["similarity", "--model", str(demo_model.folder), "--embedding", str(emb),
                 "--feature-layer", str(demo_data.pois), "--feature-id", "5", "--out", str(out)]) == 0
    with rasterio.open(out) as src:
        values = src.read(1)
        row, col = np.unravel_index(np.nanargmax(values), values.shape)
        assert src.index(x, y) == (row, col)
    assert main(["similarity", "--model", str(demo_model.folder), "--embedding", str(emb),
                 "--feature-layer", str(demo_data.pois), "--out", str(tmp_path / "x.tif")]) == 2


def test_the_model_folder_keeps_its_training_pois_positions_and_text_ids(trained, demo_points):
    from calliper.core.model.evidence import EVIDENCE_FILE, load_evidence

    evidence = load_evidence(trained.folder)
    assert (trained.folder / EVIDENCE_FILE).stat().st_size < 64 * len(demo_points.xy)  # compact: ~20 bytes a POI
    assert evidence.xy.shape == (trained.card.training["n_pois"], 2) and evidence.text_index.dtype == np.int32
    assert CRS.from_wkt(evidence.crs_wkt).to_epsg() == 32635
    np.testing.assert_allclose(evidence.xy, demo_points.xy[: len(evidence.xy)], atol=1e-6)  # same POIs, same order
    assert evidence.text_index.max() + 1 == trained.card.training["n_distinct_texts"]
    assert 100 <= evidence.default_distance() <= 2000 and evidence.default_distance() % 50 == 0
    kept = demo_points.attributes.iloc[: len(evidence.xy)]
    assert [evidence.classes[i] for i in evidence.class_index[:50]] == list(kept["class"].astype(str)[:50])
    assert evidence.names[:50] == [str(n) if n is not None else "" for n in kept["name"][:50]]
    assert sum(evidence.class_counts().values()) == len(evidence.xy)


def test_maps_by_default_leave_pixels_far_from_every_training_poi_nodata(demo_model, demo_points, tmp_path):
    from calliper.core.maps.rasters import embedding_grid, embedding_raster, raster_mask
    from calliper.core.model.evidence import load_evidence
    from scipy.spatial import cKDTree

    (xmin, ymin), (xmax, ymax) = demo_points.xy.min(axis=0), demo_points.xy.max(axis=0)
    grid = embedding_grid(demo_model, (xmin - 3000, ymin - 3000, xmax + 3000, ymax + 3000), 100.0)
    mask, key = raster_mask(demo_model, grid)
    distance = load_evidence(demo_model.folder).default_distance()
    assert key == f"within {distance:g} m of the training POIs"
    values = read_band(embedding_raster(demo_model, grid, tmp_path / "emb.tif", mask=mask))
    rows, cols = np.indices(values.shape)
    centres = np.column_stack(rasterio.transform.xy(grid.transform, rows.ravel(), cols.ravel()))
    near = cKDTree(demo_points.xy).query(centres)[0].reshape(values.shape) <= distance
    assert near.any() and (~near).sum() > near.sum()  # the margin is mostly far from every POI
    assert np.array_equal(np.isfinite(values), near)
    whole, _ = raster_mask(demo_model, grid, whole_extent=True)
    assert whole is None


def test_cli_raster_maps_near_the_pois_by_default_and_everything_with_whole_extent(demo_model, tmp_path, capsys):
    from calliper.cli.main import main

    extent = ["--extent", "382000,6668000,390000,6676000", "--pixel-size", "200"]
    assert main(["raster", "--model", str(demo_model.folder), *extent, "--out", str(tmp_path / "near.tif")]) == 0
    assert "Pixels computed: within " in capsys.readouterr().err
    assert main(["raster", "--model", str(demo_model.folder), *extent, "--whole-extent",
                 "--out", str(tmp_path / "whole.tif")]) == 0
    near, whole = read_band(tmp_path / "near.tif"), read_band(tmp_path / "whole.tif")
    assert np.isfinite(whole).all() and 0 < np.isfinite(near).sum() < near.size / 4
    assert main(["raster", "--model", str(demo_model.folder), *extent, "--whole-extent", "--near-pois", "300",
                 "--out", str(tmp_path / "both.tif")]) == 2
