"""Computing a raster's blocks in worker processes, and keeping finished blocks so a write can resume.

``raster_grid.write_raster_by_blocks`` asks for blocks in order and writes them; this
module decides where they are computed (in this process, or in a pool of processes,
each with its own copy of the model and one share of the cores). A resumable write
puts each finished block in a journal, a hidden folder beside the output, as soon as
it arrives, and assembles the GeoTIFF from the journal once every block is there. A
write interrupted in any way, a kill included, therefore loses at most the blocks in
flight; the journal's fingerprint of every setting makes a changed setting start
again from nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import re
import shutil
import sys
import time
import zlib
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from rasterio.windows import Window

from ..atomic import atomic_path
from ..dependencies import interpreter_for_pip

Compute = Callable[[np.ndarray], np.ndarray]
# Blocks queued per worker: enough to keep every worker busy while this process writes.
QUEUED_PER_WORKER = 2
# The journal's file naming the settings its blocks were computed with.
FINGERPRINT = "fingerprint"


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


def _journal_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.blocks")


def _remove_old_layout(target: Path) -> None:
    """Drop what the journal's predecessor left beside ``target`` (a partial GeoTIFF and its block list)."""
    for leftover in (target.with_name(f".{target.name}.partial"), target.with_name(f".{target.name}.blocks.json")):
        leftover.unlink(missing_ok=True)


def _checksum(values: np.ndarray) -> str:
    return f"{zlib.crc32(memoryview(np.ascontiguousarray(values)).cast('B')):08x}"


def _fsync_folder(folder: Path) -> None:
    if os.name != "nt":  # Windows cannot open a folder for fsync; NTFS journals the rename itself
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


class BlockJournal:
    """The finished blocks of a resumable raster: one ``.npy`` file per block in a hidden folder beside it.

    A block's file gets its name only once it is whole and on disk (written under a
    temporary name, fsynced, then renamed), so a write killed at any moment, even by
    SIGKILL or a power cut, keeps every block finished before. The name carries a
    CRC-32 of the values (``7-1a2b3c4d.npy``): a block whose bytes were damaged is
    found on resume and computed again. The folder's ``fingerprint`` file names the
    settings the blocks were computed with; other settings start from nothing.
    """

    def __init__(self, target: Path, key: str, shapes: list[tuple[int, ...]], dtype: np.dtype) -> None:
        self.target = Path(target)
        self.folder = _journal_folder(self.target)
        self.shapes = shapes
        self.dtype = np.dtype(dtype)
        self.key = key
        _remove_old_layout(self.target)
        self.files: dict[int, Path] = {}
        self.done = self._finished_blocks()  # by earlier writes; this one's blocks are not added
        self.started = self.folder.is_dir()

    @staticmethod
    def kept_bytes(target: Path) -> int:
        """What the journal of ``target`` holds on disk now (0 without one): freed or reused by the next write."""
        folder = _journal_folder(Path(target))
        return sum(path.stat().st_size for path in folder.iterdir()) if folder.is_dir() else 0

    def _block_path(self, index: int, values: np.ndarray) -> Path:
        return self.folder / f"{index}-{_checksum(values)}.npy"

    def _finished_blocks(self) -> set[int]:
        """Blocks kept by an earlier write with the same settings; anything else, or another journal, is removed."""
        try:
            same = (self.folder / FINGERPRINT).read_text() == self.key
        except OSError:
            same = False
        if not same:
            if self.folder.exists():
                shutil.rmtree(self.folder)
            return set()
        done = set()
        for path in self.folder.iterdir():
            if path.name == FINGERPRINT:
                continue
            index = self._whole_block(path)
            if index is None or index in done:
                path.unlink()
            else:
                done.add(index)
                self.files[index] = path
        return done

    def _whole_block(self, path: Path) -> int | None:
        """The index of a block file with its block's shape, dtype and checksum; None for anything else.

        A file cut short fails ``np.load``; one of the right size holding other bytes fails
        the CRC-32 in its name. Either way the block is computed again.
        """
        name = re.fullmatch(r"(0|[1-9][0-9]*)-([0-9a-f]{8})\.npy", path.name)
        index = int(name.group(1)) if name else -1
        if not 0 <= index < len(self.shapes):
            return None
        try:
            block = np.load(path, mmap_mode="r")
            whole = block.shape == self.shapes[index] and block.dtype == self.dtype and _checksum(block) == name.group(2)
        except (OSError, ValueError, EOFError):
            return None
        finally:
            block = None  # closes the memory map: Windows cannot remove a mapped file
        return index if whole else None

    def write(self, index: int, values: np.ndarray) -> None:
        """Keep one finished block; the first one creates the journal, so a write stopped before it leaves nothing."""
        if not self.started:
            with atomic_path(self.folder / FINGERPRINT) as temporary:
                temporary.write_text(self.key)
            self.started = True
        values = np.ascontiguousarray(values, self.dtype)  # numpy writes strided arrays slowly
        path = self._block_path(index, values)
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                np.save(handle, values)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before it gets its name: a power cut keeps it whole
        _fsync_folder(self.folder)
        self.files[index] = path

    def read(self, index: int) -> np.ndarray:
        return np.load(self.files[index])

    @contextmanager
    def assembled(self) -> Iterator[Path]:
        """A path in the journal to write the whole raster to; leaving normally moves it to the target, journal gone.

        A kill while assembling leaves the file inside the journal, where the next write removes it.
        """
        raster = self.folder / f"raster{self.target.suffix}"
        try:
            yield raster
        except BaseException:
            raster.unlink(missing_ok=True)
            raise
        os.replace(raster, self.target)
        shutil.rmtree(self.folder, ignore_errors=True)


def describe_seconds(seconds: float) -> str:
    """A duration as people say it: '40 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
