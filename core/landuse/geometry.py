"""A polygon unit's own shape as features: what QGIS's "Add geometry attributes" gives, made scale-free.

A land-use polygon's shape says much about its use (a long thin strip is a lane or a
railway, a large convex block a park or a field, a many-vertex outline a built-up
lot), so every study sets a ``geometry`` baseline beside the embeddings, and the
outputs may fuse both. All measures are in metres (the labels' metric CRS):

- ``log_area``: log of the area (m²); areas span six orders of magnitude;
- ``perimeter_ratio``: perimeter / sqrt(area), 4 for a square, larger for ragged or thin shapes;
- ``convexity``: area / area of the convex hull, 1 for convex shapes;
- ``log_vertices``: log of the vertex count (every ring, closing vertices not counted);
- ``elongation``: 1 - short side / long side of the minimum rotated rectangle, 0 for a square.

Holes count: they take area away and add perimeter and vertices. The parts of a
multipolygon are measured together (their sum; hull and rectangle of them all).
Points and lines have no area, hence no shape features.
"""

from __future__ import annotations

import numpy as np

SHAPE_FEATURES = ("log_area", "perimeter_ratio", "convexity", "log_vertices", "elongation")
AREA_TYPES = ("Polygon", "MultiPolygon")


def has_area(geometry) -> bool:
    """Whether shape features describe ``geometry`` (a polygon or multipolygon with positive area)."""
    return geometry is not None and geometry.geom_type in AREA_TYPES and geometry.area > 0


def vertex_count(geometry) -> int:
    """Distinct vertices over every ring of every part (a ring's closing vertex repeats its first)."""
    import shapely

    rings = shapely.get_rings(shapely.get_parts(geometry))
    return int(shapely.get_num_coordinates(rings).sum() - len(rings))


def elongation(geometry) -> float:
    """1 - short / long side of the minimum rotated rectangle around ``geometry``."""
    import shapely

    corners = np.asarray(shapely.minimum_rotated_rectangle(geometry).exterior.coords)[:3]
    sides = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    return float(1.0 - sides.min() / sides.max()) if sides.max() > 0 else 0.0


def shape_features(geometry) -> np.ndarray:
    """(5,) the ``SHAPE_FEATURES`` of one polygon in a metric CRS; NaN for a geometry without area."""
    if not has_area(geometry):
        return np.full(len(SHAPE_FEATURES), np.nan)
    area = geometry.area
    return np.array([
        np.log(area),
        geometry.length / np.sqrt(area),
        area / geometry.convex_hull.area,
        np.log(vertex_count(geometry)),
        elongation(geometry),
    ])


def repaired(geometries) -> list:
    """The geometries with invalid polygons (self-touching rings, common in OSM) made valid by a zero buffer.

    Shapes and rings are measured on them; points and lines stay as they are (a zero buffer would empty them).
    """
    return [g.buffer(0) if g is not None and g.geom_type in AREA_TYPES and not g.is_valid else g for g in geometries]


def geometry_features(geometries) -> np.ndarray:
    """(U, 5) shape features of metric geometries; rows of units without area are NaN."""
    return np.array([shape_features(geometry) for geometry in geometries], dtype=np.float64).reshape(-1, len(SHAPE_FEATURES))


def unit_shapes(metric_geometries, rows: np.ndarray, log) -> np.ndarray | None:
    """(U, 5) shape features of every unit, or None (with a note) when no labelled unit has an area.

    Units without area among polygons (a stray point or line) get the labelled units' median,
    which the probe reads as "a typical shape", and a note says how many.
    """
    shapes = geometry_features(metric_geometries)
    known = np.isfinite(shapes).all(axis=1)
    if not known[rows].any():
        log("The units have no area (points or lines), so they get no shape features: the geometry baseline and "
            "the methods fused with it are left out.")
        return None
    if not known.all():
        log(f"{int((~known).sum())} units have no area (points or lines among the polygons); their shape features "
            "are the median of the labelled units'.")
        shapes[~known] = np.median(shapes[rows][known[rows]], axis=0)
    return shapes
