"""The dock's Maps panel in headless QGIS: rasters become styled layers; a click gives a map peaking there."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from test_dock import dispose, wait_for


@pytest.fixture
def maps(qgis_iface, qgis_new_project, trained, tmp_path):
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle

    crs = QgsCoordinateReferenceSystem("EPSG:32635")
    qgis_iface.mapCanvas().setDestinationCrs(crs)
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.model_picker.set_model(str(trained.folder))
    panel = dock.maps_panel
    xmin, ymin, xmax, ymax = trained.card.training["extent"]
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    panel.extent.setOutputExtentFromUser(QgsRectangle(cx - 400, cy - 400, cx + 400, cy + 400), crs)
    panel.pixel_size.setValue(20)
    panel.output_dir.setFilePath(str(tmp_path))
    yield panel
    dispose(dock)


def group_layers(trained):
    from qgis.core import QgsProject

    group = QgsProject.instance().layerTreeRoot().findGroup(f"Calliper: {trained.folder.name}")
    return {node.layer().name(): node.layer() for node in group.findLayers()} if group else {}


def test_maps_panel_paints_rasters_similarity_and_clusters(maps, trained):
    from qgis.core import QgsPointXY, QgsSingleBandPseudoColorRenderer

    assert maps.size_hint.text().startswith("40 x 40 pixels, 0.8 MB")
    maps.raster_button.click()
    assert wait_for(lambda: maps.task is None)
    layers = group_layers(trained)
    assert {"Embedding (128 bands)", "Embedding RGB preview (PCA)"} <= set(layers), maps.status.text()
    assert layers["Embedding RGB preview (PCA)"].renderer().type() == "multibandcolor"
    assert "OpenStreetMap" in layers["Embedding RGB preview (PCA)"].metadata().rights()[0]

    with rasterio.open(maps.embedding_path) as src:
        x, y = src.xy(13, 27)  # centre of row 13, column 27
    maps.similarity_at(QgsPointXY(x, y))
    assert wait_for(lambda: maps.task is None)
    similarity = [layer for name, layer in group_layers(trained).items() if name.startswith("Similarity to ")]
    assert len(similarity) == 1 and isinstance(similarity[0].renderer(), QgsSingleBandPseudoColorRenderer)
    with rasterio.open(similarity[0].source()) as src:
        values = src.read(1)
    assert np.unravel_index(np.nanargmax(values), values.shape) == (13, 27)
    assert maps.marker is not None and abs(maps.marker.center().x() - x) < 1e-6

    from qgis.core import QgsProject, QgsVectorLayer

    pois = QgsVectorLayer(str(trained.card.training["source"]), "pois", "ogr")
    QgsProject.instance().addMapLayer(pois)
    pois.selectByIds([next(pois.getFeatures()).id()])
    maps.iface.setActiveLayer(pois)
    maps.feature_button.click()
    assert wait_for(lambda: maps.task is None)
    assert any(name.startswith("Similarity to feature ") for name in group_layers(trained))

    maps.phrase_map.setCurrentIndex(maps.phrase_map.findData("evidence"))  # not what an earlier run remembered
    maps.phrase.setText("nightlife")
    maps.phrase_button.click()
    assert wait_for(lambda: maps.task is None)
    evidence_map = group_layers(trained)["'nightlife' (matched POIs)"]
    with rasterio.open(evidence_map.source()) as src:
        assert src.tags()["calliper_phrase_map"].startswith("matched POI classes ")
    maps.phrase_map.setCurrentIndex(maps.phrase_map.findData("model"))
    maps.phrase_button.click()
    assert wait_for(lambda: maps.task is None)
    assert "'nightlife' (model only)" in group_layers(trained)
    maps.phrase_map.setCurrentIndex(maps.phrase_map.findData("evidence"))

    maps.k.setValue(4)
    maps.cluster_button.click()
    assert wait_for(lambda: maps.task is None)
    clusters = group_layers(trained)["Clusters (k=4)"]
    assert clusters.renderer().type() == "paletted"
    assert maps.status.text().startswith("Clusters: 0: ")


def test_similarity_before_any_embedding_raster_says_what_to_do(maps, qgis_iface):
    maps.phrase.setText("cafe")
    maps.phrase_button.click()
    assert maps.task is None and maps.embedding_path is None


def test_classify_panel_adds_predictions_and_opens_the_report(qgis_iface, qgis_new_project, trained, demo_data, tmp_path):
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsFeatureRequest, QgsProject, QgsVectorLayer

    # a memory layer (not a file): the panel copies it to a temporary GeoPackage for core
    landuse = QgsVectorLayer(str(demo_data.landuse), "landuse", "ogr").materialize(QgsFeatureRequest())
    QgsProject.instance().addMapLayer(landuse)
    assert landuse.providerType() == "memory"
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.model_picker.set_model(str(trained.folder))
    panel = dock.classify_panel
    panel.labels.setLayer(landuse)
    panel.label_field.setField("landuse")
    panel.min_class_size.setValue(10)
    panel.pixel_size.setValue(40)
    panel.output_dir.setFilePath(str(tmp_path / "landuse"))
    panel.classify_button.click()
    assert wait_for(lambda: panel.task is None, 300)
    layers = group_layers(trained)
    predictions = layers["Predicted landuse"]
    names = predictions.fields().names()
    assert {"predicted", "probability", "p_grass", "p_commercial"} <= set(names), panel.status.text()
    assert predictions.featureCount() == landuse.featureCount()
    assert layers["landuse classes"].renderer().type() == "paletted"
    assert "Coordinates only" in panel.report_dialog.browser.toPlainText()
    from calliper.core.landuse.report import method_label, outputs_method

    metrics = panel.result.metrics
    chosen = outputs_method(metrics)  # the outputs' method, not the plain embedding's score
    assert chosen == (metrics["default_method"] if metrics["headline"]["seeds_taking_model"] * 2 > len(
        metrics["protocol"]["seeds"]) else "ensemble")  # the twin without the model where the model did not count
    score = panel.result.metrics["methods"][chosen]["macro_f1"]["mean"]
    assert panel.status.text().startswith(f"Outputs by {method_label(chosen)}: test Macro F1 {score:.3f} ± ")
    assert panel.report_dialog.open_button.isEnabled()
    dispose(dock)


def test_the_classify_status_says_when_the_outputs_are_the_method_without_the_model(qgis_iface):
    from calliper.ui.classify_panel import outcome_line

    scores = {"macro_f1": {"mean": 0.4, "std": 0.1}}
    metrics = {"task": "class", "default_method": "ensemble_calliper",
               "methods": {"ensemble_calliper": scores, "ensemble": scores, "trees": scores},
               "headline": {"best_without_model": "ensemble", "outputs_method": "ensemble", "margin_macro_f1": 0.0,
                            "seeds_clearing": 0, "n_seeds": 5}}
    assert outcome_line(metrics) == ("Outputs by Trees + linear probes, no model: test Macro F1 0.400 ± 0.100, the "
                                     "best method without the model: the model added nothing measurable")
    metrics["headline"].update(outputs_method="ensemble_calliper", margin_macro_f1=0.02, seeds_clearing=4)
    assert outcome_line(metrics).endswith("; +0.020 over the best without the model (Trees + linear probes, no model, "
                                          "4/5 seeds ≥ +0.01)")


def test_share_fields_give_a_distribution_prediction(qgis_iface, qgis_new_project, trained, demo_data, tmp_path):
    """The socioeconomic-style task: several numeric fields forming shares per area."""
    import geopandas as gpd
    import numpy as np
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsProject, QgsVectorLayer

    frame = gpd.read_file(demo_data.landuse)
    rng = np.random.default_rng(0)
    shares = rng.dirichlet([2, 1, 1], len(frame))
    for i, name in enumerate(("share_a", "share_b", "share_c")):
        frame[name] = shares[:, i]
    path = tmp_path / "areas.gpkg"
    frame.to_file(path)
    areas = QgsVectorLayer(str(path), "areas", "ogr")
    QgsProject.instance().addMapLayer(areas)
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.model_picker.set_model(str(trained.folder))
    panel = dock.classify_panel
    panel.labels.setLayer(areas)
    panel.target.setCurrentIndex(2)
    assert panel.share_fields.isEnabled() and not panel.class_raster.isEnabled()
    panel.share_fields.setCheckedItems(["share_a", "share_b", "share_c"])
    panel.output_dir.setFilePath(str(tmp_path / "shares"))
    panel.classify_button.click()
    assert wait_for(lambda: panel.task is None, 300)
    assert ": test KL divergence " in panel.status.text(), panel.status.text()
    predicted = gpd.read_file(panel.result.outputs["predictions"])
    columns = [c for c in predicted.columns if c.startswith("p_") or c.startswith("pred")]
    assert len(predicted) == len(frame) and columns
    dispose(dock)


def test_cancelled_embedding_raster_resumes_from_its_finished_blocks_when_made_again(maps, tmp_path):
    from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsRectangle

    rect = maps.extent.outputExtent()
    cx, cy = rect.center().x(), rect.center().y()
    maps.extent.setOutputExtentFromUser(QgsRectangle(cx - 800, cy - 800, cx + 800, cy + 800),
                                        QgsCoordinateReferenceSystem("EPSG:32635"))
    maps.pixel_size.setValue(2)  # 800 x 800 pixels: 16 blocks
    maps.near_pois.setChecked(False)  # the whole extent, so that every block has pixels to compute
    maps.raster_button.click()
    assert maps.progress.cancel_button.isEnabled()
    assert wait_for(lambda: maps.progress.bar.value() >= 1 or maps.task is None, 60)
    maps.progress.cancel_button.click()
    assert wait_for(lambda: maps.task is None, 60)
    assert "cancelled" in maps.status.text() and "resume" in maps.status.text()
    assert maps.embedding_path is None and not list(tmp_path.glob("*.tif")) and list(tmp_path.glob(".*"))

    logged: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(lambda message, tag, level: logged.append(message))
    maps.raster_button.click()
    assert wait_for(lambda: maps.task is None, 120)
    resumed = [line for line in logged if line.startswith("Resuming:")]
    assert resumed, logged
    finished_before = int(resumed[0].split()[1])
    assert 1 <= finished_before < 16 and resumed[0].endswith("16 blocks were computed before.")
    assert maps.embedding_path is not None and maps.embedding_path.exists()
    assert not list(tmp_path.glob(".*"))  # nothing hidden is left once the raster is whole
    with rasterio.open(maps.embedding_path) as src:
        assert (src.width, src.height) == (800, 800) and np.isfinite(src.read(1)).all()


def test_outputs_go_below_the_vector_layers_with_a_2_98_stretch_and_a_worded_legend(qgis_new_project, maps, trained,
                                                                                     demo_data):
    from qgis.core import QgsProject, QgsVectorLayer

    pois = QgsVectorLayer(str(demo_data.pois), "pois on top", "ogr")
    QgsProject.instance().addMapLayer(pois)
    maps.raster_button.click()
    assert wait_for(lambda: maps.task is None)
    maps.phrase_map.setCurrentIndex(maps.phrase_map.findData("evidence"))
    maps.phrase.setText("nightlife")
    maps.phrase_button.click()
    assert wait_for(lambda: maps.task is None)
    names = [node.name() for node in QgsProject.instance().layerTreeRoot().children()]
    assert names.index("pois on top") < names.index(f"Calliper: {trained.folder.name}"), names
    layer = group_layers(trained)["'nightlife' (matched POIs)"]
    with rasterio.open(layer.source()) as src:
        values = src.read(1)
    low, high = np.nanpercentile(values, [2, 98])
    renderer = layer.renderer()
    span = np.nanmax(values) - np.nanmin(values)
    assert abs(renderer.classificationMin() - low) < 0.03 * span and abs(renderer.classificationMax() - high) < 0.03 * span
    assert renderer.classificationMin() > np.nanmin(values) and renderer.classificationMax() < np.nanmax(values)
    labels = [label for label, _ in renderer.legendSymbologyItems()]
    assert labels[0] == "less like 'nightlife'" and labels[-1] == "more like 'nightlife'"
    order = [node.layer().name() for node in QgsProject.instance().layerTreeRoot().findGroup(
        f"Calliper: {trained.folder.name}").findLayers()]
    assert order[0] == "'nightlife' (matched POIs)"  # the newest map on top of the group's rasters


def test_rank_puts_the_layers_features_in_a_new_graduated_layer_with_the_best_selected(qgis_new_project, maps,
                                                                                        trained, demo_data):
    from qgis.core import QgsGraduatedSymbolRenderer, QgsProject, QgsVectorLayer

    pois = QgsVectorLayer(str(demo_data.pois), "pois", "ogr")
    QgsProject.instance().addMapLayer(pois)
    maps.rank_layer.setLayer(pois)
    maps.rank_top.setValue(50)
    maps.phrase.setText("a cafe")
    maps.rank_button.click()
    assert wait_for(lambda: maps.task is None)
    ranked = group_layers(trained)["pois ranked for 'a cafe'"]
    assert ranked.featureCount() == pois.featureCount()
    assert ranked.fields().names()[-2:] == ["score", "rank"]
    assert isinstance(ranked.renderer(), QgsGraduatedSymbolRenderer) and ranked.renderer().classAttribute() == "score"
    assert len(ranked.renderer().ranges()) == 5
    selected = list(ranked.getSelectedFeatures())
    assert len(selected) == 50 and {f["rank"] for f in selected} == set(range(1, 51))
    best = min(selected, key=lambda f: f["rank"])
    assert best["score"] == max(f["score"] for f in ranked.getFeatures())
    share = sum(f["class"] == "cafe" for f in pois.getFeatures()) / pois.featureCount()
    assert sum(f["class"] == "cafe" for f in selected) / 50 > 2 * share  # cafes come first


def test_describe_tool_lists_what_the_model_says_about_a_clicked_place_and_copies_it(maps, trained):
    from calliper.core.model.evidence import load_evidence
    from qgis.core import QgsPointXY
    from qgis.PyQt.QtWidgets import QApplication
    from test_describe import densest_single_class_cluster

    panel = maps.describe
    panel.describe_button.setChecked(True)
    assert maps.iface.mapCanvas().mapTool() is panel.tool
    panel.phrases.setText("a bench to sit on; nightlife")
    _, name, centre = densest_single_class_cluster(load_evidence(trained.folder))
    panel.describe_at(QgsPointXY(*centre))  # the canvas is in the model's CRS (EPSG:32635)
    assert wait_for(lambda: panel.task is None)
    assert panel.place is not None, maps.status.text()
    assert next(d.poi_class for d in panel.place.descriptions if d.poi_class) == name  # the best class description
    html = panel.result.toHtml()
    assert "What is here" in html and "Nearest training POIs" in html and f"A place of {name}" in html
    assert "POIs near" in html and f"{panel.place.descriptions[0].evidence:.1%}" in html  # both parts are shown
    assert [d.text for d in panel.place.phrases] == ["a bench to sit on", "nightlife"]  # scored by the model, best first
    assert "Your phrases" in html
    panel.copy_button.click()
    assert QApplication.clipboard().text() == panel.place.as_text()
    panel.describe_button.setChecked(False)
    assert maps.iface.mapCanvas().mapTool() is not panel.tool


def test_two_outputs_made_in_the_same_second_get_different_names(tmp_path):
    from calliper.ui.output_names import new_output, slug

    first = new_output(tmp_path, f"phrase_{slug('night life!')}", ".tif")
    first.touch()
    second = new_output(tmp_path, "phrase_night_life", ".tif")
    assert first.name.startswith("phrase_night_life_") and second != first and not second.exists()


def test_across_cities_maps_places_like_a_click_under_another_model_and_profile_rasters(maps, trained):
    from calliper.core.profiles.vocabulary import model_classes
    from calliper.core.catalog.loading import load_model
    from qgis.core import QgsPointXY

    maps.raster_button.click()
    assert wait_for(lambda: maps.task is None)
    with rasterio.open(maps.embedding_path) as src:
        x, y = src.xy(20, 11)
    across = maps.across
    across.other_model.setFilePath(str(trained.folder))  # the same city's model: the click's pixel matches best
    across.like_place_at(QgsPointXY(x, y))
    assert wait_for(lambda: maps.task is None)
    like = [layer for name, layer in group_layers(trained).items() if name.startswith("Like ")]
    assert len(like) == 1, maps.status.text()
    with rasterio.open(like[0].source()) as src:
        values = src.read(1)
    assert np.unravel_index(np.nanargmax(values), values.shape) == (20, 11)
    assert across.marker is not None

    across.profile_button.click()
    assert wait_for(lambda: maps.task is None)
    profiles = [layer for name, layer in group_layers(trained).items() if name.startswith("Profiles over ")]
    assert len(profiles) == 1, maps.status.text()
    assert profiles[0].bandCount() == len(model_classes(load_model(trained.folder)))


def test_across_cities_without_the_other_model_says_what_to_do(maps, qgis_iface):
    from qgis.core import Qgis, QgsPointXY

    maps.across.other_model.setFilePath("")
    maps.across.like_place_at(QgsPointXY(0, 0))
    assert maps.task is None
    assert any("other city's model folder" in m for m in qgis_iface.messageBar().get_messages(Qgis.Critical))
