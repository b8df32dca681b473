"""The dock's package installer: what is missing, what it costs, one Install button, never a terminal.

Packages go into the profile's dependency folder (``core.install``): pip runs in a
background task with its log in the Calliper log tab, progress and Cancel; QGIS stays
responsive. Once installed, the folder goes on ``sys.path`` and the dock comes up
without a restart, unless an older copy of a package was already imported. An Install
click while the package check runs is queued: the install starts when the check ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.dependencies import missing_requirements
from ..core.install.folder import activate, folder_state, shadowed_imports
from ..core.install.plan import InstallPlan, Resolution, folder_bytes, install, resolve
from ..core.install.torch_variant import nvidia_driver
from . import settings
from .log import log
from .tasks import CoreTask, TaskProgress, start_panel_task
from .fit import StatusLabel

TORCH_CHOICES = (("auto", "Auto"), ("cpu", "CPU (about 200 MB)"), ("cuda", "CUDA, NVIDIA GPUs (several GB)"))

PlanFactory = Callable[[str], InstallPlan]


class InstallerPanel(QWidget):
    """Missing packages, the torch build, the download size, Install / Cancel; hidden when all is in place."""

    installed = pyqtSignal(bool)
    """Emitted after a successful install; True when QGIS must restart to use it."""

    def __init__(self, iface, folder: Path, make_plan: PlanFactory, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.folder = Path(folder)
        self.make_plan = make_plan
        self.task: CoreTask | None = None
        self.resolution: Resolution | None = None
        self.missing: list = []
        self.install_queued = False
        """Install was clicked during the package check: it starts when the check ends."""
        self.install_label = "Install"
        layout = QVBoxLayout(self)
        self.message = StatusLabel()
        layout.addWidget(self.message)
        form = QFormLayout()
        self.torch = QComboBox()
        driver = nvidia_driver()
        for key, label in TORCH_CHOICES:
            if key == "auto":
                # short enough to read whole in the 360 px dock ("Automatic: ... found)" was cut after "driver")
                label = f"Auto: {'CUDA (NVIDIA driver)' if driver else 'CPU (no NVIDIA driver)'}"
            self.torch.addItem(label, key)
        self.torch.setCurrentIndex(max(0, self.torch.findData(settings.load("install/torch", "auto"))))
        self.torch.setToolTip("The torch build to install: CUDA needs an NVIDIA GPU and driver; CPU works everywhere.")
        self.torch.currentIndexChanged.connect(self._torch_changed)
        form.addRow("torch build", self.torch)
        layout.addLayout(form)
        self.size = QLabel()
        self.size.setWordWrap(True)
        layout.addWidget(self.size)
        self.install_button = QPushButton("Install")
        self.install_button.setToolTip(f"Install the packages into {self.folder} (only this folder is written)")
        self.install_button.clicked.connect(self.start_install)
        layout.addWidget(self.install_button)
        self.progress = TaskProgress()
        layout.addWidget(self.progress)
        self.status = StatusLabel()
        layout.addWidget(self.status)

    def torch_request(self) -> str:
        return self.torch.currentData()

    def refresh(self) -> list:
        """Show the panel when packages are missing or the folder was made for other pins; returns what is missing."""
        self.missing = missing_requirements()
        plan = self.make_plan(self.torch_request())
        state = folder_state(self.folder, plan.digest)
        outdated = state.status == "outdated"
        if self.missing or outdated:
            names = ", ".join(req.pip_spec for req in self.missing) or "none missing"
            upgrade = f"<br>{state.message}" if outdated else ""
            self.message.setText(
                f"<b>Calliper needs Python packages that QGIS does not have:</b> {names}.{upgrade}<br>"
                f"They go into your QGIS profile ({self.folder}); nothing else on this computer is changed."
            )
            self.install_button.setText("Upgrade" if outdated and not self.missing else "Install")
            if self.resolution is None and self.task is None:
                self.check_size()
        self.setVisible(bool(self.missing) or outdated)
        return self.missing

    def _torch_changed(self) -> None:
        settings.save("install/torch", self.torch_request())
        self.resolution = None
        if self.task is None:
            self.check_size()

    def check_size(self) -> None:
        """Resolve the packages in the background and show how many and how large they are."""
        request = self.torch_request()
        plan = self.make_plan(request)
        self.size.setText(f"Checking what to download… ({plan.summary()})")

        def done(resolution: Resolution) -> None:
            if request != self.torch_request():  # the torch build was changed during the check
                self.check_size()
                return
            self.resolution = resolution
            notes = "".join(f"<br>{note}." for note in plan.notes) + "".join(f"<br>{note}" for note in resolution.notes)
            self.size.setText(f"{resolution.describe()}; torch build: {resolution.torch_build or '-'}.{notes}")
            if self.install_queued:
                self.start_install()
            else:
                self.status.setText(f"Ready to install: click {self.install_button.text()}.")

        start_panel_task(self, "checking packages to install", lambda control: resolve(plan, control), done,
                         lambda error: self._unqueue())

    def _unqueue(self) -> None:
        """A queued install is dropped when the check fails or is cancelled: the button is as it was."""
        if self.install_queued:
            self.install_queued = False
            self.install_button.setText(self.install_label)
            self.install_button.setEnabled(True)

    def start_install(self) -> None:
        if self.task is not None:  # the package check: install as soon as it ends
            if not self.install_queued:
                self.install_queued, self.install_label = True, self.install_button.text()
                self.install_button.setText("Install after the check…")
                self.install_button.setEnabled(False)
                self.status.setText("Checking the packages to install; the install starts when the check ends…")
            return
        if self.install_queued:
            self.install_queued = False
            self.install_button.setText(self.install_label)
        plan = self.make_plan(self.torch_request())
        self.install_button.setEnabled(False)
        log(f"Installing the Calliper packages: {plan.summary()}")
        known = self.resolution

        def work(control):
            resolution = known or resolve(plan, control.part(0.0, 0.1))
            return resolution, install(plan, resolution, control.part(0.1, 1.0) if known is None else control)

        def done(result) -> None:
            self.install_button.setEnabled(True)
            resolution, _ = result
            activate(self.folder)
            shadowed = shadowed_imports(self.folder)
            if shadowed:
                log(f"Already imported from elsewhere, used after a restart: {', '.join(shadowed)}")
            restart = bool(shadowed) or bool(missing_requirements())
            size = folder_bytes(self.folder) / 1e6
            self.status.setText(
                f"Installed {len(resolution.packages)} packages ({size:,.0f} MB in {self.folder})."
                + (" Restart QGIS to use them." if restart else "")
            )
            log(self.status.text())
            self.resolution = None
            self.installed.emit(restart)

        start_panel_task(self, "installing packages", work, done, lambda error: self.install_button.setEnabled(True))
        self.status.setText("Installing… (the pip log is in the Calliper tab of the log panel)")
