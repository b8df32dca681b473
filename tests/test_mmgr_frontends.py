"""MMGR through its front ends: the command line, the Processing algorithms and the dock's Imagery tab.

Each trains a tiny model (64 m tiles of 16 px, two epochs) on the demo city's
rendered OSM image and POIs: these tests check wiring and outputs, test_mmgr.py the method.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from test_dock import dispose, wait_for
from test_mmgr import image  # noqa: F401 - the rendered image fixture

TINY = ["--tile-metres", "64", "--tile-pixels", "16", "--epochs", "2", "--threads", "1"]


def test_cli_trains_mmgr_writes_maps_and_studies_land_use_with_the_region_raster(image, demo_data, tmp_path):  # noqa: F811
    from calliper.cli.main import main

    region, model = tmp_path / "region.tif", tmp_path / "model"
    assert main([
        "mmgr-train", "--image", str(image.path), "--bands", "1,2,4", "--pois", str(demo_data.pois),
        "--class-field", "class", "--category-field", "category", *TINY, "--out", str(model), "--raster", str(region),
        "--clusters", str(tmp_path / "clusters.tif"), "--k", "3", "--phrase", "a park",
        "--similarity", str(tmp_path / "park.tif"),
    ]) == 0
    card = json.loads((model / "card.json").read_text())
    assert card["format"] == "calliper-mmgr" and card["imagery"]["bands"] == [1, 2, 4]
    with rasterio.open(region) as src:
        assert src.res == (64.0, 64.0) and src.crs.to_epsg() == 32635 and src.count == 128
    with rasterio.open(tmp_path / "park.tif") as src:
        similarity = src.read(1)
    assert np.nanmax(similarity) <= 1.0 + 1e-5 and np.isfinite(similarity).mean() > 0.9
    legend = json.loads((tmp_path / "clusters.json").read_text())
    assert len(legend["legend"]) == 3 and legend["model"] == str(model.absolute())

    again = tmp_path / "again.tif"
    assert main(["region-raster", "--model", str(model), "--image", str(image.path), "--out", str(again)]) == 0
    with rasterio.open(again) as src, rasterio.open(region) as first:
        assert src.res == first.res and src.width >= first.width and src.height >= first.height

    assert main([
        "classify", "--region-raster", str(region), "--labels", str(demo_data.landuse), "--label-field", "landuse",
        "--min-class-size", "10", "--seeds", "42", "--out-dir", str(tmp_path / "study"),
    ]) == 0
    metrics = json.loads((tmp_path / "study" / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"mmgr", "coords_only", "poi_counts", "mmgr_poi_counts", "mmgr_pooled", "geometry",
                                       "geometry_coords", "geometry_coords_poi_counts", "geometry_poi_counts",
                                       "geometry_mmgr", "geometry_mmgr_poi_counts", "geometry_coords_poi_counts_mmgr",
                                       "trees", "ensemble", "ensemble_mmgr"} and metrics["features"] == "mmgr"


def test_cli_refuses_a_phrase_without_its_output_and_a_study_without_embeddings(image, demo_data, tmp_path, capsys):  # noqa: F811
    from calliper.cli.main import main

    assert main(["mmgr-train", "--image", str(image.path), "--pois", str(demo_data.pois), "--class-field", "class",
                 "--out", str(tmp_path / "m"), "--raster", str(tmp_path / "r.tif"), "--phrase", "park"]) == 2
    assert "--phrase and --similarity go together" in capsys.readouterr().err
    assert main(["classify", "--labels", str(demo_data.landuse), "--label-field", "landuse",
                 "--out-dir", str(tmp_path / "s")]) == 2
    assert "region raster" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_processing_trains_mmgr_and_applies_it_with_a_phrase(processing, image, demo_data, tmp_path):  # noqa: F811
    result = processing.run("calliper:mmgrtrain", {
        "IMAGE": str(image.path), "BANDS": [1, 2], "POIS": str(demo_data.pois), "CLASS_FIELD": "class",
        "TILE_METRES": 64, "TILE_PIXELS": 16, "EPOCHS": 2, "OUTPUT_MODEL": str(tmp_path / "model"),
        "OUTPUT": str(tmp_path / "region.tif"), "RGB_OUTPUT": str(tmp_path / "rgb.tif"),
    })
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["imagery"]["bands"] == [1, 2] and card["imagery"]["tile_pixels"] == 16
    with rasterio.open(result["OUTPUT"]) as src, rasterio.open(result["RGB_OUTPUT"]) as rgb:
        assert src.res == (64.0, 64.0) and src.descriptions[0] == "emb_000"
        assert rgb.count == 3 and rgb.transform == src.transform

    applied = processing.run("calliper:mmgrregionraster", {
        "MODEL": str(tmp_path / "model"), "IMAGE": str(image.path), "PHRASE": "restaurant",
        "OUTPUT": str(tmp_path / "applied.tif"), "SIMILARITY": str(tmp_path / "restaurant.tif"),
    })
    with rasterio.open(applied["SIMILARITY"]) as src:
        values, tags = src.read(1), src.tags()
    assert tags["calliper_kind"] == "similarity" and "restaurant" in tags["calliper_query"]
    assert np.nanmax(np.abs(values)) <= 1.0 + 1e-5 and np.isfinite(values).any()


def test_processing_studies_land_use_on_a_region_raster_concatenated_with_calliper(
    processing, image, demo_data, trained, tmp_path  # noqa: F811
):
    from qgis.core import QgsProcessingException

    region = tmp_path / "region.tif"
    processing.run("calliper:mmgrtrain", {
        "IMAGE": str(image.path), "POIS": str(demo_data.pois), "CLASS_FIELD": "class", "TILE_METRES": 64,
        "TILE_PIXELS": 16, "EPOCHS": 2, "OUTPUT_MODEL": str(tmp_path / "model"), "OUTPUT": str(region),
    })
    study = {"LABELS": str(demo_data.landuse), "LABEL_FIELD": "landuse", "SEEDS": "42", "MIN_CLASS_SIZE": 10,
             "POIS": str(demo_data.pois)}
    result = processing.run("calliper:classify", {
        **study, "MODEL": str(trained.folder), "REGION_RASTER": str(region), "OUTPUT_FOLDER": str(tmp_path / "fused"),
    })
    metrics = json.loads(open(result["METRICS"], encoding="utf-8").read())
    assert metrics["features"] == "mmgr+calliper" and "mmgr+calliper" in metrics["methods"]
    with pytest.raises(QgsProcessingException, match="CaLLiPer model folder, a region raster"):
        processing.run("calliper:classify", {**study, "OUTPUT_FOLDER": str(tmp_path / "none")})


def test_imagery_tab_trains_and_adds_styled_region_layers(qgis_iface, qgis_new_project, image, demo_data, trained, tmp_path):  # noqa: F811
    from calliper.core.landuse.report import method_label, outputs_method
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer

    raster = QgsRasterLayer(str(image.path), "helsinki image", "gdal")
    pois = QgsVectorLayer(str(demo_data.pois), "pois", "ogr")
    QgsProject.instance().addMapLayers([raster, pois])
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    panel = dock.imagery_panel
    panel.image.setLayer(raster)
    panel.pois.setLayer(pois)
    assert panel.bands.count() == 4 and panel.chosen_bands() is None
    panel.bands.deselectAllOptions()
    panel.bands.setCheckedItems([panel.bands.itemText(i) for i in (0, 1, 3)])
    assert panel.chosen_bands() == (1, 2, 4)
    panel.class_field.setField("class")
    panel.tile_metres.setValue(64)
    panel.tile_pixels.setValue(16)
    panel.epochs.setValue(2)
    panel.output_dir.setFilePath(str(tmp_path))
    panel.train_button.click()
    assert wait_for(lambda: panel.task is None, 300), panel.status.text()
    group = QgsProject.instance().layerTreeRoot().findGroup(f"Calliper: {panel.model_folder.name}")
    layers = {node.layer().name(): node.layer() for node in group.findLayers()}
    assert layers["Region RGB preview (PCA)"].renderer().type() == "multibandcolor"
    assert layers["Region clusters (k=6)"].renderer().type() == "paletted"
    assert "OpenStreetMap" in layers["Region embedding (128 bands)"].metadata().rights()[0]
    assert panel.status.text().split(" tiles")[0].isdigit() and "Clusters: 0: " in panel.status.text()

    panel.phrase.setText("a park")
    panel.phrase_button.click()
    assert wait_for(lambda: panel.task is None, 120), panel.status.text()
    group = QgsProject.instance().layerTreeRoot().findGroup(f"Calliper: {panel.model_folder.name}")
    similarity = [node.layer() for node in group.findLayers() if node.layer().name() == "Tiles like 'a park'"]
    assert len(similarity) == 1 and similarity[0].renderer().type() == "singlebandpseudocolor"

    # the Classify tab studies land use on the region raster concatenated with the CaLLiPer model
    landuse = QgsVectorLayer(str(demo_data.landuse), "landuse", "ogr")
    QgsProject.instance().addMapLayer(landuse)
    dock.model_picker.set_model(str(trained.folder))
    classify = dock.classify_panel
    classify.labels.setLayer(landuse)
    classify.region.setLayer(layers["Region embedding (128 bands)"])
    classify.label_field.setField("landuse")
    classify.min_class_size.setValue(10)
    classify.class_raster.setChecked(False)
    classify.output_dir.setFilePath(str(tmp_path / "landuse"))
    classify.classify_button.click()
    assert wait_for(lambda: classify.task is None, 300), classify.status.text()
    metrics = json.loads((tmp_path / "landuse" / "metrics.json").read_text())
    assert metrics["features"] == "mmgr+calliper"
    assert classify.status.text().startswith(f"Outputs by {method_label(outputs_method(metrics))}: test Macro F1 ")
    QgsProject.instance().removeAllMapLayers()
    dispose(dock)


def test_imagery_tab_leaves_an_orthophotos_alpha_band_unticked(qgis_iface, qgis_new_project, image, tmp_path):  # noqa: F811
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsProject, QgsRasterLayer

    with rasterio.open(image.path) as src:
        profile, values = src.profile, src.read([1, 2, 3])
    alpha = np.where(values[0] > 0, 255, 0).astype(values.dtype)
    rgba = tmp_path / "orthophoto.tif"
    with rasterio.open(rgba, "w", **{**profile, "count": 4, "nodata": None, "photometric": "rgb", "alpha": "yes"}) as dst:
        dst.write(np.concatenate([values, alpha[None]]))
    layer = QgsRasterLayer(str(rgba), "orthophoto", "gdal")
    QgsProject.instance().addMapLayer(layer)
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    panel = dock.imagery_panel
    panel.image.setLayer(layer)
    assert panel.bands.count() == 4 and panel.chosen_bands() == (1, 2, 3)
    dispose(dock)
