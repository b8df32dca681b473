"""Bad input and faults: each case raises our error class with a message naming the problem,
and leaves no output behind. Cases for rasters and labels live with those features' tests."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from calliper.core.catalog.training import train_from_points
from calliper.core.data.poi_io import read_points
from calliper.core.errors import (
    CancelledError,
    CrsError,
    FieldError,
    InputDataError,
    ModelFileError,
    OutputPathError,
    TextModelError,
)
from calliper.core.jobs import JobControl
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.train import TrainSettings
from calliper.core.text.descriptions import TextFields
from shapely.geometry import MultiPoint, Point, Polygon

QUICK = TrainSettings(epochs=1, batch_size=256)


def frame(n=40, seed=0, crs="EPSG:32635", **columns):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, (n, 2)) + [385_000, 6_671_000]
    data = {"class": [["cafe", "bar", "bank", "school"][i % 4] for i in range(n)], "name": [f"P{i}" for i in range(n)]}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def write(gdf, path):
    gdf.to_file(path, driver="GPKG" if path.suffix == ".gpkg" else None)
    return path


def train(path, tmp_path, fields=TextFields("class"), control=None, settings=QUICK, **kw):
    job = TrainJob(read_points(path), fields, tmp_path / "model", train=settings, layer_name=f"the layer {path.name}", **kw)
    return train_from_points(job, control)


def assert_no_output(tmp_path):
    assert not (tmp_path / "model").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]


def test_empty_layer(tmp_path):
    path = write(frame(0), tmp_path / "empty.gpkg")
    with pytest.raises(InputDataError, match="empty.gpkg has no features with a usable position"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_layer_with_no_usable_text_field(tmp_path):
    path = write(frame().drop(columns=["class", "name"]).assign(value=1.5), tmp_path / "numbers.gpkg")
    with pytest.raises(FieldError, match="'class' is not in the layer numbers.gpkg. Available fields: value"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_all_null_class_field(tmp_path):
    path = write(frame().assign(**{"class": None}), tmp_path / "nulls.gpkg")
    with pytest.raises(FieldError, match="'class' of the layer nulls.gpkg is empty for every feature"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_single_poi(tmp_path):
    path = write(frame(1), tmp_path / "one.gpkg")
    with pytest.raises(InputDataError, match="has 1 POI.*at least 2"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_single_distinct_text(tmp_path):
    path = write(frame().assign(**{"class": "cafe"}), tmp_path / "same.gpkg")
    with pytest.raises(InputDataError, match="same description .*A place of cafe.*field 'class'"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_all_pois_at_one_location(tmp_path):
    gdf = frame()
    gdf.geometry = gpd.points_from_xy([385_000.0] * len(gdf), [6_671_000.0] * len(gdf))
    with pytest.raises(InputDataError, match="All POIs share one location"):
        train(write(gdf, tmp_path / "stack.gpkg"), tmp_path)
    assert_no_output(tmp_path)


def test_duplicate_coordinates_among_others_train_fine(tmp_path):
    gdf = frame(60)
    gdf.loc[:20, "geometry"] = Point(385_500, 6_671_500)
    outcome = train(write(gdf, tmp_path / "dups.gpkg"), tmp_path)
    assert outcome.card.training["n_pois"] == 60


def test_lonlat_layer_trains_in_its_utm_zone(tmp_path):
    outcome = train(write(frame().to_crs(4326), tmp_path / "lonlat.gpkg"), tmp_path)
    assert outcome.card.crs_label == "EPSG:32635"


def test_layer_without_crs(tmp_path):
    path = write(frame(crs=None), tmp_path / "nocrs.shp")
    with pytest.raises(CrsError, match="nocrs.shp has no coordinate reference system"):
        train(path, tmp_path)
    assert_no_output(tmp_path)


def test_polygon_and_multipoint_pois_become_points(tmp_path):
    gdf = frame(40)
    gdf.loc[0, "geometry"] = Polygon([(385_000, 6_671_000), (385_050, 6_671_000), (385_050, 6_671_050)])
    gdf.loc[1, "geometry"] = MultiPoint([(385_100, 6_671_100), (385_120, 6_671_100)])
    table = read_points(write(gdf, tmp_path / "mixed.gpkg"))
    assert table.converted_to_points == 2 and len(table.xy) == 40
    x, y = table.xy[0]
    assert Polygon([(385_000, 6_671_000), (385_050, 6_671_000), (385_050, 6_671_050)]).contains(Point(x, y))


def test_non_utf8_and_very_long_text(tmp_path):
    path = tmp_path / "latin1.csv"
    rows = ["lon,lat,class"] + [f"24.9{i:02d},60.17{i % 7},{'Café' if i % 2 else 'Bäckerei ' * 300}" for i in range(30)]
    path.write_bytes("\n".join(rows).encode("latin-1"))
    outcome = train(path, tmp_path)
    assert outcome.card.training["n_distinct_texts"] == 2


def test_nan_and_infinite_coordinates_are_dropped_and_counted(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"x": [24.94, np.nan, np.inf, 24.95], "y": [60.17, 60.17, 60.18, 60.18],
                  "class": ["a", "b", "c", "d"]}).to_csv(path, index=False)
    table = read_points(path)
    assert len(table.xy) == 2 and table.dropped_no_geometry == 2
    all_bad = tmp_path / "allbad.csv"
    pd.DataFrame({"x": [np.nan], "y": [np.inf], "class": ["a"]}).to_csv(all_bad, index=False)
    with pytest.raises(InputDataError, match="allbad.csv has no features with a usable position"):
        read_points(all_bad)


def test_output_path_not_writable(tmp_path):
    path = write(frame(), tmp_path / "pois.gpkg")
    job = TrainJob(read_points(path), TextFields("class"), tmp_path / "pois.gpkg" / "model", train=QUICK)
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        train_from_points(job)
    job.out = tmp_path / "ro" / "model"
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        if shutil.os.geteuid() == 0:
            job.out = __import__("pathlib").Path("/proc/calliper/model")
        with pytest.raises(OutputPathError, match="Cannot write to the folder"):
            train_from_points(job)
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_output_equal_to_input_is_refused(tmp_path):
    path = write(frame(), tmp_path / "pois.gpkg")
    job = TrainJob(read_points(path), TextFields("class"), path, train=QUICK, overwrite=True)
    with pytest.raises(OutputPathError, match="is also an input"):
        train_from_points(job)
    assert read_points(path).xy.shape == (40, 2)  # the user's file is untouched


def test_existing_output_only_overwritten_when_asked(tmp_path):
    path = write(frame(), tmp_path / "pois.gpkg")
    train(path, tmp_path)
    with pytest.raises(OutputPathError, match="already exists"):
        train(path, tmp_path)
    train(path, tmp_path, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["card.json", "evidence.safetensors",
                                                                       "model.safetensors"]


def test_a_users_folder_picked_as_the_model_folder_keeps_its_files_and_gets_the_model_inside(tmp_path):
    path = write(frame(), tmp_path / "pois.gpkg")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("mine")
    lines: list[str] = []
    for overwrite in (False, True):
        outcome = train(path, tmp_path, control=JobControl(log=lines.append), overwrite=overwrite)
        assert (tmp_path / "model" / "keep.txt").read_text() == "mine"
        assert outcome.folder.parent == tmp_path / "model" and (outcome.folder / "card.json").is_file()
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["calliper-model", "calliper-model-2", "keep.txt"]
    assert any("holds files Calliper did not write" in line for line in lines)


def test_model_file_from_an_incompatible_version(trained, tmp_path):
    from calliper.core.catalog.loading import load_model

    folder = tmp_path / "old"
    shutil.copytree(trained.folder, folder)
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, "format_version": 0}))
    with pytest.raises(ModelFileError, match="incompatible version of Calliper .*Retrain it"):
        load_model(folder)


def test_cuda_requested_without_cuda_falls_back_with_a_message(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the fallback cannot happen")
    messages = []
    outcome = train(write(frame(), tmp_path / "p.gpkg"), tmp_path, control=JobControl(log=messages.append),
                    settings=TrainSettings(epochs=1, device="cuda"))
    assert outcome.result.device == "cpu"
    assert any("CUDA was requested but" in m and "running on the CPU instead" in m for m in messages)


@pytest.mark.parametrize("stage, after_calls", [("text encoding", 0), ("training", 3)])
def test_cancel_leaves_no_partial_model(tmp_path, stage, after_calls, monkeypatch):
    monkeypatch.setenv("CALLIPER_CACHE_DIR", str(tmp_path / "fresh-cache"))  # so text encoding really runs
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > after_calls

    path = write(frame(200, **{"class": [f"kind {i}" for i in range(200)]}), tmp_path / "p.gpkg")
    with pytest.raises(CancelledError, match="cancelled; no partial output"):
        train(path, tmp_path, control=JobControl(is_cancelled=cancelled), settings=TrainSettings(epochs=50, batch_size=16))
    assert_no_output(tmp_path)


def test_missing_sentence_transformer_folder(tmp_path):
    path = write(frame(), tmp_path / "p.gpkg")
    with pytest.raises(TextModelError, match="text model folder .*does not exist"):
        train(path, tmp_path, text_model=str(tmp_path / "no-such-model"))
    assert_no_output(tmp_path)


def test_a_class_field_empty_in_every_row_is_refused_from_the_command_line(tmp_path, capsys):
    from calliper.cli.main import main

    categories = [["amenity", "shop", "tourism", "leisure"][i % 4] for i in range(200)]
    path = write(frame(200, **{"class": [None] * 200, "category": categories}), tmp_path / "nulls.gpkg")
    code = main(["train", "--pois", str(path), "--class-field", "class", "--category-field", "category",
                 "--epochs", "1", "--out", str(tmp_path / "model")])
    message = capsys.readouterr().err
    assert code == 2 and "class field 'class'" in message and "'category' as the class" in message
    assert "Traceback" not in message
    assert_no_output(tmp_path)


def test_a_class_field_with_some_empty_rows_still_trains_with_the_category_standing_in(tmp_path):
    classes = [None if i % 2 else ["cafe", "bar", "bank", "school"][i % 4] for i in range(60)]
    categories = [["amenity", "shop"][i % 2] for i in range(60)]
    path = write(frame(60, **{"class": classes, "category": categories}), tmp_path / "some.gpkg")
    outcome = train(path, tmp_path, fields=TextFields("class", "category"))
    assert outcome.card.training["n_pois"] == 60
