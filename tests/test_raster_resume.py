"""Rasters computed in worker processes, and interrupted rasters that resume without recomputing finished blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from calliper.core.errors import CancelledError
from calliper.core.jobs import JobControl
from calliper.core.raster_grid import grid_from_extent, write_raster_by_blocks

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


def test_interrupted_raster_resumes_without_recomputing_and_equals_an_uninterrupted_one(tmp_path):
    whole = write(tmp_path / "whole.tif", CountingCompute())
    out, first = tmp_path / "resumed.tif", CountingCompute()
    with pytest.raises(CancelledError):
        write(out, first, stops_after(first, 5))
    assert not out.exists() and hidden_files(tmp_path) == [".resumed.tif.blocks.json", ".resumed.tif.partial"]

    second = CountingCompute()
    write(out, second)
    assert (first.blocks, second.blocks) == (5, N_BLOCKS - 5)
    np.testing.assert_array_equal(read_all(out), read_all(whole))
    assert hidden_files(tmp_path) == []
    with rasterio.open(out) as src, rasterio.open(whole) as reference:
        assert src.overviews(1) == reference.overviews(1) and src.tags()["kind"] == "test"


def test_cancelled_pool_keeps_the_blocks_it_wrote_and_a_single_process_finishes_them(tmp_path):
    import json

    whole = write(tmp_path / "whole.tif", CountingCompute())
    out, written = tmp_path / "pooled.tif", []
    control = JobControl(progress=lambda fraction, message: written.append(message), is_cancelled=lambda: len(written) >= 3)
    pooled = CountingCompute()
    with pytest.raises(CancelledError):
        write_raster_by_blocks(GRID, out, 2, pooled, block_size=BLOCK, control=control, workers=2,
                               resume_key="two waves", tags={"kind": "test"})
    assert pooled.blocks == 0  # its copies in the worker processes did the computing
    done = json.loads((tmp_path / ".pooled.tif.blocks.json").read_text())["blocks"]
    assert len(done) >= 3
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


def test_a_raster_without_resume_key_leaves_nothing_behind_when_interrupted(tmp_path):
    compute = CountingCompute()
    with pytest.raises(CancelledError):
        write_raster_by_blocks(GRID, tmp_path / "plain.tif", 2, compute, block_size=BLOCK, control=stops_after(compute, 3))
    assert list(tmp_path.iterdir()) == []


def test_embedding_raster_from_two_worker_processes_equals_one_process_and_logs_its_time(demo_model, tmp_path):
    from calliper.core.rasters import embedding_grid, embedding_raster

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
