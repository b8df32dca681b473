"""The Calliper dock. It first checks the Python packages the heavy features need.

When some are missing the dock says exactly which and shows the command that
installs them into the Python QGIS runs, instead of failing to load.
"""

from __future__ import annotations

from qgis.gui import QgsDockWidget
from qgis.PyQt.QtWidgets import QApplication, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..core.dependencies import install_command, missing_requirements


class DependencyPanel(QWidget):
    """Lists missing packages with a copyable install command; hidden when nothing is missing."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.command = QLineEdit()
        self.command.setReadOnly(True)
        self.copy_button = QPushButton("Copy install command")
        self.copy_button.clicked.connect(lambda: QApplication.clipboard().setText(self.command.text()))
        for widget in (self.message, self.command, self.copy_button):
            layout.addWidget(widget)
        self.refresh()

    def refresh(self) -> list:
        missing = missing_requirements()
        self.missing = missing
        if missing:
            names = ", ".join(req.pip_spec for req in missing)
            self.message.setText(
                f"<b>Calliper needs Python packages that are not installed:</b> {names}.<br>"
                "Run this command in a terminal (OSGeo4W Shell on Windows), then restart QGIS:"
            )
            self.command.setText(install_command(missing))
        self.setVisible(bool(missing))
        return missing


class CalliperDock(QgsDockWidget):
    """The dock widget; its panels are added as features land."""

    def __init__(self, iface, parent=None) -> None:
        super().__init__("Calliper", parent)
        self.setObjectName("CalliperDock")
        self.iface = iface
        body = QWidget()
        self.body_layout = QVBoxLayout(body)
        self.dependencies = DependencyPanel(body)
        self.body_layout.addWidget(self.dependencies)
        self.status = QLabel("All required packages are installed." if not self.dependencies.missing else "")
        self.body_layout.addWidget(self.status)
        self.body_layout.addStretch(1)
        self.setWidget(body)
