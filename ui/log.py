"""Messages for the user: the QGIS log panel under our own tab, and the message bar."""

from __future__ import annotations

import sys

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt.QtCore import QCoreApplication, QThread

LOG_TAG = "Calliper"


def log(message: str, level=Qgis.MessageLevel.Info) -> None:
    """Write to the 'Calliper' tab of the log panel."""
    QgsMessageLog.logMessage(message, LOG_TAG, level)


def show_error(iface, error) -> None:
    """A CalliperError in the message bar (short text) with details in the log."""
    message = getattr(error, "message", str(error))
    details = getattr(error, "more_details", "")
    log(f"{message}\n{details}".strip(), Qgis.MessageLevel.Critical)
    if iface is not None:
        iface.messageBar().pushMessage("Calliper", message, Qgis.MessageLevel.Critical, 10)


def show_warning(iface, error) -> None:
    """A CalliperError worth knowing that stops nothing: the log, and the message bar when on the GUI thread.

    Without a window (``qgis_process``) the message goes to standard error, where its user reads it.
    """
    log(f"{error.message}\n{error.more_details}".strip(), Qgis.MessageLevel.Warning)
    if iface is None:
        print(f"Calliper: {error.message}", file=sys.stderr)
    elif QThread.currentThread() == QCoreApplication.instance().thread():
        iface.messageBar().pushMessage("Calliper", error.message, Qgis.MessageLevel.Warning, 0)
