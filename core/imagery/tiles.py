"""Image tiles for region embeddings: a raster read window by window, cut on a tile grid, normalised per band.

Any GDAL raster works (an RGB orthophoto, a multispectral satellite scene, the
demo's rendered OSM map). The tile grid is a ``RasterGrid`` whose pixels are the
tiles, laid over the common extent of the image and the POIs in the image's CRS,
so the region-embedding raster written later is that same grid. Tiles are read a
row of tiles at a time, resampled to the chosen pixel count; a tile with too little
data (outside the image, the image's nodata or its transparent pixels) is skipped
and counted. An image in degrees is warped on the fly to its UTM zone, since tiles
are metres on the ground; alpha bands mask pixels and are never read as data.
Tiles beyond ``TILES_IN_MEMORY_BYTES`` are kept in an unlinked scratch file, so a
city-wide orthophoto does not need its tiles in memory.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import from_bounds

from ..crs import LONLAT, crs_label, is_metric, parse_crs, to_crs, utm_crs_for
from ..errors import InputDataError, SettingsError
from ..jobs import JobControl
from ..maps.grid import RasterGrid, grid_from_extent

MIN_TILE_PIXELS, MAX_TILE_PIXELS = 16, 512
# Pixels read (per band, decimated) to estimate a band's mean and spread.
STATISTICS_PIXELS = 1024 * 1024
# Kept tiles up to this size live in memory; more go to a scratch file beside the output.
TILES_IN_MEMORY_BYTES = 1 << 30


@dataclass
class ImagerySettings:
    """Which bands (1-based; None = all), the tile size on the ground and in pixels, and how much data a tile needs."""

    bands: tuple[int, ...] | None = None
    tile_metres: float = 64.0
    tile_pixels: int = 64
    min_valid_fraction: float = 0.5

    def validate(self) -> None:
        if not (math.isfinite(self.tile_metres) and self.tile_metres > 0):
            raise SettingsError(f"The tile size must be a positive distance in metres (got {self.tile_metres}).")
        if not MIN_TILE_PIXELS <= self.tile_pixels <= MAX_TILE_PIXELS:
            raise SettingsError(
                f"Tiles must be {MIN_TILE_PIXELS} to {MAX_TILE_PIXELS} pixels wide (got {self.tile_pixels})."
            )
        if not 0 < self.min_valid_fraction <= 1:
            raise SettingsError(f"The share of data a tile needs must be in (0, 1] (got {self.min_valid_fraction}).")
        if self.bands is not None and (not self.bands or min(self.bands) < 1):
            raise SettingsError(f"Bands are numbered from 1 (got {list(self.bands)}).")

    @property
    def pixel_metres(self) -> float:
        """Ground size of one tile pixel after resampling."""
        return self.tile_metres / self.tile_pixels


@dataclass
class BandStatistics:
    """Per-band mean and standard deviation of the image's valid pixels: tiles become (value - mean) / std."""

    mean: np.ndarray
    std: np.ndarray

    def normalise(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean[:, None, None]) / self.std[:, None, None]


@dataclass
class ImageTiles:
    """The kept tiles (N, bands, P, P) as float16, their flat indices in ``grid`` and how many were skipped."""

    grid: RasterGrid
    pixels: np.ndarray
    index: np.ndarray
    skipped: int

    @property
    def centres(self) -> np.ndarray:
        """(N, 2) tile centres in the grid's CRS."""
        rows, cols = np.divmod(self.index, self.grid.width)
        a, _, c, _, e, f = self.grid.transform[:6]
        return np.column_stack([c + (cols + 0.5) * a, f + (rows + 0.5) * e])

    @cached_property
    def _row_of_cell(self) -> np.ndarray:
        row_of = np.full(self.grid.width * self.grid.height, -1, dtype=np.int64)
        row_of[self.index] = np.arange(len(self.index))
        return row_of

    def tile_at(self, xy: np.ndarray) -> np.ndarray:
        """For points in the grid's CRS, the row of the kept tile holding each (-1: outside the grid or skipped)."""
        rows, cols = self.grid.pixel_of(xy)
        inside = self.grid.contains(rows, cols)
        found = np.full(len(rows), -1, dtype=np.int64)
        found[inside] = self._row_of_cell[rows[inside] * self.grid.width + cols[inside]]
        return found


def image_name(dataset) -> str:
    """The file name of an image for messages (the source file of an image warped on the fly)."""
    return Path(getattr(dataset, "src_dataset", dataset).name).name


@contextmanager
def open_image(path: str | Path) -> Iterator:
    """Open a raster for reading, in metres; a missing, unreadable or CRS-less file raises an error naming it.

    An image in degrees (or another CRS that is not in metres) is read through a
    warped view in the UTM zone of its centre, with an alpha band marking where the
    source has no pixels, so tile sizes stay metres on the ground.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The image {path} does not exist.")
    try:
        dataset = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputDataError(f"Cannot read {path.name} as a raster.", str(exc)) from exc
    with dataset:
        if dataset.crs is None:
            raise InputDataError(f"The image {path.name} has no coordinate reference system. Georeference it first.")
        crs = parse_crs(dataset.crs.to_wkt(), f"The image {path.name}")
        if is_metric(crs):
            yield dataset
            return
        left, bottom, right, top = dataset.bounds
        lon, lat = to_crs(np.array([[(left + right) / 2, (bottom + top) / 2]]), crs, LONLAT)[0]
        # an alpha band (the source's, or one added where it has no nodata) marks where the source has no pixels
        masked = dataset.nodata is not None or len(data_bands(dataset)) < dataset.count
        with WarpedVRT(dataset, crs=utm_crs_for(lon, lat), resampling=Resampling.bilinear, add_alpha=not masked) as warped:
            yield warped


def image_crs(dataset) -> CRS:
    """The image's CRS, which must be in metres: tile sizes are metres on the ground."""
    crs = parse_crs(dataset.crs.to_wkt(), f"The image {image_name(dataset)}")
    if not is_metric(crs):
        raise InputDataError(
            f"The image {image_name(dataset)} is in {crs_label(crs)}, not a CRS in metres. "
            "Reproject it (Raster > Projections > Warp) to a projected CRS such as its UTM zone."
        )
    return crs


def data_bands(dataset) -> list[int]:
    """The 1-based bands holding data: every band but alpha (transparency masks pixels, it is not a colour)."""
    alpha = ColorInterp.alpha
    bands = [band for band, kind in enumerate(dataset.colorinterp, start=1) if kind != alpha]
    return bands or list(range(1, dataset.count + 1))


def chosen_bands(dataset, bands: tuple[int, ...] | None) -> list[int]:
    """The 1-based bands to read: all data bands when ``bands`` is None; a band the image lacks raises an error."""
    if bands is None:
        return data_bands(dataset)
    missing = [band for band in bands if band > dataset.count]
    if missing:
        raise SettingsError(
            f"The image {image_name(dataset)} has {dataset.count} band(s); band {missing[0]} does not exist."
        )
    return list(bands)


def read_masked(dataset, bands: list[int], size: tuple[int, int], **read_options) -> np.ma.MaskedArray:
    """``bands`` read at ``size`` (rows, columns) as float32, masked where there is no data or alpha is under half.

    GDAL masks by alpha only when the file flags it (a TIFF's extra sample); an
    alpha band flagged by colour interpretation alone (an .aux.xml, a VRT) masks here.
    """
    alpha = [band for band in range(1, dataset.count + 1) if band not in data_bands(dataset)]
    read = bands + alpha
    values = dataset.read(read, out_shape=(len(read), *size), masked=True, **read_options).astype(np.float32)
    if not alpha:
        return values
    dtype = np.dtype(dataset.dtypes[alpha[0] - 1])
    opaque = np.iinfo(dtype).max if dtype.kind in "iu" else 1.0
    transparent = (values[len(bands):].filled(0) < 0.5 * opaque).any(axis=0)
    data = values[: len(bands)]
    data[:, transparent] = np.ma.masked
    return data


def band_statistics(dataset, bands: list[int]) -> BandStatistics:
    """Mean and spread of each band over a decimated read of the whole image (nodata left out)."""
    step = max(1.0, math.sqrt(dataset.width * dataset.height / STATISTICS_PIXELS))
    size = (max(1, int(dataset.height / step)), max(1, int(dataset.width / step)))
    values = read_masked(dataset, bands, size, resampling=Resampling.nearest).astype(np.float64)
    flat = values.reshape(len(bands), -1)
    if np.ma.count(flat) == 0:
        raise InputDataError(f"The image {image_name(dataset)} has no pixels with data.")
    mean = flat.mean(axis=1).filled(0.0)
    std = flat.std(axis=1).filled(1.0)
    return BandStatistics(np.asarray(mean, np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32))


def tile_grid(dataset, points_xy: np.ndarray, points_crs: CRS, tile_metres: float) -> RasterGrid:
    """Tiles of ``tile_metres`` over the common extent of the image and the points, in the image's CRS."""
    crs = image_crs(dataset)
    xy = to_crs(points_xy, points_crs, crs)
    xy = xy[np.isfinite(xy).all(axis=1)]
    left, bottom, right, top = dataset.bounds
    if len(xy):
        extent = (max(left, xy[:, 0].min()), max(bottom, xy[:, 1].min()),
                  min(right, xy[:, 0].max()), min(top, xy[:, 1].max()))
    if not len(xy) or extent[0] >= extent[2] or extent[1] >= extent[3]:
        raise InputDataError(
            f"The POIs and the image {image_name(dataset)} do not overlap (image {left:.0f}, {bottom:.0f} to "
            f"{right:.0f}, {top:.0f} in {crs_label(crs)}). Choose an image covering the POIs."
        )
    return grid_from_extent(extent, tile_metres, crs)


def _row_of_tiles(dataset, grid: RasterGrid, row: int, bands: list[int], settings: ImagerySettings) -> np.ma.MaskedArray:
    """(bands, P, width*P) of one row of tiles, resampled to the tile pixel size; masked where there is no data."""
    size, p = grid.transform.a, settings.tile_pixels
    xmin, _, xmax, ymax = grid.bounds
    top, bottom = ymax - row * size, ymax - (row + 1) * size
    strip = np.ma.masked_all((len(bands), p, grid.width * p), dtype=np.float32)
    left, low, right, high = dataset.bounds
    x0, x1, y0, y1 = max(xmin, left), min(xmax, right), max(bottom, low), min(top, high)
    step = settings.pixel_metres
    col0, col1 = round((x0 - xmin) / step), round((x1 - xmin) / step)
    row0, row1 = round((top - y1) / step), round((top - y0) / step)
    if col1 <= col0 or row1 <= row0:
        return strip
    window = from_bounds(x0, y0, x1, y1, dataset.transform)
    strip[:, row0:row1, col0:col1] = read_masked(
        dataset, bands, (row1 - row0, col1 - col0), window=window, resampling=Resampling.bilinear, boundless=False
    )
    return strip


def tile_store(n_tiles: int, tile_shape: tuple[int, ...], scratch_dir: str | Path | None, control: JobControl) -> np.ndarray:
    """Room for up to ``n_tiles`` float16 tiles: in memory when small, else in an unlinked file in ``scratch_dir``.

    Pages nobody writes are never allocated, so room for every tile of the grid
    costs only the tiles kept. The scratch file has no name and vanishes with the array.
    """
    n_bytes = n_tiles * math.prod(tile_shape) * np.dtype(np.float16).itemsize
    if n_bytes <= TILES_IN_MEMORY_BYTES:
        return np.empty((n_tiles, *tile_shape), dtype=np.float16)
    folder = Path(scratch_dir) if scratch_dir else Path(tempfile.gettempdir())
    free = shutil.disk_usage(folder).free
    if n_bytes > free:
        raise SettingsError(
            f"The image's tiles need up to {n_bytes / 2**30:.1f} GiB of scratch space in {folder}, which has "
            f"{free / 2**30:.1f} GiB free. Choose larger tiles, fewer tile pixels or fewer bands, or free some space."
        )
    control.log(f"Tiles are kept in a scratch file in {folder} (up to {n_bytes / 2**30:.1f} GiB), not in memory.")
    return np.memmap(tempfile.TemporaryFile(dir=folder), dtype=np.float16, mode="w+", shape=(n_tiles, *tile_shape))


def read_tiles(
    dataset, grid: RasterGrid, settings: ImagerySettings, statistics: BandStatistics | None = None,
    control: JobControl | None = None, scratch_dir: str | Path | None = None,
) -> tuple[ImageTiles, BandStatistics]:
    """Every tile of ``grid`` with enough data, normalised by ``statistics`` (default: the image's own)."""
    control = control or JobControl()
    settings.validate()
    bands = chosen_bands(dataset, settings.bands)
    statistics = statistics or band_statistics(dataset, bands)
    p = settings.tile_pixels
    pixels = tile_store(grid.width * grid.height, (len(bands), p, p), scratch_dir, control)
    index, skipped = [], 0
    for row in range(grid.height):
        control.check("Reading image tiles")
        strip = _row_of_tiles(dataset, grid, row, bands, settings)
        for col in range(grid.width):
            tile = strip[:, :, col * p : (col + 1) * p]
            valid = ~np.ma.getmaskarray(tile).any(axis=0)
            if valid.mean() < settings.min_valid_fraction:
                skipped += 1
                continue
            kept = pixels[len(index)]
            kept[:] = statistics.normalise(tile.filled(np.nan))
            kept[:, ~valid] = 0.0  # missing pixels of a kept tile become the band mean (0 once normalised)
            index.append(row * grid.width + col)
        control.report((row + 1) / grid.height, f"row {row + 1} of {grid.height} of tiles")
    if not index:
        raise InputDataError(
            f"No tile of the image {image_name(dataset)} has data where the POIs are "
            f"({skipped} tiles skipped). Check the image's nodata value and extent."
        )
    return ImageTiles(grid, pixels[: len(index)], np.asarray(index, dtype=np.int64), skipped), statistics
