"""Reading (Geo)Parquet POI files in row groups through pyarrow, so memory stays flat.

A country's places file has millions of rows and dozens of columns (sources, addresses,
websites) training never needs: only the columns a description uses are read, a batch
of rows at a time. Positions come from the GeoParquet geometry (WKB, CRS from the
``geo`` metadata, OGC:CRS84 when it names none) or from longitude/latitude columns.
Debian's GDAL has no Parquet driver, so this does not go through GDAL at all. Overture
and Foursquare layouts become flat class/parent/category/name tables
(``places_schemas``); any other Parquet file keeps its columns, nested ones flattened
(``names.primary``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from pyproj import CRS

from ..crs import parse_crs
from ..dependencies import require
from ..errors import InputDataError
from .places_schemas import PlacesSchema, PlacesSettings, detect_places_schema, places_chunk
from .poi_io import X_NAMES, Y_NAMES, PointTable, finite_points

PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
WKB_NAMES = ("geometry", "geom", "wkb_geometry")


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


@dataclass
class ParquetLayout:
    """What to read from a Parquet file and how its rows become points."""

    places: PlacesSchema | None
    columns: list[str]
    """Attribute columns read (all scalar ones of a file of no known layout)."""
    geometry: str | None = None
    lonlat: tuple[str, str] | None = None
    crs_value: object = "OGC:CRS84"
    n_rows: int = 0


def open_parquet(path: Path):
    """The ``pyarrow.parquet.ParquetFile``; an empty, cut-short or non-Parquet file is refused in words."""
    require("pyarrow")
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise InputDataError(f"The file {path.name} is empty (0 bytes): it is not a Parquet file yet.")
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for unreadable files
        raise InputDataError(
            f"Cannot read {path.name} as Parquet: the file is cut short, damaged or not Parquet. "
            "Download or export it again.", str(exc)) from exc


def _geoparquet_column(parquet_file, names: list[str]) -> tuple[str | None, object]:
    """The primary WKB geometry column and its CRS, from GeoParquet metadata or a usual name."""
    import pyarrow as pa

    metadata = parquet_file.schema_arrow.metadata or {}
    if b"geo" in metadata:
        try:
            geo = json.loads(metadata[b"geo"])
            column = geo["primary_column"]
            crs = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        except (ValueError, KeyError, TypeError, AttributeError):
            column, crs = None, "OGC:CRS84"
        if column in names:
            return column, crs if crs is not None else "OGC:CRS84"
    for name in WKB_NAMES:
        arrow_type = parquet_file.schema_arrow.field(name).type if name in names else None
        if arrow_type is not None and (pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)):
            return name, "OGC:CRS84"
    return None, None


def _lonlat_columns(schema) -> tuple[str, str] | None:
    import pyarrow as pa

    lower = {name.lower(): name for name in schema.names}
    x = next((lower[n] for n in X_NAMES if n in lower), None)
    y = next((lower[n] for n in Y_NAMES if n in lower), None)
    if x is None or y is None:
        return None
    for column in (x, y):
        if not (pa.types.is_floating(schema.field(column).type) or pa.types.is_integer(schema.field(column).type)):
            raise InputDataError(f"The column '{column}' holds {schema.field(column).type}, not numbers: "
                                 "it cannot be a coordinate.")
    return x, y


def _scalar_columns(schema, skip: set[str]) -> list[str]:
    """Top-level columns of a file of no known layout that give attributes: scalars and structs (flattened later)."""
    import pyarrow as pa

    def usable(arrow_type) -> bool:
        if pa.types.is_struct(arrow_type):
            return any(usable(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
        return not (pa.types.is_nested(arrow_type) or pa.types.is_binary(arrow_type)
                    or pa.types.is_large_binary(arrow_type))

    return [name for name in schema.names if name not in skip and usable(schema.field(name).type)]


def parquet_layout(path: Path) -> ParquetLayout:
    """How a Parquet file is read: its places layout if any, its columns, and where positions come from."""
    parquet_file = open_parquet(path)
    schema = parquet_file.schema_arrow
    places = detect_places_schema(schema, path.name)
    lonlat = _lonlat_columns(schema)
    geometry, crs = (None, None) if lonlat else _geoparquet_column(parquet_file, schema.names)
    if lonlat is None and geometry is None:
        raise InputDataError(
            f"{path.name} has no geometry column (GeoParquet) and no longitude/latitude columns, so its rows have "
            "no position. Export it with a geometry or with lon/lat columns."
        )
    position = {geometry} if geometry else set(lonlat)
    if places is not None:
        columns = [column for column in places.columns if column in schema.names]
    else:
        columns = _scalar_columns(schema, position)
    return ParquetLayout(places, columns, geometry, lonlat, crs if geometry else "EPSG:4326",
                         parquet_file.metadata.num_rows)


def layout_crs(layout: ParquetLayout, path: Path) -> CRS:
    value = layout.crs_value
    if isinstance(value, dict):
        value = json.dumps(value)  # PROJJSON, as GeoParquet writes it
    return parse_crs(value, f"The Parquet file {path.name}")


def wkb_points(values) -> tuple[np.ndarray, int]:
    """x/y of WKB geometries (NaN where null or empty; a point on the surface of a non-point) and how many were converted."""
    import shapely

    geometries = shapely.from_wkb(np.asarray(values, dtype=object), on_invalid="ignore")
    usable = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    points = shapely.get_type_id(geometries) == shapely.GeometryType.POINT
    converted = usable & ~points
    geometries[converted] = shapely.point_on_surface(geometries[converted])
    xy = np.full((len(geometries), 2), np.nan)
    xy[usable, 0] = shapely.get_x(geometries[usable])
    xy[usable, 1] = shapely.get_y(geometries[usable])
    return xy, int(converted.sum())


def _flat_frame(table) -> pd.DataFrame:
    """An Arrow table as a DataFrame with nested structs flattened into dotted names (``names.primary``)."""
    import pyarrow as pa

    while any(pa.types.is_struct(column.type) for column in table.columns):
        table = table.flatten()
    return table.to_pandas()


def parquet_chunks(
    path: Path, layout: ParquetLayout, crs: CRS, chunk_rows: int, places: PlacesSettings
) -> Iterator[PointTable]:
    """Point tables of up to ``chunk_rows`` rows, read batch by batch; only the needed columns."""
    parquet_file = open_parquet(path)
    position = [layout.geometry] if layout.geometry else list(layout.lonlat)
    try:
        for batch in parquet_file.iter_batches(batch_size=chunk_rows, columns=layout.columns + position):
            if batch.num_rows == 0:
                continue
            yield _chunk(batch, layout, crs, places, str(path))
    except InputDataError:
        raise
    except Exception as exc:  # a damaged row group: pyarrow raises OSError, ArrowInvalid, ...
        raise InputDataError(f"Cannot read {path.name} to its end: part of the Parquet file is damaged. "
                             "Download or export it again.", str(exc)) from exc


def _chunk(batch, layout: ParquetLayout, crs: CRS, places: PlacesSettings, source: str) -> PointTable:
    import pyarrow as pa

    table = pa.Table.from_batches([batch])
    converted = 0
    if layout.geometry:
        xy, converted = wkb_points(table[layout.geometry].to_numpy(zero_copy_only=False))
    else:
        xy = np.column_stack([table[c].to_numpy(zero_copy_only=False).astype(np.float64) for c in layout.lonlat])
    attributes_table = table.select(layout.columns)
    if layout.places is None:
        return finite_points(_flat_frame(attributes_table), xy, crs, source, converted)
    chunk = places_chunk(layout.places, attributes_table, places)
    points = finite_points(chunk.attributes.loc[chunk.kept].reset_index(drop=True), xy[chunk.kept], crs, source, converted)
    points.left_out = chunk.left_out
    return points
