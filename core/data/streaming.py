"""Reading a POI file chunk by chunk, with memory that does not grow with the file.

A country's POIs (tens of millions of rows) do not fit in memory as a table, and
training needs little of it: float64 coordinates, one int32 text id per POI, the
distinct descriptions and a class count for the model card. Chunks of rows are read
(pyogrio row ranges for GDAL formats, pandas chunks for CSV, Arrow batches for Parquet:
``parquet.py``); ``text.corpus`` describes each one and lets its rows go.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from pyproj import CRS

from ..crs import parse_crs
from ..errors import InputDataError
from .parquet import ParquetLayout, is_parquet, layout_crs, parquet_chunks, parquet_layout
from .places_schemas import PlacesSchema, PlacesSettings
from .poi_io import (
    CSV_SUFFIXES,
    PointTable,
    csv_coordinate_columns,
    csv_points,
    finite_points,
    frame_points,
    read_points,
    vector_read_error,
)

DEFAULT_CHUNK_ROWS = 100_000


@dataclass
class PointSource:
    """A POI file that training reads chunk by chunk instead of whole (``TrainJob.points``)."""

    path: Path
    layer: str | None = None
    csv_crs: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    places: PlacesSettings = field(default_factory=PlacesSettings)
    """For an Overture or Foursquare places file: the hierarchy level and the confidence threshold."""

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def is_csv(self) -> bool:
        return Path(self.path).suffix.lower() in CSV_SUFFIXES

    @cached_property
    def parquet(self) -> ParquetLayout | None:
        """How a Parquet file is read (its places layout, columns, positions); None for other files."""
        return parquet_layout(self._existing_path()) if is_parquet(self.path) else None

    @property
    def places_schema(self) -> PlacesSchema | None:
        """The Overture or Foursquare layout the file has, if any: its fields are then known."""
        return self.parquet.places if self.parquet else None

    @cached_property
    def _info(self) -> dict:
        """GDAL's description of the layer (CRS, feature count); empty for a CSV, Arrow's row count for Parquet."""
        path = self._existing_path()
        if self.is_csv:
            return {}
        if self.parquet:
            return {"features": self.parquet.n_rows}
        import pyogrio

        try:
            return pyogrio.read_info(path, layer=self.layer)
        except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
            raise vector_read_error(path, self.layer, exc) from exc

    @property
    def crs(self) -> CRS:
        """The file's CRS (a CSV's is ``csv_crs``, default EPSG:4326)."""
        if self.is_csv:
            return parse_crs(self.csv_crs or "EPSG:4326", f"The CSV file {Path(self.path).name}", self._csv_sample())
        if self.parquet:
            return layout_crs(self.parquet, Path(self.path))
        bounds = self._info.get("total_bounds")
        corners = np.asarray(bounds, dtype=np.float64).reshape(2, 2) if bounds is not None else None
        return parse_crs(self._info["crs"], f"The layer {Path(self.path).name}", corners)

    def _csv_sample(self, rows: int = 1000) -> np.ndarray | None:
        """The first rows' x/y of a CSV, for a CRS message that can say they look like lon/lat."""
        try:
            table = pd.read_csv(self._existing_path(), nrows=rows, encoding_errors="replace")
            return csv_points(table, *csv_coordinate_columns(list(table.columns), Path(self.path).name))[1]
        except Exception:  # noqa: BLE001 - only a hint: reading errors are reported by the read itself
            return None

    @property
    def feature_count(self) -> int | None:
        """How many features the file holds, when GDAL knows without reading them (not for CSV)."""
        count = self._info.get("features", -1)
        return count if count >= 0 else None

    def _existing_path(self) -> Path:
        path = Path(self.path)
        if not path.exists():
            raise InputDataError(f"The file {path} does not exist.")
        return path

    def chunks(self) -> Iterator[PointTable]:
        """Point tables of up to ``chunk_rows`` features each, in file order; rows without a position are dropped."""
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {self.chunk_rows}")
        self.places.validate()
        path, crs = self._existing_path(), self.crs
        if self.is_csv:
            yield from self._csv_chunks(path, crs)
            return
        if self.parquet:
            yield from parquet_chunks(path, self.parquet, crs, self.chunk_rows, self.places)
            return
        import pyogrio

        start = 0
        while True:
            try:
                frame = pyogrio.read_dataframe(path, layer=self.layer, skip_features=start, max_features=self.chunk_rows)
            except Exception as exc:  # as above
                raise vector_read_error(path, self.layer, exc) from exc
            if len(frame) == 0:  # the file ended on a chunk boundary (or is empty): nothing to describe
                return
            attributes, xy, converted = frame_points(frame)
            yield finite_points(attributes, xy, crs, str(path), converted)
            start += len(frame)
            if len(frame) < self.chunk_rows:
                return

    def whole(self) -> PointTable:
        """The file as one table, for the paths that need every POI at once (the context graph)."""
        if not self.parquet:
            return read_points(self.path, self.layer, self.csv_crs)
        parts = list(self.chunks())
        if not parts:
            raise InputDataError(f"The file {Path(self.path).name} has no features.")
        table = PointTable(np.concatenate([part.xy for part in parts]),
                           pd.concat([part.attributes for part in parts], ignore_index=True), parts[0].crs, self.source,
                           sum(part.dropped_no_geometry for part in parts), sum(part.converted_to_points for part in parts))
        table.left_out = dict(sum((Counter(part.left_out) for part in parts), Counter()))
        return table

    def _csv_chunks(self, path: Path, crs: CRS) -> Iterator[PointTable]:
        """A CSV's non-empty chunks; a file without even a header line has none."""
        try:
            tables = pd.read_csv(path, encoding_errors="replace", chunksize=self.chunk_rows)
        except pd.errors.EmptyDataError:
            return
        columns = None
        for table in tables:
            if len(table) == 0:
                continue
            columns = columns or csv_coordinate_columns(list(table.columns), path.name)
            yield finite_points(*csv_points(table, *columns), crs, str(path))


def iter_point_chunks(
    path: str | Path, layer: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, csv_crs: str | None = None
) -> Iterator[PointTable]:
    """Chunks of a point file, each a ``PointTable`` like ``read_points`` gives for the whole file."""
    return PointSource(Path(path), layer, csv_crs, chunk_rows).chunks()
