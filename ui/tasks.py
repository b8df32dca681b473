"""Running core work in a QgsTask: progress, cancel, and results back on the main thread.

QGIS deletes a task's C++ object when it finishes, so results are copied out and
handed over through Python callbacks in ``finished()`` (which runs on the main thread).
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from ..core.errors import CalliperError, disk_full
from ..core.jobs import JobControl
from .log import log, show_error


class CoreTask(QgsTask):
    """Runs ``work(control, publish)`` in a worker thread, then ``on_done(result)`` or ``on_error(error)``.

    ``publish(obj)`` sends a structured report (an epoch's losses, say) to the main thread.
    """

    message = pyqtSignal(str)
    report = pyqtSignal(object)

    def __init__(self, description: str, work: Callable[[JobControl, Callable[[object], None]], Any], on_done: Callable[[Any], None],
                 on_error: Callable[[Exception], None]) -> None:
        super().__init__(description, QgsTask.Flag.CanCancel)
        self.work = work
        self.on_done = on_done
        self.on_error = on_error
        self.result: Any = None
        self.error: Exception | None = None

    def control(self) -> JobControl:
        return JobControl(
            progress=lambda fraction, text: (self.setProgress(100.0 * fraction), self.message.emit(text)),
            is_cancelled=self.isCanceled,
            log=lambda text: log(text),
        )

    def run(self) -> bool:
        # The work runs in a Python-created thread: pyproj keeps its PROJ contexts in
        # Python thread-locals, and a QGIS pool thread (whose Python thread state is
        # rebuilt per call) reused for a second task crashed inside pyproj.
        worker = threading.Thread(target=self._work, name="calliper-task", daemon=True)
        worker.start()
        worker.join()
        return self.error is None

    def _work(self) -> None:
        try:
            self.result = self.work(self.control(), self.report.emit)
        except CalliperError as error:
            self.error = error
        except Exception as error:  # an unexpected bug: report it with its traceback, never let it escape into QGIS
            self.error = disk_full(error) or CalliperError(
                f"{self.description()} failed unexpectedly: {error}", traceback.format_exc())

    def finished(self, succeeded: bool) -> None:
        try:
            if succeeded:
                self.on_done(self.result)
            else:
                self.on_error(self.error or CalliperError(f"{self.description()} was cancelled."))
        except RuntimeError as error:  # its panel was deleted meanwhile (the plugin unloaded): nothing to show
            log(f"{self.description()} ended after its panel closed ({error}).")


class TaskProgress(QWidget):
    """A progress bar and Cancel button that follow whichever CoreTask is handed to ``watch``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.task: CoreTask | None = None
        self.cancel_button.clicked.connect(self.cancel)

    def watch(self, task: CoreTask) -> None:
        self.task = task
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        task.progressChanged.connect(self._progress)  # a bound method: Qt drops it when this widget goes

    def _progress(self, value: float) -> None:
        self.bar.setValue(int(value))

    def done(self) -> None:
        self.task = None
        self.cancel_button.setEnabled(False)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


def start_panel_task(panel, title: str, work: Callable[[JobControl], Any], on_done: Callable[[Any], None],
                     on_failed: Callable[[Exception], None] | None = None) -> None:
    """Run ``work(control)`` as the panel's one task (``panel.task``), with its status line and progress bar.

    The panel needs ``iface``, ``task``, ``status`` (QLabel) and ``progress`` (TaskProgress);
    a second job while one runs is refused with a message, errors go to the message bar
    (and to ``on_failed``, for what the panel itself must undo).
    """
    if panel.task is not None:
        panel.iface.messageBar().pushInfo("Calliper", "Another Calliper job is running; wait for it or cancel it.")
        return
    panel.status.setText(f"{title}…")

    def done(result) -> None:
        panel.task = None
        panel.progress.done()
        try:  # turning results into layers runs on the main thread: an error here must not reach Qt
            on_done(result)
        except CalliperError as error:
            failed(error)
        except Exception as error:  # noqa: BLE001 - a bug, reported with its traceback instead of aborting QGIS
            failed(CalliperError(f"Adding the results of '{title}' failed: {error}", traceback.format_exc()))

    def failed(error) -> None:
        panel.task = None
        panel.progress.done()
        panel.status.setText(getattr(error, "message", str(error)))
        show_error(panel.iface, error)
        if on_failed is not None:
            on_failed(error)

    panel.task = CoreTask(f"Calliper: {title}", lambda control, publish: work(control), done, failed)
    panel.progress.watch(panel.task)
    QgsApplication.taskManager().addTask(panel.task)
