"""MMGR region embeddings from imagery + POIs: tiles, augmentations, loss, training, model folder, maps.

The image is the demo city's real OSM data drawn as a 4-band raster (no aerial
imagery of it ships in a package); the POIs are the demo POIs. Training is tiny
(small tiles, a narrow CNN, a few epochs): enough to measure that a tile finds its
own POI set, not enough to be a good model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import torch

TILE_METRES, TILE_PIXELS = 48.0, 16


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    from calliper.core.imagery.osm_render import render_osm_image

    return render_osm_image(tmp_path_factory.mktemp("imagery") / "helsinki_osm.tif", pixel_size=1.0)


@pytest.fixture(scope="module")
def mmgr(image, demo_points, tmp_path_factory):
    """A small MMGR model trained for a few epochs on the rendered image and the demo POIs."""
    from calliper.core.imagery.tiles import ImagerySettings
    from calliper.core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
    from calliper.core.text.descriptions import TextFields

    job = MMGRJob(
        image=image.path, points=demo_points, fields=TextFields("class", "category"),
        out=tmp_path_factory.mktemp("mmgr") / "model",
        imagery=ImagerySettings(tile_metres=TILE_METRES, tile_pixels=TILE_PIXELS),
        train=MMGRTrainSettings(epochs=25, batch_size=64, seed=3, cpu_threads=1), embed_dim=32, width=8,
    )
    return train_mmgr(job)


@pytest.fixture(scope="module")
def region(mmgr, tmp_path_factory):
    from calliper.core.imagery.region_maps import write_region_raster

    return write_region_raster(mmgr.model, mmgr.tiles, mmgr.embeddings, tmp_path_factory.mktemp("region") / "region.tif")


def tile_bounds(grid) -> np.ndarray:
    """(rows * cols, 4) xmin, ymin, xmax, ymax of every tile, computed from the transform cell by cell."""
    size = grid.transform.a
    xmin, _, _, ymax = grid.bounds
    rows, cols = np.divmod(np.arange(grid.width * grid.height), grid.width)
    left, top = xmin + cols * size, ymax - rows * size
    return np.column_stack([left, top - size, left + size, top])


def test_tile_grid_covers_the_common_extent_of_image_and_pois_exactly_once(image, demo_points):
    from calliper.core.crs import to_crs
    from calliper.core.imagery.tiles import open_image, tile_grid

    with open_image(image.path) as dataset:
        grid = tile_grid(dataset, demo_points.xy, demo_points.crs, TILE_METRES)
        image_bounds = dataset.bounds
    xy = to_crs(demo_points.xy, demo_points.crs, grid.crs)
    extent = (max(image_bounds.left, xy[:, 0].min()), max(image_bounds.bottom, xy[:, 1].min()),
              min(image_bounds.right, xy[:, 0].max()), min(image_bounds.top, xy[:, 1].max()))
    points = np.random.default_rng(0).uniform(extent[:2], extent[2:], size=(5000, 2))
    boxes = tile_bounds(grid)
    inside = ((points[:, None, 0] >= boxes[None, :, 0]) & (points[:, None, 0] < boxes[None, :, 2])
              & (points[:, None, 1] >= boxes[None, :, 1]) & (points[:, None, 1] < boxes[None, :, 3]))
    assert (inside.sum(axis=1) == 1).all()
    left, bottom, right, top = grid.bounds
    assert left == pytest.approx(extent[0]) and top == pytest.approx(extent[3])
    assert 0 <= right - extent[2] < TILE_METRES and 0 <= extent[1] - bottom < TILE_METRES


def test_tiles_hold_the_image_pixels_under_them_normalised_by_band_statistics(image):
    from calliper.core.imagery.tiles import ImagerySettings, open_image, read_tiles
    from calliper.core.maps.grid import grid_from_extent
    from rasterio.windows import from_bounds

    settings = ImagerySettings(bands=(1, 4), tile_metres=32.0, tile_pixels=32)  # 1 m pixels: no resampling
    with open_image(image.path) as dataset:
        grid = grid_from_extent(tuple(dataset.bounds), settings.tile_metres, dataset.crs.to_wkt())
        tiles, statistics = read_tiles(dataset, grid, settings)
        everything = dataset.read([1, 4]).astype(np.float64)
        boxes = tile_bounds(grid)[tiles.index]
        whole = np.flatnonzero((boxes[:, 2] <= dataset.bounds.right) & (boxes[:, 1] >= dataset.bounds.bottom))
        for position in whole[[0, len(whole) // 2, -1]]:
            raw = dataset.read([1, 4], window=from_bounds(*boxes[position], dataset.transform)).astype(np.float32)
            np.testing.assert_allclose(tiles.pixels[position], statistics.normalise(raw), atol=2e-2)
    np.testing.assert_allclose(statistics.mean, everything.reshape(2, -1).mean(axis=1), rtol=1e-3)
    np.testing.assert_allclose(statistics.std, everything.reshape(2, -1).std(axis=1), rtol=1e-3)
    assert tiles.pixels.shape[1:] == (2, 32, 32) and tiles.pixels.dtype == np.float16


def test_tiles_without_data_are_skipped_and_counted(image, demo_points, tmp_path):
    from calliper.core.imagery.tiles import ImagerySettings, open_image, read_tiles, tile_grid

    nodata = 7
    with rasterio.open(image.path) as src:
        profile, values = src.profile, src.read()
    # the western 300 m become nodata
    values[:, :, :300] = nodata
    holed = tmp_path / "holed.tif"
    with rasterio.open(holed, "w", **{**profile, "nodata": nodata, "photometric": "minisblack"}) as dst:  # band 4 is data
        dst.write(values)
    settings = ImagerySettings(tile_metres=50.0, tile_pixels=25)
    with open_image(holed) as dataset:
        grid = tile_grid(dataset, demo_points.xy, demo_points.crs, settings.tile_metres)
        tiles, _ = read_tiles(dataset, grid, settings)
        left, bottom, right, top = dataset.bounds
    # a tile is kept when at least half of it lies on data: east of the hole and inside the image
    boxes = tile_bounds(grid)
    on_x = (np.minimum(boxes[:, 2], right) - np.maximum(boxes[:, 0], left + 300)).clip(min=0)
    on_y = (np.minimum(boxes[:, 3], top) - np.maximum(boxes[:, 1], bottom)).clip(min=0)
    expected = np.flatnonzero(on_x * on_y >= 0.5 * settings.tile_metres**2)
    np.testing.assert_array_equal(tiles.index, expected)
    assert tiles.skipped == grid.width * grid.height - len(expected) and tiles.skipped > grid.height


def test_alpha_band_masks_pixels_and_is_not_read_as_a_band(image, demo_points, tmp_path):
    from calliper.core.imagery.tiles import ImagerySettings, chosen_bands, open_image, read_tiles, tile_grid
    from rasterio.enums import ColorInterp

    with rasterio.open(image.path) as src:
        profile, values = src.profile, src.read()
    alpha = np.full(values.shape[1:], 255, dtype=values.dtype)
    alpha[:, :300] = 0  # the western 300 m are transparent
    rgba = tmp_path / "rgba.tif"
    with rasterio.open(rgba, "w", **{**profile, "count": 5, "nodata": None}) as dst:
        dst.write(np.concatenate([values, alpha[None]]))
        dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.gray, ColorInterp.alpha]
    settings = ImagerySettings(tile_metres=50.0, tile_pixels=25)
    with open_image(rgba) as dataset, open_image(image.path) as opaque:
        assert chosen_bands(dataset, None) == [1, 2, 3, 4]
        grid = tile_grid(dataset, demo_points.xy, demo_points.crs, settings.tile_metres)
        tiles, _ = read_tiles(dataset, grid, settings)
        everything, _ = read_tiles(opaque, grid, settings)
        transparent_edge = dataset.bounds.left + 300
    assert tiles.pixels.shape[1] == 4
    boxes = tile_bounds(grid)
    centres = (boxes[tiles.index, 0] + boxes[tiles.index, 2]) / 2
    assert centres.min() >= transparent_edge - settings.tile_metres / 2  # mostly transparent tiles were skipped
    assert (boxes[everything.index, 2] < transparent_edge).any()  # where the opaque image keeps tiles
    assert tiles.skipped > everything.skipped + grid.height // 2


def test_an_image_in_degrees_is_tiled_in_its_utm_zone_like_the_projected_image(image, demo_points, tmp_path):
    from calliper.core.imagery.tiles import ImagerySettings, image_crs, open_image, read_tiles, tile_grid
    from rasterio.warp import calculate_default_transform, reproject

    with rasterio.open(image.path) as src:
        transform, width, height = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        degrees = tmp_path / "lonlat.tif"
        with rasterio.open(degrees, "w", **{**src.profile, "crs": "EPSG:4326", "transform": transform,
                                            "width": width, "height": height, "nodata": None,
                                            "photometric": "minisblack"}) as dst:
            for band in range(1, src.count + 1):
                reproject(rasterio.band(src, band), rasterio.band(dst, band), resampling=rasterio.enums.Resampling.bilinear)
    settings = ImagerySettings(tile_metres=64.0, tile_pixels=16)
    with open_image(image.path) as projected, open_image(degrees) as warped:
        assert image_crs(warped).to_epsg() == 32635  # Helsinki's UTM zone, the demo image's own CRS
        assert warped.count == 5 and warped.colorinterp[-1].name == "alpha"  # where the source has no pixels
        grid = tile_grid(projected, demo_points.xy, demo_points.crs, settings.tile_metres)
        reference, _ = read_tiles(projected, grid, settings)
        tiles, _ = read_tiles(warped, grid, settings)
    assert tiles.pixels.shape[1] == 4
    shared, ours, theirs = np.intersect1d(tiles.index, reference.index, return_indices=True)
    assert len(shared) > 0.8 * len(reference.index)
    a = tiles.pixels[ours].astype(np.float64).mean(axis=(2, 3))
    b = reference.pixels[theirs].astype(np.float64).mean(axis=(2, 3))
    for band in range(4):  # tile means survive the round trip through degrees
        assert np.corrcoef(a[:, band], b[:, band])[0, 1] > 0.95


def test_tiles_beyond_the_memory_limit_go_to_an_unnamed_scratch_file_with_the_same_values(image, demo_points, tmp_path,
                                                                                         monkeypatch):
    from calliper.core.imagery import tiles as imagery
    from calliper.core.jobs import JobControl

    settings = imagery.ImagerySettings(tile_metres=64.0, tile_pixels=16)
    with imagery.open_image(image.path) as dataset:
        grid = imagery.tile_grid(dataset, demo_points.xy, demo_points.crs, settings.tile_metres)
        in_memory, _ = imagery.read_tiles(dataset, grid, settings)
        monkeypatch.setattr(imagery, "TILES_IN_MEMORY_BYTES", 0)
        logged: list[str] = []
        on_disk, _ = imagery.read_tiles(dataset, grid, settings, control=JobControl(log=logged.append),
                                        scratch_dir=tmp_path)
    assert isinstance(on_disk.pixels, np.memmap) and not isinstance(in_memory.pixels, np.memmap)
    np.testing.assert_array_equal(on_disk.pixels, in_memory.pixels)
    np.testing.assert_array_equal(on_disk.index, in_memory.index)
    assert any("scratch file" in line for line in logged)
    assert list(tmp_path.iterdir()) == []  # the file has no name: nothing to clean up, even after a crash


def test_a_finer_image_is_averaged_into_tile_pixels_not_aliased(image, tmp_path):
    from calliper.core.imagery.tiles import ImagerySettings, open_image, read_tiles
    from calliper.core.maps.grid import grid_from_extent
    from rasterio.transform import from_origin

    with rasterio.open(image.path) as src:
        left, top, crs = src.bounds.left, src.bounds.top, src.crs
    rows, cols = np.indices((1024, 1024))
    checkerboard = np.where((rows + cols) % 2, 100, 0).astype(np.uint8)  # 25 cm squares
    fine = tmp_path / "fine.tif"
    with rasterio.open(fine, "w", driver="GTiff", width=1024, height=1024, count=1, dtype="uint8", crs=crs,
                       transform=from_origin(left, top, 0.25, 0.25)) as dst:
        dst.write(checkerboard, 1)
    settings = ImagerySettings(tile_metres=32.0, tile_pixels=32)  # 1 m tile pixels: 16 squares each
    with open_image(fine) as dataset:
        grid = grid_from_extent(tuple(dataset.bounds), settings.tile_metres, dataset.crs.to_wkt())
        tiles, statistics = read_tiles(dataset, grid, settings)
    assert statistics.std[0] > 40  # the squares are there
    assert len(tiles.index) == 64 and np.abs(tiles.pixels.astype(np.float32)).max() < 0.05  # each pixel is their mean


def test_augmented_views_keep_shape_and_take_pixels_only_from_their_own_tile():
    from calliper.core.imagery.augment import AugmentSettings, augment

    generator = torch.Generator().manual_seed(0)
    batch = torch.arange(6, dtype=torch.float32)[:, None, None, None].expand(6, 3, 20, 20).clone()
    batch[:, :, :5, :] += 100  # a band at the top of every tile: rotations move it
    views = augment(batch, AugmentSettings(scale_jitter=0.0, offset_jitter=0.0), generator)
    assert views.shape == batch.shape and views.dtype == batch.dtype
    for i in range(6):  # every value of view i is a mix of tile i's two values only
        assert views[i].min() >= i - 1e-5 and views[i].max() <= i + 100 + 1e-5
    turned = augment(batch, AugmentSettings(min_crop=1.0, scale_jitter=0.0, offset_jitter=0.0), generator)
    np.testing.assert_array_equal(np.sort(turned.numpy().reshape(6, -1)), np.sort(batch.numpy().reshape(6, -1)))
    assert not torch.equal(turned, batch)  # some tile was turned or mirrored
    jittered = augment(batch, AugmentSettings(), generator)
    assert jittered.shape == batch.shape and not torch.allclose(jittered, views)


def _hand_info_nce(a: np.ndarray, b: np.ndarray, temperature: float) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / temperature
    rows = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(axis=1)))
    cols = -np.mean(np.diag(logits) - np.log(np.exp(logits).sum(axis=0)))
    return 0.5 * (rows + cols)


def test_loss_is_half_intra_plus_half_inter_infonce_as_computed_by_hand():
    import torch.nn.functional as F
    from calliper.core.imagery.loss import LossWeights, mmgr_loss

    rng = np.random.default_rng(1)
    view_a, view_b, pois, calliper = (F.normalize(torch.from_numpy(rng.normal(size=(4, 5))), dim=-1) for _ in range(4))
    has_pois = torch.tensor([True, True, False, True])
    total, terms = mmgr_loss(view_a, view_b, pois, has_pois, LossWeights())
    a, b, p = view_a.numpy(), view_b.numpy(), pois.numpy()
    intra = _hand_info_nce(a, b, 0.5)
    inter = _hand_info_nce(a[[0, 1, 3]], p[[0, 1, 3]], 0.5)  # the tile without POIs sits the inter term out
    assert float(total) == pytest.approx(0.5 * intra + 0.5 * inter, rel=1e-6)
    assert terms == pytest.approx({"intra": intra, "inter": inter}, rel=1e-6)
    tied, terms = mmgr_loss(view_a, view_b, pois, has_pois, LossWeights(tie=0.25, temperature=0.1), calliper)
    expected = 0.5 * _hand_info_nce(a, b, 0.1) + 0.5 * _hand_info_nce(a[[0, 1, 3]], p[[0, 1, 3]], 0.1) \
        + 0.25 * _hand_info_nce(a, calliper.numpy(), 0.1)
    assert float(tied) == pytest.approx(expected, rel=1e-6) and set(terms) == {"intra", "inter", "tie"}


def test_set_pooling_ignores_padding_and_gives_every_empty_set_one_vector():
    from calliper.core.imagery.model import PoiSetEncoder

    torch.manual_seed(0)
    encoder = PoiSetEncoder(text_dim=6, embed_dim=4, steps=3).eval()
    members = torch.randn(3, 5, 6)
    mask = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    out = encoder(members, mask)
    trimmed = encoder(members[:1, :2], mask[:1, :2])
    torch.testing.assert_close(out[0], trimmed[0])
    torch.testing.assert_close(out[1], out[2])  # two different paddings, both empty
    assert torch.isfinite(out).all() and not torch.allclose(out[0], out[1])
    shuffled = encoder(members[:1, [1, 0]], mask[:1, :2])
    torch.testing.assert_close(shuffled[0], trimmed[0])  # a set has no order


def test_training_brings_each_tile_closer_to_its_own_poi_set_than_to_others(mmgr):
    from calliper.core.imagery.model import MMGRNet
    from calliper.core.imagery.train import embed_poi_sets, embed_tiles, poi_match

    match = mmgr.card.metrics["poi_match"]
    with_pois = np.flatnonzero(mmgr.poi_sets.sizes > 0)
    torch.manual_seed(3)
    untrained = MMGRNet(mmgr.card.settings)
    before = poi_match(embed_tiles(untrained, mmgr.tiles.pixels[with_pois]),
                       embed_poi_sets(untrained, mmgr.poi_sets, with_pois, 32))
    assert match["own_similarity"] - match["other_similarity"] > 0.1
    assert match["own_similarity"] - match["other_similarity"] > 2 * (before["own_similarity"] - before["other_similarity"])
    assert match["top1"] > 5 * match["chance_top1"] and match["mean_rank"] < 0.6 * before["mean_rank"]
    history = mmgr.card.metrics["history"]
    assert history[-1]["loss"] < history[0]["loss"] and {"intra", "inter"} <= set(history[0])


def test_region_raster_is_the_tile_grid_with_each_tile_embedding(mmgr, region, image):
    from calliper.core.maps.rasters import TAG_KIND, TAG_MODEL, EmbeddingReader

    grid = mmgr.tiles.grid
    with rasterio.open(region) as src:
        assert src.crs.to_epsg() == 32635 and src.transform == grid.transform
        assert (src.width, src.height, src.count) == (grid.width, grid.height, 32)
        assert src.descriptions[0] == "emb_000" and src.tags()[TAG_KIND] == "embedding"
        assert src.tags()[TAG_MODEL] == str(mmgr.folder.absolute())
        values = src.read()
    rows, cols = np.divmod(mmgr.tiles.index, grid.width)
    np.testing.assert_allclose(values[:, rows, cols].T, mmgr.embeddings, atol=1e-6)
    skipped = np.ones(grid.width * grid.height, dtype=bool)
    skipped[mmgr.tiles.index] = False
    assert np.isnan(values.reshape(32, -1)[:, skipped]).all() and skipped.sum() == mmgr.tiles.skipped
    with EmbeddingReader(region) as reader:  # the reader of CaLLiPer rasters looks tiles up by their centres
        np.testing.assert_allclose(reader.vectors_at(mmgr.tiles.centres), mmgr.embeddings, atol=1e-6)


def test_saved_model_reproduces_the_embeddings_on_the_image(mmgr, region, image, tmp_path):
    from calliper.core.imagery.files import load_mmgr
    from calliper.core.imagery.region_maps import region_raster

    model = load_mmgr(mmgr.folder)
    assert model.card.imagery["bands"] == [1, 2, 3, 4] and len(model.card.imagery["mean"]) == 4
    out = region_raster(model, image.path, tmp_path / "again.tif")
    with rasterio.open(out) as again, rasterio.open(region) as first:
        # the model tiles the whole image; the training grid is its part under the POIs
        column, row = ~again.transform * (first.transform.c + 1e-6, first.transform.f - 1e-6)
        window = rasterio.windows.Window(int(column), int(row), first.width, first.height)
        np.testing.assert_allclose(again.read(window=window), first.read(), atol=1e-4)


def test_model_folders_are_checked_by_format(mmgr, trained, tmp_path):
    from calliper.core.errors import ModelFileError
    from calliper.core.imagery.files import load_mmgr

    with pytest.raises(ModelFileError, match="not an MMGR model folder"):
        load_mmgr(trained.folder)
    broken = tmp_path / "broken"
    broken.mkdir()
    card = json.loads((mmgr.folder / "card.json").read_text())
    (broken / "card.json").write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(ModelFileError, match=r"newer Calliper \(model format 99\).*Update the Calliper plugin"):
        load_mmgr(broken)
    (broken / "card.json").write_text(json.dumps({**card, "format_version": 0}))
    with pytest.raises(ModelFileError, match="Retrain"):
        load_mmgr(broken)


def test_phrase_and_point_similarity_and_named_clusters_on_the_region_raster(mmgr, region, tmp_path):
    from calliper.core.imagery.region_maps import cluster_namer_for, embed_phrases, mmgr_text_query
    from calliper.core.maps.clusters import ClusterSettings, cluster_raster
    from calliper.core.maps.similarity import raster_point_query, similarity_raster

    model = mmgr.model
    query = mmgr_text_query(model, "A place of restaurant, a type of amenity")
    out = similarity_raster(None, region, query, tmp_path / "restaurant.tif")
    with rasterio.open(out) as src:
        similarity = src.read(1)
    rows, cols = np.divmod(mmgr.tiles.index, mmgr.tiles.grid.width)
    np.testing.assert_allclose(similarity[rows, cols], mmgr.embeddings @ query.vector, atol=1e-5)
    np.testing.assert_allclose(embed_phrases(model, ["x"]) @ embed_phrases(model, ["x"]).T, [[1.0]], atol=1e-5)

    others = mmgr.embeddings @ mmgr.embeddings.T
    np.fill_diagonal(others, -np.inf)
    distinct = int(others.max(axis=1).argmin())  # the tile least like any other: the map's only peak
    x, y = mmgr.tiles.centres[distinct]
    point = similarity_raster(None, region, raster_point_query(region, (x, y)), tmp_path / "point.tif")
    with rasterio.open(point) as src:
        values = src.read(1)
    assert np.unravel_index(np.nanargmax(values), values.shape) == (rows[distinct], cols[distinct])
    assert np.nanmax(values) == pytest.approx(1.0, abs=1e-5)

    result = cluster_raster(region, tmp_path / "clusters.tif", cluster_namer_for(mmgr.folder), ClusterSettings(k=3))
    classes = set(mmgr.card.training["top_classes"])
    assert len(result.legend) == 3 and all(set(entry.names) <= classes for entry in result.legend)
    plain = cluster_raster(region, tmp_path / "plain.tif", None, ClusterSettings(k=3))
    assert [entry.label for entry in plain.legend] == ["cluster 0", "cluster 1", "cluster 2"]


def test_cluster_command_names_a_region_raster_with_the_mmgr_model_recorded_in_it(mmgr, region, tmp_path, capsys):
    from calliper.cli.main import main

    assert main(["cluster", "--embedding", str(region), "--k", "3", "--out", str(tmp_path / "clusters.tif")]) == 0
    legend = json.loads((tmp_path / "clusters.json").read_text())
    entries = legend["legend"] if isinstance(legend, dict) else legend
    classes = set(mmgr.card.training["top_classes"])
    assert len(entries) == 3 and all(set(entry["names"]) <= classes and entry["names"] for entry in entries)
    assert "Cluster map written" in capsys.readouterr().out


def test_landuse_study_scores_region_embeddings_alone_and_concatenated_with_calliper(
    mmgr, region, demo_model, demo_data, tmp_path
):
    from calliper.core.landuse.labels import LabelSettings, load_labels
    from calliper.core.landuse.probes import ProbeSettings
    from calliper.core.landuse.study import ClassifySettings, classify
    from calliper.core.landuse.unit_features import CalliperFeatures, ConcatFeatures, RasterFeatures, embed_units

    settings = ClassifySettings(labels=LabelSettings(min_class_size=10), probe=ProbeSettings(seeds=(42, 24)))
    alone = RasterFeatures(region)
    assert str(alone.pois) == mmgr.card.training["source"] and alone.poi_class_field == "class"
    result = classify(alone, demo_data.landuse, "landuse", tmp_path / "mmgr", settings)
    shape_methods = {"geometry", "geometry_coords", "geometry_coords_poi_counts", "geometry_poi_counts", "trees",
                     "ensemble"}
    assert set(result.metrics["methods"]) == {"mmgr", "coords_only", "poi_counts", "mmgr_poi_counts", "mmgr_pooled",
                                              "geometry_mmgr", "geometry_mmgr_poi_counts",
                                              "geometry_coords_poi_counts_mmgr", "ensemble_mmgr"} | shape_methods
    assert result.metrics["model"] == str(mmgr.folder.absolute())
    fused = ConcatFeatures([alone, CalliperFeatures(demo_model)])
    both = classify(fused, demo_data.landuse, "landuse", tmp_path / "fused", settings)
    assert set(both.metrics["methods"]) == {"mmgr+calliper", "coords_only", "poi_counts", "mmgr+calliper_poi_counts",
                                            "mmgr+calliper_pooled", "geometry_mmgr+calliper",
                                            "geometry_mmgr+calliper_poi_counts",
                                            "geometry_coords_poi_counts_mmgr+calliper", "ensemble_mmgr+calliper"} | shape_methods
    assert 0.0 <= both.metrics["methods"]["mmgr+calliper"]["macro_f1"]["mean"] <= 1.0

    labels = load_labels(demo_data.landuse, "class", ("landuse",), fused.crs, None, LabelSettings(min_class_size=10))
    parts = [embed_units(part, labels) for part in fused.parts]
    covered = np.linalg.norm(parts[0], axis=1) > 0  # units on a tile with data
    assert covered.mean() > 0.8
    expected = np.hstack(parts) / np.sqrt(2.0)  # both halves are unit vectors
    np.testing.assert_allclose(embed_units(fused, labels)[covered], expected[covered], atol=1e-5)


def test_a_pretrained_backbone_is_only_ever_read_from_a_local_file(tmp_path):
    from calliper.core.errors import MissingDependencyError, SettingsError
    from calliper.core.imagery.model import MMGRNet, MMGRSettings

    settings = MMGRSettings(
        bands=3, tile_pixels=64, text_dim=384, image_encoder="torchvision",
        backbone={"name": "resnet18", "weights": str(tmp_path / "resnet18.pth")},
    )
    # without torchvision: which package to install; with it: the missing local weights (never a download)
    with pytest.raises((MissingDependencyError, SettingsError), match="torchvision|weights file .* does not exist"):
        MMGRNet(settings)
    with pytest.raises(SettingsError, match="Unknown image encoder 'resnet'"):
        MMGRNet(MMGRSettings(bands=3, tile_pixels=64, text_dim=384, image_encoder="resnet"))


def test_tiles_of_a_planet_sized_request_are_refused_up_front(image, demo_points, tmp_path):
    from calliper.core.errors import SettingsError
    from calliper.core.imagery.tiles import ImagerySettings
    from calliper.core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
    from calliper.core.jobs import JobControl
    from calliper.core.text.descriptions import TextFields

    reached = []
    job = MMGRJob(image=image.path, points=demo_points, fields=TextFields("class"), out=tmp_path / "model",
                  imagery=ImagerySettings(tile_metres=0.01, tile_pixels=64), train=MMGRTrainSettings(epochs=1))
    with pytest.raises(SettingsError, match=r"tiles need up to [\d.]+ GiB of scratch space in .*Choose larger tiles"):
        train_mmgr(job, JobControl(progress=lambda fraction, message: reached.append(fraction)))
    assert max(reached, default=0.0) < 0.01 and not (tmp_path / "model").exists()
