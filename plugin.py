"""The plugin object QGIS creates: menu entry, toolbar button, dock, clean unload."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication
from qgis.gui import QgisInterface
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon

try:
    from qgis.PyQt.QtGui import QAction  # Qt6 (QGIS 4) moved QAction to QtGui
except ImportError:
    from qgis.PyQt.QtWidgets import QAction  # Qt5 (QGIS 3)

from .ui.dock import CalliperDock
from .ui.log import log

PLUGIN_DIR = Path(__file__).resolve().parent
MENU = "&Calliper"


class CalliperPlugin:
    """Owns the QGIS-facing objects; everything it adds, ``unload`` removes."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.action: QAction | None = None
        self.dock: CalliperDock | None = None
        self.provider = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        """Register the algorithms; needs torch, so skipped (with the dock explaining) when it is missing."""
        from .core.dependencies import missing_requirements

        if self.provider is None and not missing_requirements():
            from .processing_provider.provider import CalliperProvider

            provider = CalliperProvider()
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider
            else:  # another copy of the plugin registered "calliper"; QGIS has deleted ours
                log("The Calliper Processing algorithms are already registered (another copy of the plugin?).")

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        # The algorithms import torch (1.5 s): at QGIS start-up, register them once the
        # window is up; when the plugin is enabled later, at once. qgis_process calls
        # initProcessing itself.
        if isinstance(self.iface, QgisInterface) and not self.iface.mainWindow().isVisible():
            self.iface.initializationCompleted.connect(self.initProcessing)
        else:
            self.initProcessing()
        icon = QIcon(str(PLUGIN_DIR / "resources" / "icon.svg"))
        self.action = QAction(icon, "Calliper", self.iface.mainWindow())
        self.action.setObjectName("calliperShowDock")
        self.action.setToolTip("Show the Calliper dock: train location embeddings from POIs")
        self.action.setCheckable(True)
        self.dock = CalliperDock(self.iface, self.iface.mainWindow())
        self.dock.dependencies.installed.connect(self._packages_installed)
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.action.toggled.connect(self.dock.setUserVisible)
        self.dock.visibilityChanged.connect(self.action.setChecked)
        self.iface.addPluginToMenu(MENU, self.action)
        self.iface.addToolBarIcon(self.action)

    def _packages_installed(self, restart_needed: bool) -> None:
        """Packages just installed from the dock: the algorithms come up at once unless QGIS must restart."""
        if not restart_needed:
            self.initProcessing()

    def unload(self) -> None:
        """Remove what the plugin added; running tasks are cancelled first (QGIS quitting, the plugin disabled)."""
        if self.dock is not None and not self.dock.cancel_tasks():
            log("A Calliper task did not stop within a minute; QGIS ends it.")
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.action is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
