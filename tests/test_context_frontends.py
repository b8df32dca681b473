"""The context-graph encoder from each front end: CLI, Processing and the dock's Train panel."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest

from calliper.core.cli import main

CONTEXT_LABEL = "grid + context graph"


def test_cli_trains_a_context_model_with_streets_and_embeds_points_with_it(trained, demo_data, tmp_path, capsys):
    """(After ``trained``, which must be the first to encode the demo descriptions: test_training checks it.)"""
    from calliper.core.demo_data import helsinki_pbf

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
    from calliper.processing_provider.train_algorithm import ENCODERS, TrainModelAlgorithm

    algorithm = TrainModelAlgorithm()
    algorithm.initAlgorithm()
    options = algorithm.parameterDefinition(algorithm.ENCODER).options()
    assert options[0] == "grid" and CONTEXT_LABEL in options
    assert ENCODERS[options.index(CONTEXT_LABEL)] == "grid_context"


@pytest.fixture
def train_panel(qgis_iface, demo_data, qgis_new_project):
    from qgis.core import QgsProject, QgsVectorLayer

    from calliper.ui.train_panel import TrainPanel

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


def test_context_encoder_refuses_distributed_training_before_writing_anything(demo_points, tmp_path):
    from calliper.core.errors import SettingsError
    from calliper.core.model import CONTEXT_ENCODER, ModelSettings
    from calliper.core.pipeline import TrainJob, train_from_points
    from calliper.core.poi_text import TextFields
    from calliper.core.train import TrainSettings

    job = TrainJob(demo_points, TextFields("class"), tmp_path / "m", model=ModelSettings(encoder=CONTEXT_ENCODER),
                   train=TrainSettings(epochs=1, distributed=True))
    with pytest.raises(SettingsError, match="without --distributed"):
        train_from_points(job)
    assert not (tmp_path / "m").exists()
