"""The Calliper dock. It first checks the Python packages the heavy features need.

When some are missing the dock says exactly which and installs them into the QGIS
profile with one click (``installer_panel``), instead of failing to load. The panels
(which import torch) are built the first time the dock is shown, so QGIS starts fast.
"""

from __future__ import annotations

from pathlib import Path

from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import Qt, QUrl
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QScrollArea, QTabWidget, QToolButton, QVBoxLayout, QWidget,
)

from ..adapters.help_pages import GETTING_STARTED, page_url
from ..adapters.profile_packages import plugin_version, profile_dependency_folder
from ..core.install.plan import make_plan
from . import settings
from .fit import fit_narrow
from .installer_panel import InstallerPanel


# The documentation page of each tab (by its title); before the tabs exist, Help opens Getting started.
TAB_PAGES = {"Train": "tabs/train.html", "Maps": "tabs/maps.html", "Classify": "tabs/classify.html",
             "Imagery": "tabs/imagery.html"}
NO_HELP = ("This copy of the plugin has no built documentation (a source checkout: build it with "
           "scripts/docs.py); the plugin ZIP carries it.")


class ModelPicker(QWidget):
    """The current model: recent models (remembered) plus whatever Train just wrote."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model"))
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setToolTip("Model folder (model.safetensors + card.json); recent models are remembered")
        layout.addWidget(self.combo, 1)
        self.combo.addItems(settings.recent_models())

    def set_model(self, folder: str) -> None:
        models = settings.remember_model(folder)
        self.combo.clear()
        self.combo.addItems(models)
        self.combo.setCurrentIndex(0)

    def folder(self) -> str:
        return self.combo.currentText().strip()

    def load(self):
        """The current model, loaded once per folder (and again when its card changes)."""
        from ..core.catalog.loading import load_model
        from ..core.errors import CalliperError
        from ..core.model.files import CARD_FILE

        folder = self.folder()
        if not folder:
            raise CalliperError("Choose a model first: train one (Train tab) or pick a model folder.")
        card = Path(folder) / CARD_FILE
        key = (folder, card.stat().st_mtime if card.exists() else None)
        if getattr(self, "_loaded_key", None) != key:
            self._loaded = load_model(folder)
            self._loaded_key = key
        return self._loaded


class CalliperDock(QgsDockWidget):
    """The dock widget: dependency check, model picker and the feature panels."""

    def __init__(self, iface, parent=None) -> None:
        super().__init__("Calliper", parent)
        self.setObjectName("CalliperDock")
        self.setMinimumWidth(300)
        self.iface = iface
        body = QWidget()
        self.body_layout = QVBoxLayout(body)
        self.header = QHBoxLayout()  # the model picker joins it, left of Help, once the panels exist
        self.help_button = QToolButton()  # narrower than a push button: the row must fit 360 px
        self.help_button.setText("Help")
        self.help_button.setToolTip("Open the documentation page of the current tab (shipped with the plugin)")
        self.help_button.clicked.connect(self.open_help)
        self.header.addWidget(self.help_button, 0, Qt.AlignmentFlag.AlignRight)
        self.body_layout.addLayout(self.header)
        folder = profile_dependency_folder()
        self.dependencies = InstallerPanel(
            iface, folder, lambda torch: make_plan(folder, torch, plugin_version=plugin_version()), body)
        self.dependencies.installed.connect(self._packages_installed)
        self.body_layout.addWidget(fit_narrow(self.dependencies))
        self.tabs: QTabWidget | None = None
        self.train_panel = None
        self.maps_panel = None
        self.classify_panel = None
        self.imagery_panel = None
        self.model_picker: ModelPicker | None = None
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.setWidget(scroll)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.ensure_panels()

    def help_page(self) -> str:
        """The documentation page of the current tab, relative to the built site."""
        if self.tabs is None:
            return GETTING_STARTED
        return TAB_PAGES[self.tabs.tabText(self.tabs.currentIndex())]

    def open_help(self) -> None:
        url = page_url(self.help_page())
        if not url:
            self.iface.messageBar().pushWarning("Calliper", NO_HELP)
            return
        QDesktopServices.openUrl(QUrl(url))

    def running_tasks(self) -> list:
        panels = (self.dependencies, self.train_panel, self.maps_panel, self.classify_panel, self.imagery_panel,
                  getattr(self.maps_panel, "describe", None))
        return [panel.task for panel in panels if panel is not None and getattr(panel, "task", None) is not None]

    def cancel_tasks(self, timeout_s: float = 60.0) -> bool:
        """Cancel every running Calliper task and wait for it (its outputs are atomic: nothing half-written stays)."""
        tasks = self.running_tasks()
        for task in tasks:
            task.cancel()
        return all(task.waitForFinished(int(timeout_s * 1000)) for task in tasks)

    def _packages_installed(self, restart_needed: bool) -> None:
        if not restart_needed:
            self.ensure_panels()

    def ensure_panels(self) -> bool:
        """Build the panels once, if every required package is present."""
        if self.tabs is not None or self.dependencies.refresh():
            return self.tabs is not None
        from .train_panel import TrainPanel

        self.model_picker = ModelPicker()
        self.header.insertWidget(0, self.model_picker, 1)
        self.tabs = QTabWidget()
        self.train_panel = TrainPanel(self.iface)
        self.train_panel.refresh_devices()
        self.train_panel.model_trained.connect(self.model_picker.set_model)
        self.tabs.addTab(self.train_panel, "Train")
        from .maps_panel import MapsPanel

        self.maps_panel = MapsPanel(self.iface, self.model_picker.load)
        self.model_picker.combo.currentTextChanged.connect(lambda _: self.maps_panel.model_changed())
        self.tabs.addTab(self.maps_panel, "Maps")
        from .classify_panel import ClassifyPanel

        self.classify_panel = ClassifyPanel(self.iface, self.model_picker.load)
        self.tabs.addTab(self.classify_panel, "Classify")
        from .imagery_panel import ImageryPanel

        self.imagery_panel = ImageryPanel(self.iface, self.model_picker.folder)
        self.tabs.addTab(self.imagery_panel, "Imagery")
        self.body_layout.addWidget(self.tabs)
        fit_narrow(self.widget().widget())
        return True
