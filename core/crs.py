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


EARTH_CRS_TYPES = {"Geographic 2D CRS", "Geographic 3D CRS", "Projected CRS", "Compound CRS", "Geocentric CRS"}
"""CRS kinds that are placed on the Earth; others (engineering, LOCAL_CS "Undefined SRS") are checked by trying."""


def parse_crs(value: object, what: str = "The layer", xy: np.ndarray | None = None) -> CRS:
    """Read a CRS from anything pyproj accepts (EPSG code, WKT, 'EPSG:n', CRS object).

    A CRS that cannot be moved to lon/lat (an engineering or undefined CRS, unknown
    units, no datum) is refused here, before any work; with the layer's coordinates
    ``xy`` the message suggests EPSG:4326 when they look like longitudes and latitudes.
    """
    if value is None or value == "":
        raise CrsError(
            f"{what} has no coordinate reference system. "
            "Set its CRS in QGIS (Layer Properties > Source) or pass one explicitly."
        )
    try:
        crs = value if isinstance(value, CRS) else CRS.from_user_input(value)
    except PyprojCrsError as exc:
        raise CrsError(f"{what} has a CRS that cannot be read: {value!r}.", str(exc)) from exc
    if crs.type_name not in EARTH_CRS_TYPES and not _reaches_lonlat(crs):
        hint = " Its coordinates look like longitudes and latitudes: set EPSG:4326." if _looks_lonlat(xy) else ""
        raise CrsError(
            f"{what} has a CRS that is not placed on the Earth ({crs.name}, {crs.type_name.lower()}), so its "
            f"points cannot be moved to a map. Set the layer's real CRS in QGIS (Layer Properties > Source) or "
            f"pass one explicitly.{hint}"
        )
    return crs


def _reaches_lonlat(crs: CRS) -> bool:
    if any(axis.unit_name.lower() in ("unknown", "") for axis in crs.axis_info):
        return False
    try:
        Transformer.from_crs(crs, LONLAT, always_xy=True)
    except Exception:  # noqa: BLE001 - pyproj raises ProjError, CRSError or others for the same "no path"
        return False
    return True


def _looks_lonlat(xy: np.ndarray | None) -> bool:
    if xy is None or not len(xy):
        return False
    xy = np.asarray(xy, dtype=np.float64)
    finite = xy[np.isfinite(xy).all(axis=1)]
    return bool(len(finite)) and bool((np.abs(finite[:, 0]) <= 180).all() and (np.abs(finite[:, 1]) <= 90).all())


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
