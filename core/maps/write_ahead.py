"""Writing blocks in a thread while the next ones are computed.

Compressing and writing a 256 x 256 x 128 block (ZSTD in GDAL, or an fsynced journal
block) takes a good part of the time of computing it, and both release the GIL; done
in series they add up. ``WriteAhead`` hands each finished block to one writer thread
through a queue of at most ``depth`` blocks, so memory stays that many blocks whatever
the raster's size. Leaving the block (normally, on an error or on a cancel) first
writes every block already handed over, so a resumable write loses none of them.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable

import numpy as np

Store = Callable[[int, np.ndarray], None]
_DONE = None


class WriteAhead:
    """``with WriteAhead(store, depth) as write: write(index, values)``; ``depth`` 0 stores in the caller's thread."""

    def __init__(self, store: Store, depth: int = 2) -> None:
        if depth < 0:
            raise ValueError(f"depth must be at least 0, got {depth}")
        self.store, self.depth = store, depth
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._thread = threading.Thread(target=self._run, name="calliper-block-writer", daemon=True)

    def __enter__(self) -> Store:
        if self.depth == 0:
            return self.store
        self._thread.start()
        return self._put

    def __exit__(self, error_type, error, traceback) -> None:
        if self.depth == 0:
            return
        self._queue.put(_DONE)
        self._thread.join()
        if self.error is not None and error is None:
            raise self.error

    def _put(self, index: int, values: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put((index, values))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self.error is None:  # after a failure the rest is drained, not written
                try:
                    self.store(*item)
                except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                    self.error = error
