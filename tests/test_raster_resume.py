"""Rasters computed in worker processes, and interrupted rasters that resume without recomputing finished blocks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from calliper.core.errors import CancelledError, SettingsError
from calliper.core.jobs import JobControl
from calliper.core.maps.grid import WRITE_AHEAD_BLOCKS, grid_from_extent, write_raster_by_blocks

BLOCK = 16
GRID = grid_from_extent((0.0, 0.0, 640.0, 480.0), 10.0, "EPSG:32635")  # 64 x 48 pixels: 4 x 3 blocks of 16
N_BLOCKS = 12


class CountingCompute:
    """Two bands from where a pixel is; counts the blocks it was asked for."""

    def __init__(self) -> None:
        self.blocks = 0

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        self.blocks += 1
        return np.column_stack([np.sin(xy[:, 0] / 50.0), np.cos(xy[:, 1] / 70.0)])


class DiesAtBlock(CountingCompute):
    """Ends its process at once when asked for block ``fatal``: no cleanup, as after SIGKILL or a power cut."""

    def __init__(self, fatal: int) -> None:
        super().__init__()
        self.fatal = fatal

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        if self.blocks + 1 == self.fatal:
            os._exit(9)
        return super().__call__(xy)


def write(out: Path, compute: CountingCompute, control: JobControl | None = None, dtype: str = "float32") -> Path:
    return write_raster_by_blocks(GRID, out, 2, compute, dtype=dtype, block_size=BLOCK, control=control,
                                  resume_key="two waves", tags={"kind": "test"})


def stops_after(compute: CountingCompute, blocks: int) -> JobControl:
    return JobControl(is_cancelled=lambda: compute.blocks >= blocks)


def read_all(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def journal_blocks(out: Path) -> list[int]:
    """The blocks kept in ``out``'s journal."""
    return sorted(int(p.stem.split("-")[0]) for p in out.with_name(f".{out.name}.blocks").glob("[0-9]*.npy"))


def block_file(out: Path, index: int) -> Path:
    (path,) = out.with_name(f".{out.name}.blocks").glob(f"{index}-*.npy")
    return path


def test_interrupted_raster_resumes_without_recomputing_and_equals_an_uninterrupted_one(tmp_path):
    whole = write(tmp_path / "whole.tif", CountingCompute())
    out, first = tmp_path / "resumed.tif", CountingCompute()
    with pytest.raises(CancelledError, match="finished blocks are kept hidden beside the output"):
        write(out, first, stops_after(first, 5))
    assert not out.exists() and hidden_files(tmp_path) == [".resumed.tif.blocks"]
    assert journal_blocks(out) == [0, 1, 2, 3, 4]

    second = CountingCompute()
    write(out, second)
    assert (first.blocks, second.blocks) == (5, N_BLOCKS - 5)
    np.testing.assert_array_equal(read_all(out), read_all(whole))
    assert hidden_files(tmp_path) == []
    with rasterio.open(out) as src, rasterio.open(whole) as reference:
        assert src.overviews(1) == reference.overviews(1) and src.tags()["kind"] == "test"


def test_cancelled_pool_keeps_the_blocks_it_wrote_and_a_single_process_finishes_them(tmp_path):
    whole = write(tmp_path / "whole.tif", CountingCompute())
    out, written = tmp_path / "pooled.tif", []
    control = JobControl(progress=lambda fraction, message: written.append(message), is_cancelled=lambda: len(written) >= 3)
    pooled = CountingCompute()
    with pytest.raises(CancelledError):
        write_raster_by_blocks(GRID, out, 2, pooled, block_size=BLOCK, control=control, workers=2,
                               resume_key="two waves", tags={"kind": "test"})
    assert pooled.blocks == 0  # its copies in the worker processes did the computing
    done = journal_blocks(out)
    assert 3 <= len(done) < N_BLOCKS
    rest = CountingCompute()
    write(out, rest)
    assert rest.blocks == N_BLOCKS - len(done)
    np.testing.assert_array_equal(read_all(out), read_all(whole))


def test_a_changed_setting_restarts_the_interrupted_raster_from_nothing(tmp_path):
    out, first = tmp_path / "changed.tif", CountingCompute()
    with pytest.raises(CancelledError):
        write(out, first, stops_after(first, 4))
    again = CountingCompute()
    write(out, again, dtype="float16")
    assert again.blocks == N_BLOCKS
    np.testing.assert_allclose(read_all(out), read_all(write(tmp_path / "half.tif", CountingCompute(), dtype="float16")))
    assert hidden_files(tmp_path) == []


def test_a_killed_raster_keeps_every_finished_block_and_resumes_from_them(tmp_path):
    whole = write(tmp_path / "whole.tif", CountingCompute())
    out = tmp_path / "killed.tif"
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from test_raster_resume import DiesAtBlock, write; "
         "write(Path(sys.argv[1]), DiesAtBlock(6))", str(out)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)}, capture_output=True, text=True, timeout=120,
    )
    assert child.returncode == 9, child.stderr
    # blocks 0-4 were computed; those still waiting for the writer thread die with the process
    kept = journal_blocks(out)
    assert not out.exists() and kept == list(range(len(kept))) and 5 - (WRITE_AHEAD_BLOCKS + 1) <= len(kept) <= 5

    resumed = CountingCompute()
    logged: list[str] = []
    write(out, resumed, JobControl(log=logged.append))
    assert resumed.blocks == N_BLOCKS - len(kept)
    assert f"Resuming: {len(kept)} of {N_BLOCKS} blocks were computed before." in logged
    assert "its blocks take 24.6 KB beside it until it is assembled" in logged[0]  # 64 x 48 x 2 float32
    np.testing.assert_array_equal(read_all(out), read_all(whole))
    assert hidden_files(tmp_path) == []


def test_block_files_cut_short_or_foreign_are_recomputed_not_trusted(tmp_path):
    whole = write(tmp_path / "whole.tif", CountingCompute())
    out, first = tmp_path / "damaged.tif", CountingCompute()
    with pytest.raises(CancelledError):
        write(out, first, stops_after(first, 5))
    journal = out.with_name(f".{out.name}.blocks")
    cut = block_file(out, 1)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a power cut after the rename, before the data
    block_file(out, 2).write_bytes(b"not a block")
    third = block_file(out, 3)
    third.unlink()
    np.save(third, np.zeros((2, 8, 8), dtype="float32"))  # a block of another shape under the old name
    flipped = block_file(out, 0)
    data = bytearray(flipped.read_bytes())
    data[-1] ^= 0xFF  # one damaged byte in the values: same size, same header, another checksum
    flipped.write_bytes(bytes(data))
    (journal / ".4.x1y2.partial.npy").write_bytes(b"half a temporary file")  # killed while writing block 4 again

    again = CountingCompute()
    write(out, again)
    assert again.blocks == N_BLOCKS - 5 + 4
    np.testing.assert_array_equal(read_all(out), read_all(whole))
    assert hidden_files(tmp_path) == []


def test_leftovers_of_the_old_partial_geotiff_journal_are_removed(tmp_path):
    out = tmp_path / "old.tif"
    for name in (f".{out.name}.partial", f".{out.name}.blocks.json"):
        (tmp_path / name).write_bytes(b"from an older Calliper")
    write(out, CountingCompute())
    assert hidden_files(tmp_path) == [] and out.exists()


def test_a_resumable_raster_without_room_for_its_blocks_is_written_without_resume(tmp_path, monkeypatch):
    raw = GRID.width * GRID.height * 2 * 4  # two float32 bands
    free = raw + raw // 3 + raw // 2  # the file with overviews fits, the file and the kept blocks do not
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: SimpleNamespace(free=free))
    logged: list[str] = []
    out, compute = tmp_path / "tight.tif", CountingCompute()
    with pytest.raises(CancelledError, match="no partial output was kept"):
        write(out, compute, JobControl(log=logged.append, is_cancelled=lambda: compute.blocks >= 5))
    assert any("without resume" in line for line in logged)
    assert list(tmp_path.iterdir()) == []  # no journal was kept
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: SimpleNamespace(free=raw))
    with pytest.raises(SettingsError, match="would not fit on the disk"):
        write(out, CountingCompute())


def test_a_raster_without_resume_key_leaves_nothing_behind_when_interrupted(tmp_path):
    compute = CountingCompute()
    with pytest.raises(CancelledError):
        write_raster_by_blocks(GRID, tmp_path / "plain.tif", 2, compute, block_size=BLOCK, control=stops_after(compute, 3))
    assert list(tmp_path.iterdir()) == []


def test_a_resumable_raster_cancelled_before_its_first_block_leaves_nothing_behind(tmp_path):
    compute = CountingCompute()
    with pytest.raises(CancelledError, match="no partial output was kept"):
        write(tmp_path / "early.tif", compute, stops_after(compute, 0))
    assert compute.blocks == 0 and list(tmp_path.iterdir()) == []


def test_embedding_raster_from_two_worker_processes_equals_one_process_and_logs_its_time(demo_model, tmp_path):
    from calliper.core.maps.rasters import embedding_grid, embedding_raster

    xmin, ymin, xmax, ymax = demo_model.card.training["extent"]
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    grid = embedding_grid(demo_model, (cx - 1500, cy - 1500, cx + 1500, cy + 1500), 10.0)  # 300 x 300: 4 blocks
    one = embedding_raster(demo_model, grid, tmp_path / "one.tif")
    logged: list[str] = []
    two = embedding_raster(demo_model, grid, tmp_path / "two.tif", workers=2, resume_key="no mask",
                           control=JobControl(log=logged.append))
    np.testing.assert_array_equal(read_all(two), read_all(one))
    assert any("About" in line and "2 worker(s)" in line for line in logged)
    assert any("bands" in line or "band(s)" in line for line in logged)


def test_an_overlapped_write_equals_a_serial_one_and_writes_in_its_own_thread(tmp_path):
    import threading

    from calliper.core.maps import write_ahead

    serial = write_raster_by_blocks(GRID, tmp_path / "serial.tif", 2, CountingCompute(), block_size=BLOCK, write_ahead=0)
    writers, compute_threads = set(), set()
    store_of = write_ahead.WriteAhead.__init__

    def recording_init(self, store, depth=2):
        def store_and_record(index, values):
            writers.add(threading.current_thread().name)
            store(index, values)
        store_of(self, store_and_record, depth)

    class Recording(CountingCompute):
        def __call__(self, xy):
            compute_threads.add(threading.current_thread().name)
            return super().__call__(xy)

    write_ahead.WriteAhead.__init__ = recording_init
    try:
        overlapped = write_raster_by_blocks(GRID, tmp_path / "overlapped.tif", 2, Recording(), block_size=BLOCK)
    finally:
        write_ahead.WriteAhead.__init__ = store_of
    np.testing.assert_array_equal(read_all(overlapped), read_all(serial))
    assert writers == {"calliper-block-writer"} and "calliper-block-writer" not in compute_threads


def test_a_failing_block_writer_stops_the_raster_with_its_error_and_leaves_nothing(tmp_path):
    from calliper.core.maps.write_ahead import WriteAhead

    stored = []

    def store(index, values):
        if index == 3:
            raise OSError(28, "No space left on device")
        stored.append(index)

    with pytest.raises(OSError, match="No space left"), WriteAhead(store, 2) as write_block:
        for index in range(12):
            write_block(index, np.zeros((2, 4, 4)))
    assert stored == [0, 1, 2]  # the blocks after the failure are dropped, not written
