"""POI descriptions from fields and templates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from calliper.core.errors import FieldError
from calliper.core.text.descriptions import TextFields, TextTemplate, build_texts, fill_template

POIS = pd.DataFrame(
    {
        "kind": ["fast_food", "clothes", None, "bakery", "cafe", "cafe"],
        "group": ["amenity", "shop", "amenity", "craft", "amenity", "amenity"],
        "title": ["Burger Bar", None, "X", "Leipomo", "", "Cafe Ursula"],
    }
)


def test_default_templates_use_the_papers_wording_per_category():
    texts = build_texts(POIS, TextFields("kind", "group"))
    assert texts.texts == [
        "A place of fast food, a type of amenity",
        "A place that sells clothes, a type of retail",
        "A place that produces bakery, a type of manufacturing",
        "A place of cafe, a type of amenity",
    ]
    # the two cafes share one description; the row without a class is dropped and counted
    assert texts.text_index.tolist() == [0, 1, 2, 3, 3]
    assert texts.kept.tolist() == [True, True, False, True, True, True] and texts.dropped == 1


def test_names_are_appended_only_where_present():
    texts = build_texts(POIS, TextFields("kind", "group", "title"), TextTemplate(include_name=True))
    per_row = [texts.texts[i] for i in texts.text_index]
    assert per_row[0] == "A place of fast food, a type of amenity, called Burger Bar"
    assert per_row[1] == "A place that sells clothes, a type of retail"
    assert per_row[3] == "A place of cafe, a type of amenity"  # empty name: no dangling "called"


def test_custom_template_with_optional_part_and_any_field():
    texts = build_texts(POIS, TextFields("kind"), TextTemplate(template="{group}: {class}[ ({title})]"))
    assert texts.texts[0] == "amenity: fast food (Burger Bar)"
    assert fill_template("A {class}[, near {x}]", {"class": "park", "x": ""}) == "A park"


def test_field_empty_for_every_row_is_a_clear_error():
    frame = POIS.assign(kind=[None] * len(POIS))
    with pytest.raises(FieldError, match="'kind'.*empty for every feature"):
        build_texts(frame, TextFields("kind", "group"), layer="the layer shops")


def test_unknown_field_lists_the_available_ones():
    with pytest.raises(FieldError, match="'typ' is not in the layer x. Available fields: kind, group, title"):
        build_texts(POIS, TextFields("typ"), layer="the layer x")


def test_long_and_odd_text_is_bounded_and_kept():
    frame = pd.DataFrame({"c": ["é" * 1000, "caf\udce9"]})
    texts = build_texts(frame, TextFields("c"))
    assert len(texts.texts) == 2 and max(len(t) for t in texts.texts) < 260
    assert np.all(texts.kept)


def test_braces_in_values_and_broken_templates_are_handled():
    import pandas as pd
    from calliper.core.errors import SettingsError
    from calliper.core.text.descriptions import TextFields, TextTemplate, build_texts, fill_template

    assert fill_template("A place of {class}[, called {name}]", {"class": "bar", "name": "{x} }"}) == \
        "A place of bar, called {x} }"
    frame = pd.DataFrame({"class": ["cafe", "bar"], "name": ["{", None]})
    for template, problem in (("{class", "expected '}'"), ("A {0} place", "not a field name"),
                              ("{class:>{name}}", "cannot be used")):
        with pytest.raises(SettingsError, match=r"template .*" + (problem if problem != "cannot be used" else "")):
            build_texts(frame, TextFields("class", None, "name"), TextTemplate(template=template))
    texts = build_texts(frame, TextFields("class", None, "name"), TextTemplate(template="somewhere"))
    assert texts.texts == ["somewhere"] and texts.dropped == 0  # no placeholder: one description for all
