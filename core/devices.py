"""Choosing where torch runs: CUDA when present and wanted, CPU otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SettingsError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceChoice:
    """The device to use and, when it differs from the request, why."""

    device: str
    note: str = ""

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be used, and the GPU's name or the reason it cannot."""
    import torch

    if not torch.cuda.is_available():
        reason = "this PyTorch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU was found"
        return False, reason
    return True, torch.cuda.get_device_name(0)


def choose_device(requested: str = "auto") -> DeviceChoice:
    """Resolve 'auto' / 'cpu' / 'cuda'; a CUDA request without CUDA falls back to CPU with a note."""
    requested = (requested or "auto").lower()
    if requested not in DEVICE_CHOICES and not requested.startswith("cuda:"):
        raise SettingsError(f"Unknown device '{requested}'. Choose one of: {', '.join(DEVICE_CHOICES)}.")
    if requested == "cpu":
        return DeviceChoice("cpu")
    available, detail = cuda_status()
    if available:
        return DeviceChoice("cuda" if requested == "auto" else requested)
    if requested == "auto":
        return DeviceChoice("cpu")
    return DeviceChoice("cpu", f"CUDA was requested but {detail}; running on the CPU instead.")
