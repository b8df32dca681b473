"""Processing feedback -> core JobControl, and core errors -> Processing exceptions."""

from __future__ import annotations

from contextlib import contextmanager

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from ..core.errors import CalliperError, disk_full
from ..core.jobs import JobControl


def control_for(feedback: QgsProcessingFeedback | None) -> JobControl:
    """Progress, cancel and log of a core job wired to the algorithm's feedback (a run may have none)."""
    if feedback is None:
        return JobControl()
    return JobControl(
        progress=lambda fraction, message: feedback.setProgress(100.0 * fraction),
        is_cancelled=feedback.isCanceled,
        log=feedback.pushInfo,
    )


@contextmanager
def user_errors():
    """Show a CalliperError as the algorithm's error message, details in the log."""
    try:
        yield
    except CalliperError as error:
        raise QgsProcessingException(f"{error.message}\n{error.more_details}".strip()) from error
    except OSError as error:
        full = disk_full(error)
        if full is None:
            raise
        raise QgsProcessingException(f"{full.message}\n{full.more_details}".strip()) from error
