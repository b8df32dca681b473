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
        "A place of amenity",
        "A place that produces bakery, a type of manufacturing",
        "A place of cafe, a type of amenity",
    ]
    # the two cafes share one description; the row without a class is described by its category
    assert texts.text_index.tolist() == [0, 1, 2, 3, 4, 4]
    assert texts.kept.all() and texts.dropped == 0 and texts.class_from_category == 1
    without_category = build_texts(POIS, TextFields("kind"))
    assert without_category.dropped == 1 and without_category.class_from_category == 0  # nothing to stand in


def test_names_are_appended_only_where_present():
    texts = build_texts(POIS, TextFields("kind", "group", "title"), TextTemplate(include_name=True))
    per_row = [texts.texts[i] for i in texts.text_index]
    assert per_row[0] == "A place of fast food, a type of amenity, called Burger Bar"
    assert per_row[1] == "A place that sells clothes, a type of retail"
    assert per_row[2] == "A place of amenity, called X"  # no class: the category stands in
    assert per_row[4] == "A place of cafe, a type of amenity"  # empty name: no dangling "called"


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


def test_values_that_name_no_class_fall_back_to_the_category_in_texts_vocabulary_and_log(tmp_path):
    from calliper.core.data.poi_io import PointTable
    from calliper.core.jobs import JobControl
    from calliper.core.model.pipeline import TrainJob, poi_corpus
    from pyproj import CRS

    frame = pd.DataFrame({
        "kind": ["yes", "bakery", " YES ", "no", "true", "1", "", None, "yes", "cafe"],
        "group": ["shop", "shop", "amenity", "shop", "amenity", "tourism", "amenity", "shop", None, "amenity"],
        "title": ["Kauppa", None, None, None, None, None, None, None, None, "Ursula"],
    })
    texts = build_texts(frame, TextFields("kind", "group", "title"), TextTemplate(include_name=True))
    per_row = [texts.texts[i] for i in texts.text_index]
    assert per_row[0] == "A place of shop, called Kauppa" and per_row[1] == "A place that sells bakery, a type of retail"
    assert per_row[2] == "A place of amenity" and per_row[5] == "A place of tourism"
    assert not any("yes" in text.lower() or "true" in text for text in texts.texts)
    # 'yes' without a category has nothing to stand in and, like any POI without a category, is left out
    assert texts.class_from_category == 7 and texts.kept.tolist() == [True] * 8 + [False, True]

    logged = []
    xy = np.column_stack([385_000.0 + 50 * np.arange(len(frame)), np.full(len(frame), 6_672_000.0)])
    points = PointTable(xy, frame, CRS.from_epsg(32635), "test")
    corpus = poi_corpus(TrainJob(points, TextFields("kind", "group"), tmp_path / "m"), JobControl(log=logged.append))
    assert set(corpus.class_names) == {"shop", "bakery", "amenity", "tourism", "cafe"}
    assert corpus.top_classes["shop"] == 3 and corpus.top_classes["amenity"] == 3
    assert any(line.startswith("7 POIs of the POI layer have a class value that names no class") for line in logged)


def test_demo_extractor_takes_a_real_class_from_any_key_and_else_the_key(demo_data, demo_points):
    from calliper.core.data.demo_city import poi_table
    from calliper.core.data.poi_io import NOT_CLASS_VALUES

    osm = pd.DataFrame({"id": [1, 2, 3, 4], "name": ["A", None, "C", None],
                        "amenity": ["yes", "cafe", None, "no"], "shop": ["bakery", "yes", "yes", None]})
    table = poi_table(osm)
    assert table["class"].tolist() == ["bakery", "cafe", "shop", "amenity"]
    assert table["category"].tolist() == ["shop", "amenity", "shop", "amenity"]
    classes = demo_points.attributes["class"].str.lower()
    assert not classes.isin(NOT_CLASS_VALUES).any()
    from_key = int((demo_points.attributes["class"] == demo_points.attributes["category"]).sum())
    assert from_key == demo_data.n_class_from_key > 0  # the demo city's shop=yes and alike
