"""Reading point layers from files into plain arrays and tables.

Anything GDAL reads through geopandas/pyogrio (GeoPackage, GeoJSON, Shapefile, ...)
plus CSV with coordinate columns. Non-point geometries become representative
points, so a POI layer mixing shops drawn as points and as building polygons works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

from ..crs import parse_crs
from ..errors import FieldError, InputDataError

X_NAMES = ("x", "lon", "lng", "long", "longitude", "easting")
Y_NAMES = ("y", "lat", "latitude", "northing")
CSV_SUFFIXES = (".csv", ".txt")
# Values of a class field that say a feature is "some" POI without saying which (OSM's shop=yes):
# such a POI is described by its category instead (lower case, after trimming).
NOT_CLASS_VALUES = frozenset({"", "yes", "no", "true", "false", "1", "0"})


@dataclass
class PointTable:
    """Points as float64 coordinates plus their attribute table, row-aligned."""

    xy: np.ndarray
    attributes: pd.DataFrame
    crs: CRS
    source: str
    dropped_no_geometry: int = 0
    converted_to_points: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    """Rows a places file leaves out on purpose (closed, low confidence), by reason."""


def csv_coordinate_columns(columns: list, name: str) -> tuple[str, str]:
    """The x and y columns of a CSV table, found by their usual names."""
    lower = {str(column).lower(): column for column in columns}
    x_col = next((lower[n] for n in X_NAMES if n in lower), None)
    y_col = next((lower[n] for n in Y_NAMES if n in lower), None)
    if x_col is None or y_col is None:
        raise FieldError(
            f"The CSV file {name} has no coordinate columns. "
            f"Name them x/y or lon/lat (found: {', '.join(map(str, columns))})."
        )
    return x_col, y_col


def csv_points(table: pd.DataFrame, x_col: str, y_col: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Attributes without the coordinate columns, and float64 x/y (NaN where unreadable)."""
    xy = np.column_stack([
        pd.to_numeric(table[x_col], errors="coerce").to_numpy(np.float64),
        pd.to_numeric(table[y_col], errors="coerce").to_numpy(np.float64),
    ])
    return table.drop(columns=[x_col, y_col]), xy


def _read_csv(path: Path, crs: str | None) -> tuple[pd.DataFrame, np.ndarray, CRS]:
    table = pd.read_csv(path, encoding_errors="replace")
    attributes, xy = csv_points(table, *csv_coordinate_columns(list(table.columns), path.name))
    return attributes, xy, parse_crs(crs or "EPSG:4326", f"The CSV file {path.name}", xy)


def vector_read_error(path: Path, layer: str | None, exc: Exception) -> InputDataError:
    """The user-facing error for a vector file GDAL cannot read."""
    where = f"layer '{layer}' of {path.name}" if layer else path.name
    return InputDataError(f"Cannot read {where} as a vector layer.", str(exc))


def frame_points(frame) -> tuple[pd.DataFrame, np.ndarray, int]:
    """A GeoDataFrame's attributes, one x/y per feature (representative points for non-points) and how many were converted."""
    geometry = frame.geometry
    is_point = (geometry.geom_type == "Point").to_numpy()
    points = geometry.copy()
    usable = geometry.notna() & ~geometry.is_empty
    convert = usable & ~is_point
    if convert.any():
        points[convert] = geometry[convert].representative_point()
    xy = np.full((len(frame), 2), np.nan)
    xy[usable.to_numpy(), 0] = points[usable].x.to_numpy()
    xy[usable.to_numpy(), 1] = points[usable].y.to_numpy()
    return pd.DataFrame(frame.drop(columns=frame.geometry.name)), xy, int(convert.sum())


def _read_vector(path: Path, layer: str | None) -> tuple[pd.DataFrame, np.ndarray, CRS, int]:
    import geopandas as gpd

    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise vector_read_error(path, layer, exc) from exc
    attributes, xy, converted = frame_points(frame)
    crs = parse_crs(frame.crs, f"The layer {path.name}", xy)
    return attributes, xy, crs, converted


def read_points(path: str | Path, layer: str | None = None, csv_crs: str | None = None) -> PointTable:
    """Read a point layer; rows without a finite position are dropped and counted."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The file {path} does not exist.")
    converted = 0
    if path.suffix.lower() in CSV_SUFFIXES:
        attributes, xy, crs = _read_csv(path, csv_crs)
    else:
        attributes, xy, crs, converted = _read_vector(path, layer)
    table = finite_points(attributes, xy, crs, str(path), converted)
    if len(table.xy) == 0:
        raise InputDataError(
            f"The layer {path.name} has no features with a usable position "
            f"({len(xy)} features, none with finite coordinates)."
        )
    return table


def finite_points(attributes: pd.DataFrame, xy: np.ndarray, crs: CRS, source: str, converted: int = 0) -> PointTable:
    """A point table of the rows with finite coordinates; the others are counted as dropped."""
    finite = np.isfinite(xy).all(axis=1)
    return PointTable(
        xy=xy[finite],
        attributes=attributes.loc[finite].reset_index(drop=True),
        crs=crs,
        source=source,
        dropped_no_geometry=int((~finite).sum()),
        converted_to_points=converted,
    )
