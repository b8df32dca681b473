"""Overture- and Foursquare-shaped Parquet files made from OSM POIs (no third-party data is committed).

The schemas follow the published layouts: Overture Places (GeoParquet, WKB points in
OGC:CRS84 with ``geo`` metadata, nested ``names`` / ``categories`` / ``taxonomy``
structs, lists of websites and sources, ``confidence``, ``operating_status``) and
Foursquare Open Source Places (``latitude`` / ``longitude`` columns,
``fsq_category_labels`` as " > " paths, ``date_closed``). Every 11th place is closed,
every 7th has a low confidence, and some have no name or no category; the first names
carry braces and an emoji. ``bench/scale.py`` writes its country-sized file with these too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# OSM class -> (top level, middle level) of an Overture-like taxonomy; others: (key's group, None)
MIDDLE = {
    "restaurant": ("food_and_drink", "restaurant"), "fast_food": ("food_and_drink", "restaurant"),
    "pizza_restaurant": ("food_and_drink", "restaurant"), "cafe": ("food_and_drink", "cafe_and_coffee"),
    "bar": ("food_and_drink", "bar"), "pub": ("food_and_drink", "bar"),
    "clothes": ("shopping", "fashion_and_apparel"), "shoes": ("shopping", "fashion_and_apparel"),
    "supermarket": ("shopping", "food_and_beverage_store"), "bakery": ("shopping", "food_and_beverage_store"),
}
TOP = {"amenity": "services_and_business", "shop": "shopping", "tourism": "travel_and_transportation",
       "leisure": "sports_and_recreation", "office": "services_and_business", "craft": "services_and_business",
       "healthcare": "health_care", "historic": "arts_and_entertainment"}
ODD_NAMES = ("Pizzeria {Luigi} 🍕", "Café }{ 😀")

OVERTURE_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("geometry", pa.binary()),
    ("bbox", pa.struct([("xmin", pa.float32()), ("xmax", pa.float32()), ("ymin", pa.float32()), ("ymax", pa.float32())])),
    ("version", pa.int32()),
    ("sources", pa.list_(pa.struct([("property", pa.string()), ("dataset", pa.string()), ("record_id", pa.string()),
                                    ("update_time", pa.string()), ("confidence", pa.float64())]))),
    ("names", pa.struct([("primary", pa.string()), ("common", pa.map_(pa.string(), pa.string())),
                         ("rules", pa.list_(pa.struct([("variant", pa.string()), ("language", pa.string()),
                                                       ("value", pa.string())])))])),
    ("categories", pa.struct([("primary", pa.string()), ("alternate", pa.list_(pa.string()))])),
    ("basic_category", pa.string()),
    ("taxonomy", pa.struct([("primary", pa.string()), ("hierarchy", pa.list_(pa.string())),
                            ("alternates", pa.list_(pa.string()))])),
    ("confidence", pa.float64()),
    ("websites", pa.list_(pa.string())),
    ("phones", pa.list_(pa.string())),
    ("addresses", pa.list_(pa.struct([("freeform", pa.string()), ("locality", pa.string()),
                                      ("postcode", pa.string()), ("country", pa.string())]))),
    ("operating_status", pa.string()),
])
FOURSQUARE_SCHEMA = pa.schema([
    ("fsq_place_id", pa.string()), ("name", pa.string()), ("latitude", pa.float64()), ("longitude", pa.float64()),
    ("address", pa.string()), ("locality", pa.string()), ("region", pa.string()), ("postcode", pa.string()),
    ("country", pa.string()), ("date_created", pa.string()), ("date_refreshed", pa.string()),
    ("date_closed", pa.string()), ("tel", pa.string()), ("website", pa.string()),
    ("fsq_category_ids", pa.list_(pa.string())), ("fsq_category_labels", pa.list_(pa.string())),
])


def hierarchy(poi_class: str, category: str) -> list[str]:
    """An Overture-like path (general to specific) for an OSM class and key."""
    top, middle = MIDDLE.get(poi_class, (TOP.get(category, category), None))
    return [step for step in (top, middle, poi_class) if step]


def title_words(snake: str) -> str:
    return " ".join(word.capitalize() if word != "and" else word for word in snake.split("_"))


def _rows(lonlat: np.ndarray, attributes, start: int):
    """Per place: index, lon, lat, class, category, name (odd names first, some nulls), closed, low confidence."""
    for i, ((lon, lat), poi_class, category, name) in enumerate(
            zip(lonlat, attributes["class"], attributes["category"], attributes["name"]), start):
        name = ODD_NAMES[i] if i < len(ODD_NAMES) else (None if pd.isna(name) else str(name))
        yield i, float(lon), float(lat), str(poi_class), str(category), name, i % 11 == 5, i % 7 == 3


def overture_table(lonlat: np.ndarray, attributes, start: int = 0) -> pa.Table:
    import shapely

    rows = list(_rows(lonlat, attributes, start))
    wkb = shapely.to_wkb(shapely.points(lonlat)) if len(lonlat) else []
    records = []
    for (i, lon, lat, poi_class, category, name, closed, doubtful), point in zip(rows, wkb):
        path = hierarchy(poi_class, category)
        no_taxonomy = i % 23 == 9  # older releases: categories only
        records.append({
            "id": f"08f{i:013x}", "geometry": point,
            "bbox": {"xmin": lon, "xmax": lon, "ymin": lat, "ymax": lat}, "version": 1,
            "sources": [{"property": "", "dataset": "meta", "record_id": str(i), "update_time": "2025-01-01",
                         "confidence": 0.9}],
            "names": None if name is None else {"primary": name, "common": None, "rules": None},
            "categories": {"primary": path[-1], "alternate": [path[0]]},
            "basic_category": path[-2] if len(path) > 1 else path[0],
            "taxonomy": None if no_taxonomy else {"primary": path[-1], "hierarchy": path, "alternates": None},
            "confidence": 0.2 if doubtful else 0.6 + (i % 4) / 10, "websites": None, "phones": ["+358 1"],
            "addresses": [{"freeform": "Katu 1", "locality": "Helsinki", "postcode": "00100", "country": "FI"}],
            "operating_status": ("permanently_closed" if i % 2 else "temporarily_closed") if closed else "open",
        })
    return pa.Table.from_pylist(records, schema=OVERTURE_SCHEMA)


def foursquare_table(lonlat: np.ndarray, attributes, start: int = 0) -> pa.Table:
    records = []
    for i, lon, lat, poi_class, category, name, closed, _ in _rows(lonlat, attributes, start):
        label = " > ".join(title_words(step) for step in hierarchy(poi_class, category))
        records.append({
            "fsq_place_id": f"{i:024x}", "name": name, "latitude": lat, "longitude": lon, "address": "Katu 1",
            "locality": "Helsinki", "region": None, "postcode": "00100", "country": "FI",
            "date_created": "2020-01-01", "date_refreshed": "2025-01-01",
            "date_closed": "2024-06-30" if closed else None, "tel": None, "website": None,
            "fsq_category_ids": [f"{abs(hash(label)) % 10**8:024x}"],
            "fsq_category_labels": [] if i % 29 == 13 else [label, "Community and Government > Office"],
        })
    return pa.Table.from_pylist(records, schema=FOURSQUARE_SCHEMA)


GEO_METADATA = {b"geo": json.dumps({"version": "1.1.0", "primary_column": "geometry", "columns": {
    "geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}}).encode()}


def write_places(kind: str, parts: Iterable[tuple[np.ndarray, object]], path: Path, row_group_size: int = 50_000) -> Path:
    """Write (lon/lat array, attributes) parts as an Overture ('overture') or Foursquare ('foursquare') file."""
    schema = OVERTURE_SCHEMA.with_metadata(GEO_METADATA) if kind == "overture" else FOURSQUARE_SCHEMA
    make = overture_table if kind == "overture" else foursquare_table
    with pq.ParquetWriter(path, schema) as writer:
        start = 0
        for lonlat, attributes in parts:
            writer.write_table(make(lonlat, attributes, start).replace_schema_metadata(schema.metadata),
                               row_group_size=row_group_size)
            start += len(lonlat)
    return path


def lonlat_of(points) -> np.ndarray:
    """A point table's coordinates in lon/lat."""
    from calliper.core.crs import LONLAT, to_crs

    return to_crs(points.xy, points.crs, LONLAT)


def write_places_from(points, kind: str, path: Path, row_group_size: int = 500) -> Path:
    """A places file of the given kind from a point table with class, category and name fields."""
    return write_places(kind, [(lonlat_of(points), points.attributes)], path, row_group_size)
