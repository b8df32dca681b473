"""Coordinate reference systems: which CRS a model works in, and moving points into it.

Planar encoders need metres (the paper uses the British National Grid); sphere
encoders need lon/lat. A projected layer keeps its own CRS; a geographic layer gets
the UTM zone of its centroid, so users never have to pick one.
"""

from __future__ import annotations

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCrsError

from .errors import CrsError

LONLAT = CRS.from_epsg(4326)


def parse_crs(value: object, what: str = "The layer") -> CRS:
    """Read a CRS from anything pyproj accepts (EPSG code, WKT, 'EPSG:n', CRS object)."""
    if value is None or value == "":
        raise CrsError(
            f"{what} has no coordinate reference system. "
            "Set its CRS in QGIS (Layer Properties > Source) or pass one explicitly."
        )
    try:
        return CRS.from_user_input(value)
    except PyprojCrsError as exc:
        raise CrsError(f"{what} has a CRS that cannot be read: {value!r}.", str(exc)) from exc


def is_metric(crs: CRS) -> bool:
    """True for a projected CRS whose axes are in metres."""
    if not crs.is_projected:
        return False
    units = {axis.unit_name.lower() for axis in crs.axis_info}
    return units <= {"metre", "meter", "m"}


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone containing a lon/lat point."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_crs(xy: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    """Transform an (N, 2) array of x, y (always easting/longitude first) to ``target``."""
    xy = np.asarray(xy, dtype=np.float64)
    if source == target:
        return xy.copy()
    transformer = Transformer.from_crs(source, target, always_xy=True)
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y]).astype(np.float64)


def choose_metric_crs(xy: np.ndarray, crs: CRS) -> CRS:
    """The CRS a planar model trains in: the layer's own if metric, else its UTM zone."""
    if is_metric(crs):
        return crs
    lonlat = to_crs(xy, crs, LONLAT)
    lon, lat = np.median(lonlat[:, 0]), np.median(lonlat[:, 1])
    return utm_crs_for(float(lon), float(lat))


def crs_label(crs: CRS) -> str:
    """A short name for messages and cards: 'EPSG:32635' when possible, else the name."""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.name
