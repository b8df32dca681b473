"""The dock's Train tab with a places file picked (Debian's GDAL cannot open Parquet as a layer)."""

from __future__ import annotations

import json

import pytest
from places_files import write_places_from
from test_dock import dispose, wait_for


@pytest.fixture
def dock(qgis_iface, demo_data, qgis_new_project):
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(str(demo_data.pois), "helsinki pois", "ogr")
    QgsProject.instance().addMapLayer(layer)
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.train_panel.layer.setLayer(layer)
    yield dock
    dispose(dock)
    QgsProject.instance().removeAllMapLayers()


def test_a_picked_places_file_replaces_the_layer_previews_its_sentences_and_trains(dock, demo_points, tmp_path):
    panel = dock.train_panel
    path = write_places_from(demo_points, "overture", tmp_path / "helsinki_places.parquet")
    panel.places_file.setFilePath(str(path))
    assert not panel.class_field.isEnabled() and not panel.layer.isEnabled() and panel.train_button.isEnabled()
    preview = panel.preview.toPlainText()
    lines = preview.splitlines()
    assert lines[0] == "A hotel (travel and transportation), called Pizzeria {Luigi} 🍕", preview
    assert "(Overture Maps Places; left out: " in preview and " closed, " in preview and "confidence below 0.5" in preview
    panel.level.setValue(1)
    assert all(line.startswith("A place of ") for line in panel.preview.toPlainText().splitlines()[:-1])
    panel.level.setValue(0)
    assert "helsinki_places_grid_" in panel.output.filePath()

    panel.epochs.setValue(1)
    out = tmp_path / "places_model"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    assert wait_for(lambda: panel.task is None)
    card = json.loads((out / "card.json").read_text())
    assert card["text"]["style"] == "places" and card["training"]["layer"] == f"the file {path.name}"
    assert card["training"]["n_pois"] > 1000

    panel.places_file.setFilePath("")
    assert panel.class_field.isEnabled() and "1711 POIs" in panel.preview.toPlainText()


def test_a_bad_places_file_is_named_in_the_preview_and_trains_nothing(dock, tmp_path):
    panel = dock.train_panel
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(b"PAR1 not really")
    panel.places_file.setFilePath(str(bad))
    assert "Cannot read cut.parquet as Parquet" in panel.preview.toPlainText()
    out = tmp_path / "never"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    assert panel.task is None and not out.exists() and "Cannot read cut.parquet" in panel.status.text()
