"""Picking a field combo box's first choice by the field names users' layers have.

QgsFieldComboBox starts on a layer's first field, which is often ``fid`` or an OSM id: a
user who does not look trains on ids. OSM extracts, QuickOSM and land-use layers name
their fields in a few common ways; the first of those the layer has is chosen.
"""

from __future__ import annotations

POI_CLASS_FIELDS = ("class", "fclass", "type", "amenity", "shop")
POI_CATEGORY_FIELDS = ("category", "group", "key")
POI_NAME_FIELDS = ("name",)
LABEL_FIELDS = ("landuse", "land_use", "class", "label", "type", "category")
ID_FIELDS = ("fid", "id", "osm_id", "ogc_fid", "objectid", "gid")


def guess_field(combo, layer, guesses: tuple[str, ...], text_only: bool = False) -> None:
    """Set ``combo`` to the layer's first field named in ``guesses`` (case-insensitive).

    With ``text_only``, a layer with none of those names gets its first text field that is
    not an id instead of QGIS's first field; a layer with neither keeps QGIS's choice.
    """
    if layer is None:
        return
    fields = list(layer.fields())
    by_name = {field.name().lower(): field.name() for field in fields}
    match = next((by_name[name] for name in guesses if name in by_name), None)
    if match is None and text_only:
        match = next((field.name() for field in fields
                      if not field.isNumeric() and field.name().lower() not in ID_FIELDS), None)
    if match:
        combo.setField(match)
