"""Overture and Foursquare places files (Parquet): recognised, described in words, trained, or refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from calliper.core.data.places_schemas import PlacesSettings, hierarchy_roles, readable
from calliper.core.data.streaming import PointSource
from calliper.core.errors import InputDataError
from calliper.core.text.corpus import stream_corpus
from calliper.core.text.descriptions import build_texts, places_description
from places_files import foursquare_table, overture_table, write_places, write_places_from

SMALL = pd.DataFrame({
    "class": ["pizza_restaurant", "cafe", "bank", "restaurant"],
    "category": ["amenity", "amenity", "amenity", "amenity"],
    "name": [None, None, "Nordea", "Zur {Post}"],
})
LONLAT = np.array([[24.94, 60.17], [24.95, 60.16], [24.93, 60.18], [24.96, 60.17]])


def small_file(tmp_path: Path, kind: str) -> Path:
    return write_places(kind, [(LONLAT, SMALL)], tmp_path / f"{kind}.parquet")


@pytest.fixture(scope="module")
def places_files(demo_points, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("places")
    return {kind: write_places_from(demo_points, kind, folder / f"{kind}.parquet") for kind in ("overture", "foursquare")}


def described(path: Path, settings: PlacesSettings | None = None, chunk_rows: int = 300):
    fields, template = places_description(include_name=True)
    return stream_corpus(PointSource(path, chunk_rows=chunk_rows, places=settings or PlacesSettings()), fields, template,
                         f"the file {path.name}")


def test_category_paths_become_words_at_the_level_asked():
    assert readable("pizza_restaurant") == "pizza restaurant"
    assert readable("Dining and Drinking") == "dining and drinking" and readable("ATM") == "ATM"
    path = ["food_and_drink", "restaurant", "pizza_restaurant"]
    assert hierarchy_roles(path, None) == ("pizza_restaurant", "restaurant", "food_and_drink")
    assert hierarchy_roles(path, 2) == ("restaurant", "", "food_and_drink")
    assert hierarchy_roles(path, 1) == ("food_and_drink", "", "food_and_drink")
    assert hierarchy_roles(path, 9) == hierarchy_roles(path, None) and hierarchy_roles([], None) == ("", "", "")


def test_both_layouts_are_recognised_and_read_as_sentences(tmp_path):
    for kind in ("overture", "foursquare"):
        path = small_file(tmp_path, kind)
        source = PointSource(path)
        assert source.places_schema.key == kind
        texts = described(path, PlacesSettings(min_confidence=0.0)).texts  # the helper doubts row 3
        per_row = [texts.texts[i] for i in texts.text_index]
        # row 0 carries the helper's odd name, row 3 had a brace name of its own
        assert per_row[0] == "A pizza restaurant, a kind of restaurant (food and drink), called Pizzeria {Luigi} 🍕"
        assert per_row[1] == "A cafe, a kind of cafe and coffee (food and drink), called Café }{ 😀"
        assert per_row[2] == "A bank (services and business), called Nordea"
        assert per_row[3] == "A restaurant (food and drink), called Zur {Post}"
    points = next(PointSource(small_file(tmp_path, "overture"), places=PlacesSettings(min_confidence=0.0)).chunks())
    np.testing.assert_allclose(points.xy, LONLAT)  # WKB points in OGC:CRS84, lon first


def test_closed_and_doubtful_places_are_left_out_and_counted(places_files, demo_points):
    n = len(demo_points.xy)
    index = np.arange(n)
    closed, doubtful = index % 11 == 5, index % 7 == 3
    for kind, path in places_files.items():
        logged = []
        from calliper.core.jobs import JobControl

        fields, template = places_description(include_name=False)
        corpus = stream_corpus(PointSource(path, chunk_rows=250), fields, template, "the places",
                               JobControl(log=logged.append))
        expected = {"closed": int(closed.sum())}
        if kind == "overture":
            expected["confidence below 0.5"] = int((doubtful & ~closed).sum())
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in expected.items())
        assert logged[-1].endswith(f"places left out: {reasons}."), logged[-1]
        kept = n - sum(expected.values())
        assert corpus.texts.n_pois + corpus.texts.dropped == kept
    everything = described(places_files["overture"], PlacesSettings(min_confidence=0.0))
    assert everything.texts.n_pois + everything.texts.dropped == n - int(closed.sum())


def test_a_level_picked_gives_the_top_level_as_class(places_files):
    top = described(places_files["foursquare"], PlacesSettings(level=1))
    specific = described(places_files["foursquare"])
    assert set(top.class_names) < {"shopping", "food and drink", "services and business", "travel and transportation",
                                   "sports and recreation", "health care", "arts and entertainment"}
    assert len(specific.class_names) > 5 * len(top.class_names)
    assert all(text.startswith("A place of ") for text in top.texts.texts)


def test_cli_trains_on_places_files_without_field_options(places_files, tmp_path, capsys):
    from calliper.cli.main import main

    for kind, path in places_files.items():
        out = tmp_path / kind
        code = main(["train", "--pois", str(path), "--epochs", "1", "--device", "cpu", "--chunk-rows", "400",
                     "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 0, err
        card = json.loads((out / "card.json").read_text())
        assert card["text"]["style"] == "places" and card["text"]["fields"]["class_field"] == "class"
        assert card["training"]["n_pois"] > 1000 and "places left out: " in err
        assert "distinct descriptions" in err and " s." in err.split("Encoded ")[1].splitlines()[0]


def test_a_plain_parquet_file_needs_a_class_field_and_its_structs_are_flattened(tmp_path, capsys):
    from calliper.cli.main import main

    table = pa.table({
        "kind": ["cafe", "bar", "park", "cafe"],
        "names": pa.array([{"primary": "A"}, {"primary": None}, None, {"primary": "D"}],
                          pa.struct([("primary", pa.string())])),
        "lon": LONLAT[:, 0], "lat": LONLAT[:, 1],
    })
    path = tmp_path / "plain.parquet"
    pq.write_table(table, path)
    chunk = next(PointSource(path).chunks())
    assert list(chunk.attributes.columns) == ["kind", "names.primary"]
    assert main(["train", "--pois", str(path), "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    assert "Choose the field that holds the POI class: plain.parquet" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert main(["train", "--pois", str(path), "--class-field", "kind", "--name-field", "names.primary", "--epochs", "1",
                 "--device", "cpu", "--out", str(tmp_path / "m")]) == 0


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = small_file(tmp_path, "overture")
    wrong = pa.table({"names": ["x"] * 4, "categories": ["cafe"] * 4, "lon": LONLAT[:, 0], "lat": LONLAT[:, 1]})
    pq.write_table(wrong, tmp_path / "wrong.parquet")
    text_coordinates = foursquare_table(LONLAT, SMALL).set_column(2, "latitude", pa.array(["60.1"] * 4))
    pq.write_table(text_coordinates, tmp_path / "text_lat.parquet")
    pq.write_table(overture_table(LONLAT, SMALL).drop(["geometry"]), tmp_path / "nowhere.parquet")
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "cut.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pq.write_table(overture_table(LONLAT[:0], SMALL.iloc[:0]), tmp_path / "no_rows.parquet")
    return {
        "wrong types": (tmp_path / "wrong.parquet", "its column 'names' holds string, not struct<primary: string>"),
        "text coordinates": (tmp_path / "text_lat.parquet", "'latitude' holds string, not numbers"),
        "no position": (tmp_path / "nowhere.parquet", "no geometry column (GeoParquet) and no longitude/latitude"),
        "empty file": (tmp_path / "empty.parquet", "is empty (0 bytes)"),
        "truncated": (tmp_path / "cut.parquet", "cut short, damaged or not Parquet"),
        "no rows": (tmp_path / "no_rows.parquet", "has no features"),
    }


def test_bad_parquet_gets_one_clear_message_and_no_output(tmp_path, capsys):
    from calliper.cli.main import main

    for case, (path, message) in bad_files(tmp_path).items():
        out = tmp_path / f"model-{path.stem}"
        assert main(["train", "--pois", str(path), "--epochs", "1", "--out", str(out)]) == 2, case
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not out.exists(), (case, err)
        with pytest.raises(InputDataError, match=message.split(" (")[0].replace("(", r"\(")):
            described(path)


def test_places_attributes_describe_like_any_table():
    fields, template = places_description()
    frame = pd.DataFrame({"class": ["italian restaurant", "food and drink"], "parent": ["restaurant", ""],
                          "category": ["dining and drinking", "food and drink"], "name": ["X", None]})
    assert build_texts(frame, fields, template).texts == [
        "An italian restaurant, a kind of restaurant (dining and drinking), called X", "A place of food and drink"]


def test_processing_trains_on_a_places_file_given_as_a_file_and_refuses_a_layerless_run(processing, places_files,
                                                                                       tmp_path):
    from qgis.core import QgsProcessingException

    out = tmp_path / "processing_model"
    result = processing.run("calliper:train", {"PLACES_FILE": str(places_files["foursquare"]), "LEVEL": 1,
                                               "EPOCHS": 1, "DEVICE": 1, "OUTPUT": str(out)})
    card = json.loads((Path(result["OUTPUT"]) / "card.json").read_text())
    assert card["text"]["style"] == "places" and card["training"]["layer"] == "the file foursquare.parquet"
    assert len(card["training"]["top_classes"]) <= 7  # the top level only
    with pytest.raises(QgsProcessingException, match="Choose a POI layer .INPUT. or a places file .PLACES_FILE."):
        processing.run("calliper:train", {"EPOCHS": 1, "OUTPUT": str(tmp_path / "none")})
    assert not (tmp_path / "none").exists()


def test_a_places_file_read_whole_equals_its_chunks_for_the_context_graph(places_files):
    source = PointSource(places_files["overture"], chunk_rows=200)
    chunks = list(source.chunks())
    whole = source.whole()
    np.testing.assert_array_equal(whole.xy, np.concatenate([chunk.xy for chunk in chunks]))
    assert list(whole.attributes.columns) == ["class", "parent", "category", "name"]
    assert whole.left_out["closed"] == sum(chunk.left_out["closed"] for chunk in chunks) > 0
