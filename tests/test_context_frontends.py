"""The context-graph encoder from each front end: CLI, Processing and the dock's Train panel."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from calliper.cli.main import main

CONTEXT_LABEL = "grid + context graph"


def test_cli_trains_a_context_model_with_streets_and_embeds_points_with_it(trained, demo_data, tmp_path, capsys):
    """(After ``trained``, which must be the first to encode the demo descriptions: test_training checks it.)"""
    from calliper.core.data.demo_city import helsinki_pbf

    model = tmp_path / "context_model"
    code = main([
        "train", "--pois", str(demo_data.pois), "--class-field", "class", "--category-field", "category",
        "--encoder", "grid_context", "--streets", str(helsinki_pbf()), "--epochs", "1", "--seed", "1",
        "--out", str(model),
    ])
    assert code == 0, capsys.readouterr().err
    card = json.loads((model / "card.json").read_text())
    assert card["model"]["encoder"] == "grid_context" and card["training"]["n_street_nodes"] > 1000
    out = tmp_path / "embedded.gpkg"
    assert main(["embed-points", "--model", str(model), "--points", str(demo_data.pois), "--out", str(out)]) == 0
    embedded = gpd.read_file(out)
    assert len(embedded) == demo_data.n_pois and "emb_127" in embedded.columns
    capsys.readouterr()
    ranked_file = tmp_path / "ranked.gpkg"
    text = "A place of restaurant among restaurants"
    assert main(["rank", "--model", str(model), "--points", str(demo_data.pois), "--text", text, "--top", "3",
                 "--out", str(ranked_file)]) == 0
    printed = capsys.readouterr().out.splitlines()
    ranked = gpd.read_file(ranked_file)
    assert ranked["rank"].tolist() == list(range(1, demo_data.n_pois + 1))
    assert (ranked["score"].diff().dropna() <= 0).all() and -1.0 <= ranked["score"].min() <= ranked["score"].max() <= 1.0
    assert [line.split()[0] for line in printed[:3]] == ["1", "2", "3"]
    assert f"{ranked['score'][0]:.4f}" in printed[0]


def test_cli_refuses_streets_for_an_encoder_without_a_context_graph(demo_data, tmp_path, capsys):
    code = main([
        "train", "--pois", str(demo_data.pois), "--class-field", "class", "--streets", "x.osm.pbf",
        "--epochs", "1", "--out", str(tmp_path / "m"),
    ])
    assert code == 2 and "Street connectivity needs the grid_context encoder" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_processing_lists_the_context_graph_encoder(qgis_app):
    from calliper.processing_provider.algorithms.train import ENCODERS, TrainModelAlgorithm

    algorithm = TrainModelAlgorithm()
    algorithm.initAlgorithm()
    options = algorithm.parameterDefinition(algorithm.ENCODER).options()
    assert options[0] == "grid" and CONTEXT_LABEL in options
    assert ENCODERS[options.index(CONTEXT_LABEL)] == "grid_context"


def context_index() -> int:
    from calliper.processing_provider.algorithms.train import ENCODERS

    return ENCODERS.index("grid_context")


def test_processing_trains_a_context_model_with_the_street_network_parameter(processing, demo_data, tmp_path):
    from calliper.core.catalog.loading import load_model
    from calliper.core.data.demo_city import helsinki_pbf
    from calliper.core.data.poi_io import read_points

    out = tmp_path / "model"
    pbf = str(helsinki_pbf())
    processing.run("calliper:train", {
        "INPUT": str(demo_data.pois), "CLASS_FIELD": "class", "CATEGORY_FIELD": "category",
        "ENCODER": context_index(), "STREETS": pbf, "EPOCHS": 1, "SEED": 1, "OUTPUT": str(out),
    })
    model = load_model(out)
    assert model.card.model["encoder_options"] == {"streets": pbf}
    street_xy = model.net.street_xy.numpy()
    assert len(street_xy) == model.card.training["n_street_nodes"] > 1000
    # The street nodes are in the model's metric CRS: most POIs lie within a few tens of metres of one.
    distance, _ = model.net.streets.nearest(read_points(demo_data.pois).xy)
    assert np.median(distance) < 60.0


def test_processing_refuses_the_street_network_for_an_encoder_without_a_context_graph(processing, demo_data, tmp_path):
    from calliper.core.data.demo_city import helsinki_pbf
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match=r"needs the grid_context encoder.*Street network parameter \(STREETS\)"):
        processing.run("calliper:train", {
            "INPUT": str(demo_data.pois), "CLASS_FIELD": "class", "ENCODER": 0, "STREETS": str(helsinki_pbf()),
            "EPOCHS": 1, "OUTPUT": str(tmp_path / "m"),
        })
    assert not (tmp_path / "m").exists()


def test_processing_takes_the_streets_from_a_poi_layer_read_from_the_extract(processing, tmp_path):
    from calliper.core.data.demo_city import helsinki_pbf
    from qgis.core import QgsProcessingFeedback, QgsVectorLayer

    pbf = str(helsinki_pbf())
    layer = QgsVectorLayer(f"{pbf}|layername=points", "osm points", "ogr")
    assert layer.isValid()
    layer.setSubsetString("highway IN ('bus_stop', 'traffic_signals', 'give_way')")  # a few hundred: a quick run
    feedback = QgsProcessingFeedback()
    out = tmp_path / "model"
    processing.run("calliper:train", {
        "INPUT": layer, "CLASS_FIELD": "highway", "ENCODER": context_index(), "EPOCHS": 1, "OUTPUT": str(out),
    }, feedback=feedback)
    assert f"Streets taken from the POI layer's extract {pbf}." in feedback.textLog()
    card = json.loads((out / "card.json").read_text())
    assert card["model"]["encoder_options"] == {"streets": pbf} and card["training"]["n_street_nodes"] > 1000
    assert card["training"]["n_pois"] == sum(1 for _ in layer.getFeatures()) < 500


@pytest.fixture
def train_panel(qgis_iface, demo_data, qgis_new_project):
    from calliper.ui.train_panel import TrainPanel
    from qgis.core import QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(str(demo_data.pois), "helsinki pois", "ogr")
    QgsProject.instance().addMapLayer(layer)
    panel = TrainPanel(qgis_iface)
    panel.layer.setLayer(layer)
    yield panel
    panel.deleteLater()
    QgsProject.instance().removeAllMapLayers()


def test_dock_trains_with_the_context_graph_encoder_chosen_by_its_label(train_panel):
    combo = train_panel.encoder
    combo.setCurrentIndex(combo.findText(CONTEXT_LABEL))
    job = train_panel.build_job()
    assert job.model.encoder == "grid_context"
    job.model.validate()
    train_panel._layer_changed(train_panel.layer.currentLayer())
    assert "_grid_context_" in train_panel.output.filePath()


def test_dock_streets_field_is_enabled_by_the_context_graph_encoder_only(train_panel):
    combo = train_panel.encoder
    combo.setCurrentIndex(combo.findText(CONTEXT_LABEL))
    assert train_panel.streets.isEnabled()
    combo.setCurrentIndex(combo.findData("grid"))
    assert not train_panel.streets.isEnabled()
    assert "context graph" in train_panel.streets.toolTip()


def test_dock_fills_the_streets_from_a_poi_layer_read_from_the_extract(train_panel, demo_data):
    from calliper.core.data.demo_city import helsinki_pbf
    from qgis.core import QgsProject, QgsVectorLayer

    pbf = str(helsinki_pbf())
    osm_points = QgsVectorLayer(f"{pbf}|layername=points", "osm points", "ogr")
    assert osm_points.isValid()
    QgsProject.instance().addMapLayer(osm_points)
    gpkg_layer = train_panel.layer.currentLayer()
    assert train_panel.streets.filePath() == ""
    train_panel.layer.setLayer(osm_points)
    assert train_panel.streets.filePath() == pbf
    combo = train_panel.encoder
    combo.setCurrentIndex(combo.findText(CONTEXT_LABEL))
    train_panel.class_field.setField("highway")
    assert train_panel.build_job().model.encoder_options == {"streets": pbf}
    train_panel.layer.setLayer(gpkg_layer)  # a filled-in extract goes with its layer
    assert train_panel.streets.filePath() == ""
    train_panel.streets.setFilePath(str(demo_data.pois.parent / "mine.osm.pbf"))
    train_panel.layer.setLayer(osm_points)  # a file the user chose stays
    assert train_panel.streets.filePath().endswith("mine.osm.pbf")


def test_dock_names_a_missing_street_file_before_any_task_starts(train_panel, qgis_iface, tmp_path):
    from qgis.core import Qgis

    combo = train_panel.encoder
    combo.setCurrentIndex(combo.findText(CONTEXT_LABEL))
    missing = tmp_path / "nowhere.osm.pbf"
    train_panel.streets.setFilePath(str(missing))
    train_panel.output.setFilePath(str(tmp_path / "m"))
    train_panel.train_button.click()
    assert train_panel.task is None and train_panel.train_button.isEnabled()
    assert f"The street file {missing} in the Streets field does not exist" in train_panel.status.text()
    assert any("Streets field" in message for message in qgis_iface.messageBar().get_messages(Qgis.Critical))
    assert not (tmp_path / "m").exists()


def test_context_encoder_refuses_distributed_training_before_writing_anything(demo_points, tmp_path):
    from calliper.core.catalog.training import train_from_points
    from calliper.core.errors import SettingsError
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.settings import CONTEXT_ENCODER, ModelSettings
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    job = TrainJob(demo_points, TextFields("class"), tmp_path / "m", model=ModelSettings(encoder=CONTEXT_ENCODER),
                   train=TrainSettings(epochs=1, distributed=True))
    with pytest.raises(SettingsError, match="without --distributed"):
        train_from_points(job)
    assert not (tmp_path / "m").exists()
