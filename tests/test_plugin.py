"""The plugin in a real headless QGIS 3.22: load, menu, toolbar, dock, unload."""

from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication, QEvent


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
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the dock is gone, not waiting for a loop


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
