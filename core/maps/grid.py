"""Rasters on a regular grid, computed from pixel-centre coordinates and written block by block.

Every map Calliper paints (embeddings, similarity, clusters, land-use classes) is a
function of where a pixel is. This module owns the grid and the writing, so a map
only supplies ``compute(xy)``: memory stays flat whatever the raster's size, a cancel
is honoured between blocks, and a partial file never appears at the output path
(atomic write; a resumable write keeps its finished blocks in a hidden journal beside
it and assembles the file from them at the end, see ``raster_blocks``). Blocks may be
computed in worker processes.

Files are tiled GeoTIFFs compressed with ZSTD and a predictor. Embeddings are float
noise to a compressor (DEFLATE and ZSTD both reach about 80 %), and ZSTD level 1
writes and reads them two to four times faster than DEFLATE, which is what keeps a
similarity map from a click under a second. GDAL reads ZSTD since 2.3, so every
QGIS from 3.22 on opens these files.
"""

from __future__ import annotations

import math
import numbers
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.windows import Window

from ..atomic import atomic_path
from ..crs import crs_label, parse_crs
from ..errors import CancelledError, SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from .blocks import BlockJournal, BlockRequest, BlockResult, computed_blocks, describe_seconds, fingerprint
from .write_ahead import WriteAhead

DTYPES = ("uint8", "uint16", "int16", "int32", "float16", "float32")
# Written as float32 with NBITS=16: GDAL stores IEEE half floats and reads them back as float32.
HALF_FLOAT = "float16"
# GDAL's block cache is a process-wide 5 % of RAM by default; bounding it keeps the
# peak memory of a large write the same as a small one's.
GDAL_CACHE_BYTES = 256 * 2**20
DENSIFY_POINTS = 21
OVERVIEW_SHARE = 0.1
# GDAL settings of every block write. Overviews are compressed as fast as the full
# resolution (else GDAL uses its default level, 9: 1.3 -> 1.05 s of overviews on 1000^2 x 128).
WRITE_OPTIONS = dict(GDAL_CACHEMAX=GDAL_CACHE_BYTES, GDAL_NUM_THREADS="ALL_CPUS", ZSTD_LEVEL_OVERVIEW="1")
# Finished blocks waiting for the writer thread: two keep it busy, memory stays flat.
WRITE_AHEAD_BLOCKS = 2
# Of a resumable write's progress bar: compressing the journal's blocks into the GeoTIFF.
ASSEMBLY_SHARE = 0.1
# A qualitative palette (ColorBrewer Set1 + Dark2 + Paired) for paletted rasters, cycled beyond its length.
CATEGORY_PALETTE = (
    (228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163), (255, 127, 0), (255, 255, 51), (166, 86, 40),
    (247, 129, 191), (153, 153, 153), (27, 158, 119), (217, 95, 2), (117, 112, 179), (231, 41, 138), (102, 166, 30),
    (230, 171, 2), (166, 206, 227), (178, 223, 138), (251, 154, 153), (253, 191, 111), (202, 178, 214),
)

PixelMask = Union[np.ndarray, Callable[[np.ndarray], np.ndarray]]
"""Which pixels to compute: a (height, width) bool array, or ``f(xy (N, 2)) -> (N,) bool``."""


@dataclass
class RasterGrid:
    """Where the pixels of a raster are: CRS, affine transform (top-left origin) and size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """xmin, ymin, xmax, ymax of the pixel edges (north-up grids)."""
        xmin, ymax = _apply(self.transform, 0.0, 0.0)
        xmax, ymin = _apply(self.transform, float(self.width), float(self.height))
        return xmin, ymin, xmax, ymax

    def pixel_centres(self, window: Window) -> np.ndarray:
        """(h*w, 2) float64 x, y of the centres of the window's pixels, row by row."""
        col_off, row_off = int(window.col_off), int(window.row_off)
        cols = np.arange(col_off, col_off + int(window.width), dtype=np.float64) + 0.5
        rows = np.arange(row_off, row_off + int(window.height), dtype=np.float64) + 0.5
        col_grid, row_grid = np.meshgrid(cols, rows)
        x, y = _apply(self.transform, col_grid.ravel(), row_grid.ravel())
        return np.column_stack([x, y])

    def pixel_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (int64) of the pixels containing points ``xy`` in the grid's CRS; may be outside."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        cols, rows = _apply(~self.transform, xy[:, 0], xy[:, 1])
        return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Which (row, col) pairs are pixels of this grid."""
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    def windows(self, block_size: int) -> Iterator[Window]:
        """Square windows aligned with ``block_size`` tiles, row of tiles by row of tiles."""
        for row in range(0, self.height, block_size):
            for col in range(0, self.width, block_size):
                yield Window(col, row, min(block_size, self.width - col), min(block_size, self.height - row))


def _apply(transform: Affine, x, y):
    """``transform`` applied to scalars or arrays, written out: affine's operator for it changed in version 3."""
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


def category_colormap(n_categories: int) -> dict[int, tuple[int, int, int, int]]:
    """Category value -> RGBA for a paletted raster (``write_raster_by_blocks(colormap=...)``)."""
    return {i: (*CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)], 255) for i in range(n_categories)}


def read_grid(dataset) -> RasterGrid:
    """The grid of an open rasterio dataset."""
    return RasterGrid(CRS.from_wkt(dataset.crs.to_wkt()), dataset.transform, dataset.width, dataset.height)


def _checked_extent(extent: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in extent)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise SettingsError(f"An extent needs four finite numbers xmin, ymin, xmax, ymax; got {extent!r}.")
    xmin, ymin, xmax, ymax = values
    if xmax <= xmin or ymax <= ymin:
        raise SettingsError(
            f"The extent {xmin:.10g}, {ymin:.10g}, {xmax:.10g}, {ymax:.10g} has no area (it needs xmin < xmax and "
            "ymin < ymax), so the raster would have zero pixels. Draw or type a larger extent."
        )
    return values


def grid_from_extent(
    extent: tuple[float, float, float, float], pixel_size: float, target_crs: object, extent_crs: object | None = None
) -> RasterGrid:
    """A north-up grid covering ``extent`` (in ``extent_crs``, default ``target_crs``) with square pixels.

    The pixel size is in the target CRS's units (metres for the projected CRSs
    Calliper trains in). An extent in another CRS is transformed with densified
    edges, so its curved outline in the target CRS is covered.
    """
    target = parse_crs(target_crs, "The raster")
    source = parse_crs(extent_crs, "The extent") if extent_crs is not None else target
    xmin, ymin, xmax, ymax = _checked_extent(extent)
    if not (isinstance(pixel_size, numbers.Real) and math.isfinite(pixel_size) and pixel_size > 0):
        raise SettingsError(f"The pixel size must be a positive distance in the raster's units; got {pixel_size!r}.")
    if source != target:
        transformer = Transformer.from_crs(source, target, always_xy=True)
        xmin, ymin, xmax, ymax = transformer.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=DENSIFY_POINTS)
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
            raise SettingsError(
                f"The extent cannot be moved from {crs_label(source)} to {crs_label(target)} "
                "(it lies outside the area where that CRS is valid)."
            )
    span_x, span_y = xmax - xmin, ymax - ymin
    if pixel_size > span_x or pixel_size > span_y:
        raise SettingsError(
            f"The pixel size {pixel_size:.10g} is larger than the extent ({span_x:.10g} x {span_y:.10g} in "
            f"{crs_label(target)} units), so the raster would have no whole pixel. "
            f"Choose a pixel size of at most {min(span_x, span_y):.10g} or a larger extent."
        )
    # ceil with a tolerance: an extent of exactly n pixels must not grow a sliver column.
    width = max(1, math.ceil(span_x / pixel_size - 1e-9))
    height = max(1, math.ceil(span_y / pixel_size - 1e-9))
    return RasterGrid(target, Affine(pixel_size, 0.0, xmin, 0.0, -pixel_size, ymax), width, height)


@dataclass(frozen=True)
class RasterEstimate:
    """How large a raster will be, to refuse one that cannot fit before computing anything."""

    pixels: int
    band_count: int
    dtype: str
    bytes_uncompressed: int
    bytes_with_overviews: int

    def describe(self) -> str:
        return (
            f"{self.pixels:,} pixels x {self.band_count} band(s) of {self.dtype}: "
            f"{_human(self.bytes_uncompressed)} uncompressed, up to {_human(self.bytes_with_overviews)} with overviews"
        )

    def fits(self, folder: Path, journal_bytes: int = 0) -> bool:
        """Whether the worst case, plus ``journal_bytes`` of blocks kept to resume, fits in ``folder``'s free space."""
        return self.bytes_with_overviews + journal_bytes <= free_bytes(folder)

    def check_free_space(self, folder: Path) -> None:
        """Raise ``SettingsError`` when the worst case does not fit in the free space of ``folder``."""
        if not self.fits(folder):
            raise SettingsError(
                f"The raster would not fit on the disk: {self.describe()}, but only {_human(free_bytes(folder))} is "
                f"free in {folder}. Use a larger pixel size, a smaller extent, float16, or another disk."
            )


def free_bytes(folder: Path) -> int:
    """Free space where ``folder`` is, or will be once created."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def _human(n_bytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} TB"


def estimate_raster(grid: RasterGrid, band_count: int, dtype: str) -> RasterEstimate:
    """Uncompressed size, and the worst case with an overview pyramid (a third more)."""
    pixels = grid.width * grid.height
    raw = pixels * band_count * np.dtype(dtype).itemsize
    return RasterEstimate(pixels, band_count, dtype, raw, raw + raw // 3)


def overview_factors(width: int, height: int, block_size: int) -> list[int]:
    """2, 4, 8, ... until the smallest overview fits in one block."""
    factors: list[int] = []
    factor = 2
    while max(width, height) / (factor // 2) > block_size:
        factors.append(factor)
        factor *= 2
    return factors


def _profile(grid: RasterGrid, band_count: int, dtype: str, nodata: float | None, block_size: int) -> dict:
    stored = "float32" if dtype == HALF_FLOAT else dtype
    profile = dict(
        driver="GTiff", width=grid.width, height=grid.height, count=band_count, dtype=stored,
        crs=rasterio.crs.CRS.from_wkt(grid.crs.to_wkt()), transform=grid.transform, nodata=nodata,
        tiled=True, blockxsize=block_size, blockysize=block_size, interleave="band",
        compress="zstd", zstd_level=1, predictor=3 if stored.startswith("float") else 2, bigtiff="if_safer",
    )
    if dtype == HALF_FLOAT:
        profile["nbits"] = 16
    return profile


def _check_write_request(
    band_count: int, dtype: str, band_names: list[str] | None, block_size: int, mask: PixelMask | None,
    nodata: float | None, grid: RasterGrid,
) -> None:
    """Mistakes of the calling code, not of the user: plain ValueErrors."""
    if band_count < 1:
        raise ValueError(f"band_count must be at least 1, got {band_count}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if band_names is not None and len(band_names) != band_count:
        raise ValueError(f"{len(band_names)} band names for {band_count} bands")
    if block_size < 16 or block_size % 16:
        raise ValueError(f"block_size must be a multiple of 16, got {block_size}")
    if mask is not None and nodata is None:
        raise ValueError("a mask needs a nodata value for the pixels it leaves out")
    if isinstance(mask, np.ndarray) and mask.shape != grid.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the grid's {grid.shape}")


def _block_requests(
    grid: RasterGrid, windows: list[Window], indices: list[int], mask: PixelMask | None, control: JobControl
) -> Iterator[BlockRequest]:
    """The pixel centres of each block and which of them the mask keeps (all when there is no mask).

    A cancel is honoured here, before a block is computed.
    """
    for index in indices:
        control.check("Writing the raster")
        xy = grid.pixel_centres(windows[index])
        if mask is None:
            keep = None
        elif callable(mask):
            keep = np.asarray(mask(xy), dtype=bool)
        else:
            keep = mask[windows[index].toslices()].ravel()
        yield BlockRequest(index, windows[index], xy, keep)


def _block_values(result: BlockResult, band_count: int, nodata: float | None, dtype: np.dtype) -> np.ndarray:
    """(bands, h, w) values of one block; pixels outside the mask get ``nodata``."""
    request = result.request
    values = np.full((len(request.xy), band_count), nodata if nodata is not None else 0, dtype=dtype)
    if request.keep is None:
        values[:] = result.values
    else:
        values[request.keep] = result.values
    return values.T.reshape(band_count, int(request.window.height), int(request.window.width))


def _resume_key(
    key: str | None, grid: RasterGrid, profile: dict, mask: PixelMask | None, **settings: object
) -> str | None:
    """The fingerprint of a resumable write (``None``: not resumable)."""
    if key is None:
        return None
    described = {name: value for name, value in profile.items() if name not in ("crs", "transform")}
    return fingerprint(
        {"key": key, "crs": grid.crs.to_wkt(), "transform": list(grid.transform)[:6], "profile": described, **settings},
        mask if isinstance(mask, np.ndarray) else None,
    )


def _assemble(dst, journal: BlockJournal, windows: list[Window], control: JobControl, start: float) -> None:
    """Copy the journal's blocks into the open GeoTIFF ``dst``, from ``start`` to ``start + ASSEMBLY_SHARE``."""
    for count, window in enumerate(windows, start=1):
        control.check("Writing the raster")
        dst.write(journal.read(count - 1), window=window)
        control.report(start + ASSEMBLY_SHARE * count / len(windows), f"assembling block {count} of {len(windows)}")


def _describe_and_overview(
    dst, band_names: list[str] | None, colormap: dict | None, tags: dict[str, str] | None, factors: list[int],
    control: JobControl,
) -> None:
    """Band names, colormap, tags and overviews of the written GeoTIFF ``dst``."""
    for band, name in enumerate(band_names or [], start=1):
        dst.set_band_description(band, name)
    if colormap:
        dst.write_colormap(1, colormap)
    if tags:
        dst.update_tags(**tags)
    if factors:
        control.check("Writing the raster")
        resampling = Resampling.nearest if colormap else Resampling.average
        dst.build_overviews(factors, resampling)
        dst.update_tags(ns="rio_overview", resampling=resampling.name)


def write_raster_by_blocks(
    grid: RasterGrid,
    out: Path,
    band_count: int,
    compute: Callable[[np.ndarray], np.ndarray],
    *,
    dtype: str = "float32",
    nodata: float | None = None,
    band_names: list[str] | None = None,
    mask: PixelMask | None = None,
    control: JobControl | None = None,
    block_size: int = 256,
    overviews: bool = True,
    colormap: dict[int, tuple[int, ...]] | None = None,
    tags: dict[str, str] | None = None,
    workers: int = 1,
    resume_key: str | None = None,
    write_ahead: int = WRITE_AHEAD_BLOCKS,
) -> Path:
    """Write ``compute(xy) -> (N, band_count)`` over every pixel centre of ``grid`` into a GeoTIFF at ``out``.

    One block of ``block_size`` x ``block_size`` pixels is in memory at a time. The
    file appears at ``out`` only when complete; a cancel or error removes it. A
    ``colormap`` (value -> RGB(A)) makes band 1 paletted, with nearest-neighbour
    overviews; other rasters get averaged overviews. ``out`` is replaced if it
    exists: callers check it with ``check_output_path`` first.

    ``workers`` > 1 computes blocks in that many processes (``compute`` must pickle).
    A ``resume_key`` (any text naming what ``compute`` and a callable ``mask`` are)
    makes the write resumable: each finished block is kept, uncompressed, in a hidden
    journal beside ``out`` until the GeoTIFF is assembled from them, so a write
    interrupted in any way, even killed, loses only the blocks in flight, and the same
    call with the same key and settings computes only the others. The size is logged
    up front and the time once the first block has been computed.

    Blocks are compressed and written in a thread while the next are computed, with up
    to ``write_ahead`` blocks waiting (``write_ahead.WriteAhead``; 0 writes in series).
    """
    control = control or JobControl()
    _check_write_request(band_count, dtype, band_names, block_size, mask, nodata, grid)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = Path(out)
    with output_lock(out):
        estimate = estimate_raster(grid, band_count, dtype)
        profile = _profile(grid, band_count, dtype, nodata, block_size)
        value_dtype = np.dtype(profile["dtype"])
        # A resumable write keeps every block uncompressed until the file is assembled; blocks an earlier write kept
        # are on the disk already (or are removed, when the settings changed).
        journal_bytes = estimate.pixels * band_count * value_dtype.itemsize if resume_key else 0
        if resume_key and not estimate.fits(out.parent, max(0, journal_bytes - BlockJournal.kept_bytes(out))):
            # the raster is what was asked for; resuming is only a safety net
            control.log(f"Not enough free space to keep {_human(journal_bytes)} of finished blocks for resuming: "
                        "this raster is written without resume.")
            resume_key, journal_bytes = None, 0
        estimate.check_free_space(out.parent)
        windows = list(grid.windows(block_size))
        factors = overview_factors(grid.width, grid.height, block_size) if overviews else []
        key = _resume_key(resume_key, grid, profile, mask, band_names=band_names, tags=tags, colormap=colormap, factors=factors)
        journal_note = f"; its blocks take {_human(journal_bytes)} beside it until it is assembled" if resume_key else ""
        control.log(f"Raster of {len(windows)} blocks: {estimate.describe()}{journal_note}.")
        shapes = [(band_count, int(window.height), int(window.width)) for window in windows]
        journal = BlockJournal(out, key, shapes, value_dtype) if key else None
        done = journal.done if journal else set()
        todo = [index for index in range(len(windows)) if index not in done]
        if done:
            control.log(f"Resuming: {len(done)} of {len(windows)} blocks were computed before.")
        assembly_share = ASSEMBLY_SHARE if journal else 0.0
        blocks_share = 1.0 - assembly_share - (OVERVIEW_SHARE if factors else 0.0)

        def compute_blocks(store: Callable[[int, np.ndarray], None]) -> None:
            requests = _block_requests(grid, windows, todo, mask, control)
            with WriteAhead(store, write_ahead) as write:
                for count, result in enumerate(computed_blocks(requests, compute, band_count, workers), start=1):
                    write(result.request.index, _block_values(result, band_count, nodata, value_dtype))
                    report_block(count, result)

        def report_block(count: int, result) -> None:
            if count == 1 and len(todo) > 1:
                left = result.seconds * (len(todo) - 1) / workers
                control.log(f"About {describe_seconds(left)} left ({result.seconds:.2f} s per block, {workers} worker(s)).")
            finished = len(done) + count
            control.report(blocks_share * finished / len(windows), f"block {finished} of {len(windows)}")

        with rasterio.Env(**WRITE_OPTIONS):
            if journal is None:
                with atomic_path(out) as temporary, rasterio.open(temporary, "w", **profile) as dst:
                    compute_blocks(lambda index, values: dst.write(values, window=windows[index]))
                    _describe_and_overview(dst, band_names, colormap, tags, factors, control)
            else:
                try:
                    compute_blocks(journal.write)
                    with journal.assembled() as temporary, rasterio.open(temporary, "w", **profile) as dst:
                        _assemble(dst, journal, windows, control, blocks_share)
                        _describe_and_overview(dst, band_names, colormap, tags, factors, control)
                except CancelledError as error:
                    if not journal.started:
                        raise
                    raise CancelledError("Writing the raster", resumable=True) from error
        control.report(1.0, "raster written")
        return out
