"""The location batch that runs fastest on this machine, measured rather than assumed.

A CPU is fastest with batches whose MLP activations stay in its caches, a GPU with the
largest batch that fits; where the turn comes depends on the cache sizes, the thread
count and the network's width. ``fastest_location_batch`` times a few candidates on the
same points once per process and network shape, well under a second, and keeps the
winner for every later raster.
"""

from __future__ import annotations

import time

import numpy as np
import torch

CPU_CANDIDATES = (1024, 4096, 16384)
GPU_CANDIDATES = (16384, 65536, 262144)
MEASURED_POINTS = {"cpu": 16384, "cuda": 262144}
_measured: dict[tuple, int] = {}


def _shape_key(net: torch.nn.Module, device: torch.device) -> tuple:
    shapes = tuple(tuple(p.shape) for p in net.parameters())
    return device.type, torch.get_num_threads(), shapes


def _seconds(encode, coords: torch.Tensor, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(coords), batch):
        encode(coords[start : start + batch])
    if coords.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


@torch.inference_mode()
def fastest_location_batch(net: torch.nn.Module, sample_xy: np.ndarray) -> int:
    """The candidate batch size with the shortest time to encode the same points (model coordinates)."""
    device = next(net.parameters()).device
    key = _shape_key(net, device)
    if key not in _measured:
        kind = "cuda" if device.type == "cuda" else "cpu"
        candidates = GPU_CANDIDATES if kind == "cuda" else CPU_CANDIDATES
        rows = np.random.default_rng(0).integers(0, len(sample_xy), MEASURED_POINTS[kind])
        coords = torch.from_numpy(np.ascontiguousarray(sample_xy[rows], dtype=np.float64)).to(device)
        _seconds(net.encode_location, coords[: candidates[0]], candidates[0])  # warm-up: allocations, kernels
        times = {batch: _seconds(net.encode_location, coords, batch) for batch in candidates}
        _measured[key] = min(times, key=times.get)
    return _measured[key]
