"""Messages for the user: the QGIS log panel under our own tab, and the message bar."""

from __future__ import annotations

from qgis.core import Qgis, QgsMessageLog

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
