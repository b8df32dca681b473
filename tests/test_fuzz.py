"""Fuzzed input: random attribute tables, geometries, CRSs and templates through the reader, the descriptions and train.

The invariant: success, or one of our errors (a ``CalliperError`` with a message);
never another exception, and never a file left at the output after an error. CI runs
a bounded number of examples; ``bench/fuzz.py`` runs many more with the same strategies
(``CALLIPER_FUZZ_PROFILE=long``).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd
from calliper.core.errors import CalliperError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=600, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("CALLIPER_FUZZ_PROFILE", "ci"))

UNDEFINED = ('LOCAL_CS["Undefined SRS",LOCAL_DATUM["unknown",32767],UNIT["unknown",0],'
             'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
CRSS = st.sampled_from(["EPSG:4326", "EPSG:32635", "EPSG:3857", "EPSG:3067", UNDEFINED, None])
VALUES = st.one_of(
    st.none(), st.text(max_size=30), st.text(min_size=200, max_size=2000), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["cafe", "bar", "pub", "", "  ", "☕ café", "a_b"]),
)
COORDINATES = st.one_of(
    st.floats(-180, 180), st.floats(-1e7, 1e7), st.sampled_from([math.nan, math.inf, 1e300, -1e300, 0.0]),
)
TEMPLATES = st.one_of(
    st.none(), st.sampled_from(["A place of {class}", "{class}[, called {name}]", "{unknown}", "{class", "[{name}]",
                                "{name} {name} {class}", "", "no placeholder"]),
    st.text(max_size=40),
)


@st.composite
def poi_tables(draw):
    rows = draw(st.integers(0, 40))
    classes = draw(st.lists(VALUES, min_size=rows, max_size=rows))
    names = draw(st.lists(VALUES, min_size=rows, max_size=rows))
    xs = draw(st.lists(COORDINATES, min_size=rows, max_size=rows))
    ys = draw(st.lists(COORDINATES, min_size=rows, max_size=rows))
    kinds = draw(st.lists(st.sampled_from(["point", "point", "point", "empty", "multi", "z", "line"]),
                          min_size=rows, max_size=rows))
    return classes, names, list(zip(xs, ys)), kinds, draw(CRSS), draw(TEMPLATES)


def geometry(kind: str, x: float, y: float):
    import shapely

    if kind == "empty":
        return shapely.Point()
    if kind == "multi":
        return shapely.MultiPoint([(x, y), (x + 1, y + 1)])
    if kind == "z":
        return shapely.Point(x, y, 5.0)
    if kind == "line":
        return shapely.LineString([(x, y), (x + 10, y + 10)])
    return shapely.Point(x, y)


def write_layer(path, table) -> bool:
    """The fuzzed table as a GeoPackage; False when GDAL itself cannot write it (not our reader's problem)."""
    import geopandas as gpd

    classes, names, xy, kinds, crs, _ = table
    frame = gpd.GeoDataFrame(
        {"class": pd.Series(classes, dtype=object).map(lambda v: v if v is None else str(v)),
         "name": pd.Series(names, dtype=object).map(lambda v: v if v is None else str(v))},
        geometry=[geometry(k, x, y) for k, (x, y) in zip(kinds, xy)] or gpd.GeoSeries([]),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = frame.set_crs(crs, allow_override=True) if crs else frame
            frame.to_file(path, driver="GPKG", engine="pyogrio")
    except Exception:  # noqa: BLE001 - a table GDAL refuses to write is not an input a user can have
        return False
    return True


@given(table=poi_tables())
def test_fuzzed_layers_through_reader_descriptions_and_one_epoch_of_training(table, tmp_path_factory):
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.poi_io import read_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields, TextTemplate, build_texts

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "pois.gpkg"
    assume(write_layer(path, table))
    template = TextTemplate(template=table[5])
    fields = TextFields("class", None, "name")
    out = folder / "model"
    try:
        points = read_points(path)
        build_texts(points.attributes, fields, template, "the fuzzed layer")
        outcome = train_from_points(TrainJob(points=points, fields=fields, template=template, out=out,
                                             train=TrainSettings(epochs=1, batch_size=8, seed=0)))
    except CalliperError as error:
        assert error.message and "Traceback" not in error.message
        assert not out.exists(), "an error left a file at the output"
        return
    assert outcome.folder == out and (out / "card.json").is_file()
    assert np.isfinite(outcome.card.metrics["final_train_loss"])
