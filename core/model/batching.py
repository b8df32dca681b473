"""Location encoding at the machine's speed, for rasters: a frozen MLP and a measured batch.

On a CPU the residual MLP's small matrix products leave much time to the ReLUs, bias
and residual adds between them. ``frozen_location_encoder`` traces the MLP once and
lets torch fold and fuse it for inference (oneDNN: linear + ReLU in one kernel), about
1.5x the eager speed on this machine. A CPU is also fastest with batches whose
activations stay in its caches, a GPU with the largest batch that fits; where the turn
comes depends on the caches, threads and the network's width, so
``fastest_location_batch`` times a few candidates on the same points once per process
and network shape, well under a second, and keeps the winner for every later raster.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from .network import CalliperNet

Encoder = Callable[[torch.Tensor], torch.Tensor]

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
def frozen_location_encoder(net: torch.nn.Module) -> Encoder:
    """``coords (N, 2) float64 -> (N, D)`` normalised embeddings, with the MLP frozen for inference on a CPU.

    Other networks (the context-graph encoder, a GPU) keep their own ``encode_location``.
    """
    device = next(net.parameters()).device
    if type(net) is not CalliperNet or device.type != "cpu":
        return net.encode_location
    tower = net.location
    example = tower.posenc(torch.zeros(64, 2, dtype=torch.float64))
    traced = torch.jit.trace(tower.nnet.eval(), example, check_trace=False)  # the check imports torch.testing: 1 s
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

    def encode(coords: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(frozen(tower.posenc(coords)), dim=-1)

    return encode


@torch.inference_mode()
def fastest_location_batch(encode: Encoder, net: torch.nn.Module, sample_xy: np.ndarray) -> int:
    """The candidate batch size with the shortest time for ``encode`` on the same points (model coordinates)."""
    device = next(net.parameters()).device
    key = _shape_key(net, device)
    if key not in _measured:
        kind = "cuda" if device.type == "cuda" else "cpu"
        candidates = GPU_CANDIDATES if kind == "cuda" else CPU_CANDIDATES
        rows = np.random.default_rng(0).integers(0, len(sample_xy), MEASURED_POINTS[kind])
        coords = torch.from_numpy(np.ascontiguousarray(sample_xy[rows], dtype=np.float64)).to(device)
        _seconds(encode, coords[: candidates[0]], candidates[0])  # warm-up: allocations, kernels
        times = {batch: _seconds(encode, coords, batch) for batch in candidates}
        _measured[key] = min(times, key=times.get)
    return _measured[key]
