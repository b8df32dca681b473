"""One exception family for everything a user can do wrong or that can go wrong.

Each subclass carries a short ``message`` written for a GIS user (shown in the QGIS
message bar or printed by the command line) and optional ``more_details`` (shown
behind a "More info" button or in the log), following QuickOSM's pattern.
"""

from __future__ import annotations


class CalliperError(Exception):
    """Base class: a failure with a message a user can act on."""

    def __init__(self, message: str, more_details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.more_details = more_details


class InputDataError(CalliperError):
    """A layer or file given as input cannot be used as it is."""


class FieldError(InputDataError):
    """A chosen attribute field is missing or holds nothing usable."""


class CrsError(InputDataError):
    """A layer has no coordinate reference system, or one we cannot use."""


class ModelFileError(CalliperError):
    """A model folder is missing, corrupt, or from an incompatible version."""


class TextModelError(CalliperError):
    """The sentence-transformer text model cannot be found or loaded."""


class OutputPathError(CalliperError):
    """An output path cannot be written, or would overwrite something it must not."""


class SettingsError(CalliperError):
    """A setting (epochs, scales, pixel size, ...) is out of its valid range."""


class MissingDependencyError(CalliperError):
    """A Python package the plugin needs is not installed in QGIS's Python."""


class CancelledError(CalliperError):
    """The user cancelled a running job; partial outputs have been removed, or kept hidden to resume."""

    def __init__(self, what: str = "The job", resumable: bool = False) -> None:
        if resumable:
            super().__init__(f"{what} was cancelled. Its finished blocks are kept hidden beside the output: "
                             "make it again with the same settings to resume.")
        else:
            super().__init__(f"{what} was cancelled; no partial output was kept.")


class InstallError(CalliperError):
    """Installing the plugin's Python packages failed; nothing half-installed was left in place."""


class RegistryUnreachableError(InstallError):
    """pip could not reach the package index."""


class DiskFullError(InstallError):
    """The disk (or a file-size limit) stopped the install."""


class TamperedDownloadError(InstallError):
    """A downloaded file's sha256 is not the one in the lock: it was not installed, nor anything with it."""


DISK_FULL_ERRNOS = {28, 27, 122}  # ENOSPC, EFBIG (a file-size limit), EDQUOT
"""errno values that mean the disk (or a quota, or ulimit -f) stopped a write."""


def disk_full(error: BaseException) -> DiskFullError | None:
    """Our message for an OSError that is a full disk (numpy reports a short write without an errno), else None."""
    if not isinstance(error, OSError):
        return None
    if error.errno in DISK_FULL_ERRNOS or " requested and " in str(error) or "No space left" in str(error):
        where = f" writing {error.filename}" if error.filename else ""
        return DiskFullError(
            f"The disk is full (or a file-size limit was reached){where}. Free some space or choose an output "
            "on another disk, then run it again; no partial output was kept (a raster keeps its finished "
            "blocks hidden beside the output, to resume).", str(error))
    return None
