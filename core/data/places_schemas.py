"""Overture Maps Places and Foursquare Open Source Places: recognised by their columns and types.

The two open POI datasets analysts download today are not shaped like OSM layers:
Overture nests the name (``names.primary``) and gives a category path as a list
(``taxonomy.hierarchy``: food_and_drink > restaurant > pizza_restaurant), a confidence
and an operating status; Foursquare gives paths as text ("Dining and Drinking >
Restaurant > Italian Restaurant") and a closing date. This module knows both layouts
and turns a chunk of either into the flat table the descriptions read: ``class`` (the
most specific level, or the level the user picks), ``parent`` (the level above it),
``category`` (the top level) and ``name``, as readable words. Closed places and places
under the confidence threshold are left out and counted. Reading the file is
``parquet.py``'s job; this module only sees Arrow tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputDataError, SettingsError

CLASS, PARENT, CATEGORY, NAME = "class", "parent", "category", "name"
DEFAULT_MIN_CONFIDENCE = 0.5
CLOSED_STATUSES = ("permanently_closed", "temporarily_closed")
PATH_SEPARATOR = " > "


@dataclass
class PlacesSettings:
    """How places become POIs: which hierarchy level is the class, and how sure a place must be."""

    level: int | None = None
    """Hierarchy level of the class: 1 is the top (food and drink), None the most specific one."""
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    """Places whose confidence (Overture, 0 to 1) is below this are left out; 0 keeps all."""

    def validate(self) -> None:
        if self.level is not None and self.level < 1:
            raise SettingsError(f"The hierarchy level starts at 1 (the top level); got {self.level}.")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise SettingsError(f"The minimum confidence is between 0 and 1; got {self.min_confidence}.")


@dataclass
class PlacesChunk:
    """One chunk as flat POI attributes, the rows kept, and how many were left out for which reason."""

    attributes: pd.DataFrame
    kept: np.ndarray
    left_out: dict[str, int]


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_text_list(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)) and _is_text(arrow_type.value_type)


def _struct_with_text(arrow_type, child: str) -> bool:
    import pyarrow as pa

    return pa.types.is_struct(arrow_type) and arrow_type.get_field_index(child) >= 0 and _is_text(arrow_type.field(child).type)


def _struct_with_text_list(arrow_type, child: str) -> bool:
    import pyarrow as pa

    return (pa.types.is_struct(arrow_type) and arrow_type.get_field_index(child) >= 0
            and _is_text_list(arrow_type.field(child).type))


def _is_number(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type)


def _is_text_or_date(arrow_type) -> bool:
    import pyarrow as pa

    return _is_text(arrow_type) or pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type)


@dataclass(frozen=True)
class PlacesSchema:
    """A dataset's layout: the columns that identify it, the types they must have, and which to read."""

    key: str
    label: str
    signature: tuple[str, ...]
    """Columns that, together, mean a file claims this layout."""
    expected: tuple[tuple[str, str, object], ...]
    """(column, type in words, check) for every column this reader uses, where present."""
    required: tuple[str, ...]
    """Columns that must be present."""

    @property
    def columns(self) -> list[str]:
        return [column for column, _, _ in self.expected]

    def check(self, schema, file_name: str) -> None:
        """Refuse a file that claims this layout but whose columns have other types or are missing."""
        missing = [column for column in self.required if column not in schema.names]
        if missing:
            raise InputDataError(
                f"{file_name} looks like {self.label} (it has {', '.join(self.signature)}) but has no "
                f"{', '.join(missing)} column. Is it a complete {self.label} file?"
            )
        for column, words, is_right in self.expected:
            if column in schema.names and not is_right(schema.field(column).type):
                raise InputDataError(
                    f"{file_name} looks like {self.label}, but its column '{column}' holds {schema.field(column).type}, "
                    f"not {words}. The file may be damaged or from a release this version does not know."
                )


OVERTURE = PlacesSchema(
    key="overture",
    label="Overture Maps Places",
    signature=("names", "categories"),
    expected=(
        ("names", "struct<primary: string>", lambda t: _struct_with_text(t, "primary")),
        ("categories", "struct<primary: string, ...>", lambda t: _struct_with_text(t, "primary")),
        ("taxonomy", "struct<hierarchy: list<string>, ...>", lambda t: _struct_with_text_list(t, "hierarchy")),
        ("basic_category", "string", _is_text),
        ("confidence", "numbers", _is_number),
        ("operating_status", "string", _is_text),
    ),
    required=("names", "categories"),
)
FOURSQUARE = PlacesSchema(
    key="foursquare",
    label="Foursquare Open Source Places",
    signature=("fsq_category_labels",),
    expected=(
        ("name", "string", _is_text),
        ("fsq_category_labels", "list<string>", _is_text_list),
        ("date_closed", "string or date", _is_text_or_date),
    ),
    required=("name", "fsq_category_labels"),
)
PLACES_SCHEMAS = (OVERTURE, FOURSQUARE)


def detect_places_schema(schema, file_name: str) -> PlacesSchema | None:
    """The places layout a file's Arrow schema has, checked column by column; None for any other file."""
    for places in PLACES_SCHEMAS:
        if all(column in schema.names for column in places.signature):
            places.check(schema, file_name)
            return places
    return None


_CAMEL_WORD = re.compile(r"^[A-Z][a-z]")


def readable(label: str | None) -> str:
    """A category label as words: snake_case and Title Case become lower-case words; acronyms (ATM, BBQ) stay."""
    if not label:
        return ""
    words = str(label).replace("_", " ").split()
    return " ".join(word.lower() if _CAMEL_WORD.match(word) or word.islower() else word for word in words)


def hierarchy_roles(path: list[str], level: int | None) -> tuple[str, str, str]:
    """(class, parent, category) of one category path, general to specific, at the level asked.

    The parent is the level above the class when it is neither the class nor the top level,
    so "A pizza restaurant, a kind of restaurant (food and drink)" never says a level twice.
    """
    path = list(dict.fromkeys(step for step in path if step))  # a level named twice says nothing more
    if not path:
        return "", "", ""
    index = len(path) - 1 if level is None else min(level, len(path)) - 1
    parent = path[index - 1] if index >= 2 else ""
    return path[index], parent, path[0]


def _overture_paths(table) -> list[list[str]]:
    """Each place's category path: ``taxonomy.hierarchy`` where given, else basic category > primary category."""
    import pyarrow.compute as pc

    n = table.num_rows
    hierarchy = (pc.struct_field(table["taxonomy"], "hierarchy").to_pylist() if "taxonomy" in table.column_names
                 else [None] * n)
    primary = pc.struct_field(table["categories"], "primary").to_pylist()
    basic = table["basic_category"].to_pylist() if "basic_category" in table.column_names else [None] * n
    paths = []
    for steps, main, coarse in zip(hierarchy, primary, basic):
        if steps:
            paths.append(list(steps))
        else:
            paths.append(list(dict.fromkeys(step for step in (coarse, main) if step)))
    return paths


def _overture_left_out(table, settings: PlacesSettings) -> dict[str, np.ndarray]:
    reasons = {}
    if "operating_status" in table.column_names:
        status = table["operating_status"].to_pandas()
        reasons["closed"] = status.isin(CLOSED_STATUSES).to_numpy()
    if "confidence" in table.column_names and settings.min_confidence > 0:
        confidence = table["confidence"].to_pandas().astype(float).to_numpy()
        # a place without a confidence is kept: nothing says it is doubtful
        reasons[f"confidence below {settings.min_confidence:g}"] = confidence < settings.min_confidence
    return reasons


def _foursquare_paths(table) -> list[list[str]]:
    """Each place's first category label split into its levels."""
    return [(labels[0] or "").split(PATH_SEPARATOR) if labels else [] for labels in table["fsq_category_labels"].to_pylist()]


def _foursquare_left_out(table) -> dict[str, np.ndarray]:
    if "date_closed" not in table.column_names:
        return {}
    closed = table["date_closed"].to_pandas()
    return {"closed": (closed.notna() & (closed.astype(str).str.strip() != "")).to_numpy()}


def places_chunk(places: PlacesSchema, table, settings: PlacesSettings) -> PlacesChunk:
    """A chunk of a places file (an Arrow table of ``places.columns``) as flat POI attributes."""
    import pyarrow.compute as pc

    if places is OVERTURE:
        paths, reasons = _overture_paths(table), _overture_left_out(table, settings)
        names = pc.struct_field(table["names"], "primary").to_pylist()
    else:
        paths, reasons = _foursquare_paths(table), _foursquare_left_out(table)
        names = table["name"].to_pylist()
    words: dict[str, str] = {}
    roles = [tuple(words.setdefault(step, readable(step)) for step in hierarchy_roles(path, settings.level))
             for path in paths]
    attributes = pd.DataFrame(roles or None, columns=[CLASS, PARENT, CATEGORY], dtype=object)
    attributes[NAME] = pd.Series(names, dtype=object)
    kept = np.ones(table.num_rows, dtype=bool)
    left_out = {}
    for reason, mask in reasons.items():
        newly = mask & kept  # a closed place of low confidence is counted once, as closed
        left_out[reason] = int(newly.sum())
        kept &= ~mask
    return PlacesChunk(attributes, kept, left_out)
