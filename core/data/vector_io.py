"""Writing vector outputs: GeoPackages that QGIS 3.22 opens without a format warning."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_path


def write_geopackage(frame, path: str | Path, layer: str) -> Path:
    """Write a GeoDataFrame as a GeoPackage 1.2 layer, atomically (temp file + rename)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        frame.to_file(temporary, layer=layer, driver="GPKG", engine="pyogrio", dataset_options={"VERSION": "1.2"})
    return path
