"""Which torch build to install: CUDA where an NVIDIA driver is present, the CPU build otherwise.

PyPI's Linux torch wheel is the CUDA build (several GB); the CPU build (about 200 MB)
comes from PyTorch's own index with a ``+cpu`` version. On Windows it is the reverse,
and macOS has one build. The choice is shown in the dock and can be overridden.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError

PYTORCH_INDEX = "https://download.pytorch.org/whl"
WINDOWS_CUDA_TAG = "cu126"
CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TorchVariant:
    """A torch build: its name, the requirement pip gets, the extra index it lives on, and why it was chosen."""

    name: str
    spec: str
    index_url: str | None
    reason: str

    @property
    def source(self) -> str:
        """Where this build comes from, as lock files name it: ``pypi`` (the configured index) or the PyTorch index's
        folder (``cpu``, ``cu126``)."""
        return self.index_url.rstrip("/").rsplit("/", 1)[-1] if self.index_url else "pypi"


def nvidia_driver() -> str | None:
    """Where an NVIDIA driver shows itself on this machine, or None."""
    candidates = [Path("/proc/driver/nvidia/version")]
    if os.name == "nt":
        candidates.append(Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32" / "nvcuda.dll")
    for path in candidates:
        if path.exists():
            return str(path)
    return shutil.which("nvidia-smi")


def choose_torch_variant(
    version: str, requested: str = "auto", platform: str = sys.platform, driver: str | None = None
) -> TorchVariant:
    """The torch build to install for ``requested`` ('auto', 'cpu' or 'cuda'); ``driver`` is what ``nvidia_driver`` found."""
    if requested not in CHOICES:
        raise SettingsError(f"The torch build is one of {', '.join(CHOICES)} (got {requested!r}).")
    if platform == "darwin":
        if requested == "cuda":
            raise SettingsError("There is no CUDA build of torch for macOS; choose CPU (it uses Apple's GPU where it can).")
        return TorchVariant("cpu", f"torch=={version}", None, "macOS has one torch build")
    name = requested
    if requested == "auto":
        name = "cuda" if driver else "cpu"
        reason = f"NVIDIA driver found ({driver})" if driver else "no NVIDIA driver found"
    else:
        reason = "chosen by hand"
    if platform.startswith("win"):
        if name == "cuda":
            return TorchVariant("cuda", f"torch=={version}+{WINDOWS_CUDA_TAG}", f"{PYTORCH_INDEX}/{WINDOWS_CUDA_TAG}", reason)
        return TorchVariant("cpu", f"torch=={version}", None, reason)
    if name == "cuda":
        return TorchVariant("cuda", f"torch=={version}", None, reason)
    return TorchVariant("cpu", f"torch=={version}+cpu", f"{PYTORCH_INDEX}/cpu", reason)
