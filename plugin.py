"""The plugin object QGIS creates: menu entry, toolbar button, dock, clean unload."""

from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .ui.dock import CalliperDock

PLUGIN_DIR = Path(__file__).resolve().parent
MENU = "&Calliper"


class CalliperPlugin:
    """Owns the QGIS-facing objects; everything it adds, ``unload`` removes."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.action: QAction | None = None
        self.dock: CalliperDock | None = None

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        icon = QIcon(str(PLUGIN_DIR / "resources" / "icon.svg"))
        self.action = QAction(icon, "Calliper", self.iface.mainWindow())
        self.action.setObjectName("calliperShowDock")
        self.action.setToolTip("Show the Calliper dock: train location embeddings from POIs")
        self.action.setCheckable(True)
        self.dock = CalliperDock(self.iface, self.iface.mainWindow())
        self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.action.toggled.connect(self.dock.setUserVisible)
        self.dock.visibilityChanged.connect(self.action.setChecked)
        self.iface.addPluginToMenu(MENU, self.action)
        self.iface.addToolBarIcon(self.action)

    def unload(self) -> None:
        if self.action is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.dock is not None:
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
