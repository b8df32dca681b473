"""The dock's field combo boxes start on a field users name that way, never on an id."""

from __future__ import annotations

import pytest


def memory_layer(fields: str):
    from qgis.core import QgsVectorLayer

    return QgsVectorLayer(f"Point?crs=EPSG:3067&{fields}", "units", "memory")


@pytest.fixture
def combo(qgis_app):
    from qgis.gui import QgsFieldComboBox

    return QgsFieldComboBox()


def chosen(combo, layer, guesses, text_only=False) -> str:
    from calliper.ui.field_guess import guess_field

    combo.setLayer(layer)
    guess_field(combo, layer, guesses, text_only)
    return combo.currentField()


def test_a_known_name_wins_in_the_order_of_the_guesses_whatever_its_case(combo):
    from calliper.ui.field_guess import LABEL_FIELDS, POI_CLASS_FIELDS

    layer = memory_layer("field=fid:integer&field=Type:string&field=LandUse:string")
    assert chosen(combo, layer, LABEL_FIELDS) == "LandUse"
    assert chosen(combo, layer, POI_CLASS_FIELDS) == "Type"


def test_without_a_known_name_the_first_text_field_that_is_no_id_is_taken(combo):
    from calliper.ui.field_guess import LABEL_FIELDS

    layer = memory_layer("field=fid:integer&field=osm_id:string&field=area:double&field=zoning:string")
    combo.setLayer(layer)
    assert combo.currentField() == "fid"  # what QGIS picks on its own
    assert chosen(combo, layer, LABEL_FIELDS, text_only=True) == "zoning"


def test_a_layer_of_ids_and_numbers_keeps_qgis_choice_and_no_layer_changes_nothing(combo):
    from calliper.ui.field_guess import POI_CATEGORY_FIELDS, guess_field

    layer = memory_layer("field=fid:integer&field=osm_id:string&field=area:double")
    assert chosen(combo, layer, POI_CATEGORY_FIELDS, text_only=True) == "fid"
    guess_field(combo, None, POI_CATEGORY_FIELDS, text_only=True)
    assert combo.currentField() == "fid"
