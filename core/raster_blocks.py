"""Computing a raster's blocks in worker processes, and resuming a write that was interrupted.

``raster_grid.write_raster_by_blocks`` asks for blocks in order and writes them; this
module decides where they are computed (in this process, or in a pool of processes,
each with its own copy of the model and one share of the cores) and remembers which
blocks a partial file already holds. A resumable write keeps its partial GeoTIFF and
a sidecar listing finished blocks beside the output, both hidden; the sidecar carries
a fingerprint of every setting, so a changed setting starts again from nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import rasterio
from rasterio.windows import Window

from .atomic import atomic_path
from .dependencies import interpreter_for_pip

Compute = Callable[[np.ndarray], np.ndarray]
# Blocks queued per worker: enough to keep every worker busy while this process writes.
QUEUED_PER_WORKER = 2


@dataclass
class BlockRequest:
    """One block to compute: its index among the raster's windows, its pixel centres and which of them to compute."""

    index: int
    window: Window
    xy: np.ndarray
    keep: np.ndarray | None

    @property
    def wanted(self) -> np.ndarray:
        return self.xy if self.keep is None else self.xy[self.keep]


@dataclass
class BlockResult:
    """A block's computed values (kept pixels only) and the seconds computing them took."""

    request: BlockRequest
    values: np.ndarray
    seconds: float


def computed(compute: Compute, xy: np.ndarray, band_count: int) -> np.ndarray:
    """``compute(xy)``, checked to be one row of ``band_count`` values per point; nothing to compute gives no rows."""
    if len(xy) == 0:
        return np.empty((0, band_count))
    values = np.asarray(compute(xy))
    if values.shape != (len(xy), band_count):
        raise ValueError(f"compute returned shape {values.shape}, expected {(len(xy), band_count)}")
    return values


def _timed(compute: Compute, xy: np.ndarray, band_count: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    values = computed(compute, xy, band_count)
    return values, time.perf_counter() - started


# A worker process's compute function, set once by the pool's initializer so that
# the model is unpickled (and loaded) once per process, not once per block.
_worker_compute: Compute | None = None


def _start_worker(compute: Compute, threads: int) -> None:
    global _worker_compute
    _worker_compute = compute
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)  # the pool shares the cores; each process gets its part


def _compute_in_worker(xy: np.ndarray, band_count: int) -> tuple[np.ndarray, float]:
    return _timed(_worker_compute, xy, band_count)


def computed_blocks(
    requests: Iterable[BlockRequest], compute: Compute, band_count: int, workers: int = 1
) -> Iterator[BlockResult]:
    """Results for ``requests`` in their order, computed here (1 worker) or in a process pool.

    With several workers ``compute`` must pickle (a top-level function or an object
    such as ``rasters.PixelEmbedder``); stopping the iteration cancels queued blocks.
    """
    if workers <= 1:
        for request in requests:
            yield BlockResult(request, *_timed(compute, request.wanted, band_count))
        return
    try:
        pickle.dumps(compute)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise ValueError(f"compute must pickle to run in {workers} worker processes: {exc}") from exc
    context = multiprocessing.get_context("spawn")
    context.set_executable(interpreter_for_pip())  # inside QGIS sys.executable is QGIS itself
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(compute, threads))
    queued: deque[tuple[BlockRequest, Future]] = deque()
    try:
        for request in requests:
            queued.append((request, pool.submit(_compute_in_worker, request.wanted, band_count)))
            if len(queued) >= QUEUED_PER_WORKER * workers:
                request, future = queued.popleft()
                yield BlockResult(request, *future.result())
        while queued:
            request, future = queued.popleft()
            yield BlockResult(request, *future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def fingerprint(settings: dict, mask: np.ndarray | None = None) -> str:
    """A digest of everything that decides a raster's pixels: equal digests, interchangeable blocks."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    if mask is not None:
        digest.update(np.packbits(mask).tobytes())
    return digest.hexdigest()


@dataclass
class BlockOutput:
    """Where blocks are written, and the indices of those already there (from an interrupted run)."""

    path: Path
    done: set[int] = field(default_factory=set)


def _resume_paths(target: Path) -> tuple[Path, Path]:
    return target.with_name(f".{target.name}.partial"), target.with_name(f".{target.name}.blocks.json")


def _finished_blocks(partial: Path, sidecar: Path, key: str) -> set[int]:
    """Blocks of a partial file written with the same settings; anything else is removed."""
    try:
        record = json.loads(sidecar.read_text())
        with rasterio.open(partial):
            pass
    except (OSError, ValueError, rasterio.errors.RasterioError):
        record = {}
    if record.get("fingerprint") == key:
        return set(record["blocks"])
    partial.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)
    return set()


@contextmanager
def block_output(target: Path, key: str | None) -> Iterator[BlockOutput]:
    """The file to write ``target``'s blocks into; it replaces ``target`` when the block exits normally.

    Without a ``key`` this is an atomic temporary file, removed on any error. With
    one, an interrupted write (cancel, Ctrl+C, an error) keeps the partial file and
    lists its finished blocks; the next write with the same key starts from them.
    Callers close the dataset before the exception reaches here, so the listed
    blocks are on disk.
    """
    if key is None:
        with atomic_path(target) as temporary:
            yield BlockOutput(temporary)
        return
    partial, sidecar = _resume_paths(target)
    output = BlockOutput(partial, _finished_blocks(partial, sidecar, key))
    try:
        yield output
    except BaseException:
        if output.done:
            with atomic_path(sidecar) as temporary:
                temporary.write_text(json.dumps({"fingerprint": key, "blocks": sorted(output.done)}))
        else:
            partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    sidecar.unlink(missing_ok=True)


def describe_seconds(seconds: float) -> str:
    """A duration as people say it: '40 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
