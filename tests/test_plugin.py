"""The plugin in a real headless QGIS 3.22: load, menu, toolbar, dock, unload."""

from __future__ import annotations

import importlib.util

import pytest


def test_plugin_loads_adds_dock_and_unloads(qgis_iface):
    import calliper
    from calliper.ui.dock import CalliperDock

    plugin = calliper.classFactory(qgis_iface)
    plugin.initGui()
    assert isinstance(plugin.dock, CalliperDock)
    assert plugin.action.text() == "Calliper" and not plugin.action.icon().isNull()
    plugin.action.setChecked(True)
    assert not plugin.dock.isHidden()  # toggling the action shows the dock
    assert plugin.dock.dependencies.missing == []  # this environment has everything
    plugin.unload()
    assert plugin.dock is None and plugin.action is None


def test_dock_names_missing_packages_and_the_install_command(qgis_iface, monkeypatch):
    from calliper.ui.dock import CalliperDock

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "rasterio") else real(name, *a))
    dock = CalliperDock(qgis_iface)
    text = dock.dependencies.message.text()
    assert "torch==2.13.0" in text and "rasterio==1.4.4" in text and "geopandas" not in text
    command = dock.dependencies.command.text()
    assert "-m pip install" in command and '"torch==2.13.0"' in command
    assert not dock.dependencies.isHidden()


def test_processing_provider_registers_and_unregisters(qgis_iface):
    import calliper
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    already = registry.providerById("calliper")  # registered by the Processing tests when they ran first
    plugin = calliper.classFactory(qgis_iface)
    plugin.initGui()
    assert registry.providerById("calliper") is not None
    assert (plugin.provider is None) == (already is not None)  # a duplicate is refused, never kept dangling
    assert {a.name() for a in registry.providerById("calliper").algorithms()} >= {"train", "embedpoints"}
    plugin.unload()
    assert registry.providerById("calliper") is already  # only what the plugin added is removed
