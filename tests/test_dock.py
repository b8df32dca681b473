"""The dock in a real headless QGIS: fields fill from a real layer, preview updates, Train runs as a task."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture
def poi_layer(demo_data, qgis_new_project):
    from qgis.core import QgsProject, QgsVectorLayer

    layer = QgsVectorLayer(str(demo_data.pois), "helsinki pois", "ogr")
    QgsProject.instance().addMapLayer(layer)
    yield layer
    QgsProject.instance().removeAllMapLayers()


@pytest.fixture
def dock(qgis_iface, poi_layer):
    from calliper.ui.dock import CalliperDock

    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.train_panel.layer.setLayer(poi_layer)
    yield dock
    dispose(dock)


def dispose(widget) -> None:
    """Delete a dock now, not at an event loop the tests never run: a live dock would answer later tests' signals."""
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def wait_for(condition, timeout=120.0):
    from qgis.PyQt.QtCore import QCoreApplication

    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.02)
    return condition()


def test_field_pickers_fill_from_the_layer_and_guess_roles(dock, poi_layer):
    panel = dock.train_panel
    assert panel.class_field.currentField() == "class"
    assert panel.category_field.currentField() == "category" and panel.name_field.currentField() == "name"
    assert "helsinki_pois_grid_" in panel.output.filePath()
    assert panel.device.count() == 3 and panel.device.itemText(1) == "CPU"


def test_template_preview_updates_live(dock):
    panel = dock.train_panel
    assert "distinct descriptions from 1711 POIs" in panel.preview.toPlainText()
    panel.template.setText("Here is {class}[, named {name}]")
    lines = panel.preview.toPlainText().splitlines()
    assert lines[0].startswith("Here is ") and all(not line.startswith("A place") for line in lines)
    panel.class_field.setField("osm_id")
    assert "Here is " in panel.preview.toPlainText()  # numeric fields work too


def test_clicking_train_runs_a_task_and_the_model_appears(dock, tmp_path):
    panel = dock.train_panel
    panel.epochs.setValue(3)
    out = tmp_path / "dock_model"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    assert wait_for(lambda: panel.task is None)
    assert (out / "card.json").exists(), panel.status.text()
    assert json.loads((out / "card.json").read_text())["metrics"]["epochs_run"] == 3
    assert len(panel.loss_plot.values["training"]) == 3
    assert dock.model_picker.folder() == str(out)
    assert "Model written to" in panel.status.text()


def test_cancel_leaves_no_model_behind(dock, tmp_path):
    panel = dock.train_panel
    panel.epochs.setValue(2000)
    out = tmp_path / "cancelled"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    assert wait_for(lambda: panel.progress.value() >= 1 or panel.task is None, 60)
    panel.cancel_button.click()
    assert wait_for(lambda: panel.task is None, 60)
    assert not out.exists() and not list(tmp_path.glob(".cancelled*"))
    assert "cancelled" in panel.status.text()


def test_training_works_from_its_own_copy_when_the_layer_is_removed_meanwhile(dock, poi_layer, tmp_path):
    from qgis.core import QgsProject

    panel = dock.train_panel
    panel.epochs.setValue(3)
    out = tmp_path / "model"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    QgsProject.instance().removeMapLayer(poi_layer.id())  # the user removes the training layer at once
    assert wait_for(lambda: panel.task is None)
    assert (out / "card.json").exists(), panel.status.text()
    assert json.loads((out / "card.json").read_text())["training"]["n_pois"] > 1500


def test_unloading_the_plugin_while_training_cancels_and_leaves_no_output(qgis_iface, poi_layer, tmp_path):
    import calliper

    plugin = calliper.classFactory(qgis_iface)
    plugin.initGui()
    assert plugin.dock.ensure_panels()
    panel = plugin.dock.train_panel
    panel.layer.setLayer(poi_layer)
    panel.epochs.setValue(500)
    out = tmp_path / "model"
    panel.output.setFilePath(str(out))
    panel.train_button.click()
    assert wait_for(lambda: panel.progress.value() >= 1, 60)
    started = time.time()
    plugin.unload()  # what QGIS does when it quits or the plugin is disabled
    assert time.time() - started < 30 and plugin.dock is None
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "model" in p.name]
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
