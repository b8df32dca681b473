"""Choosing where torch runs: CUDA when present and wanted, CPU otherwise."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

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


CPU_BATCH = 1024
"""The paper's batch: on a CPU a larger one only makes each step slower."""
GPU_BATCH_MIN, GPU_BATCH_MAX = 8192, 32768
# A step holds about six B x B float32 matrices (logits both ways, their softmax and
# gradients) plus the towers' activations, about 16 KB a row at the default sizes.
SIMILARITY_MATRICES = 6
ACTIVATION_BYTES_PER_ROW = 16 * 1024
GPU_MEMORY_SHARE = 0.5


def batch_for_memory(free_bytes: int) -> int:
    """The largest power-of-two batch in 8192..32768 whose step fits in half of ``free_bytes`` (8192 at least)."""
    batch = GPU_BATCH_MAX
    while batch > GPU_BATCH_MIN:
        need = SIMILARITY_MATRICES * 4 * batch * batch + ACTIVATION_BYTES_PER_ROW * batch
        if need <= GPU_MEMORY_SHARE * free_bytes:
            break
        batch //= 2
    return batch


def default_batch_size(device: str) -> int:
    """The batch when none is given: the paper's on a CPU, as many negatives as free GPU memory allows on CUDA."""
    if not device.startswith("cuda"):
        return CPU_BATCH
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return batch_for_memory(free)


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run torch on ``count`` CPU threads inside the block (None: leave torch's setting), then restore it."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
