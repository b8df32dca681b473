"""Files read chunk by chunk give what the whole file gives: the same points, text ids and model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from calliper.core.catalog.training import train_from_points
from calliper.core.data.poi_io import read_points
from calliper.core.data.streaming import PointSource, iter_point_chunks
from calliper.core.devices import GPU_BATCH_MAX, GPU_BATCH_MIN, batch_for_memory
from calliper.core.errors import FieldError, InputDataError
from calliper.core.model.pipeline import TrainJob
from calliper.core.model.settings import ModelSettings
from calliper.core.model.train import TrainSettings
from calliper.core.text.corpus import stream_corpus, table_corpus
from calliper.core.text.descriptions import TextFields, TextTemplate, build_texts
from calliper.core.text.encoder import TextEncoder, encode_distinct, encode_distinct_to_file

FIELDS = TextFields("class", "category", "name")


@pytest.fixture(scope="module")
def demo_csv(demo_points, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "pois.csv"
    table = demo_points.attributes.assign(x=demo_points.xy[:, 0], y=demo_points.xy[:, 1])
    table.to_csv(path, index=False)
    return path


def test_gpkg_chunks_put_together_equal_the_whole_file(demo_data, demo_points):
    chunks = list(iter_point_chunks(demo_data.pois, chunk_rows=400))
    assert [len(chunk.xy) for chunk in chunks] == [400, 400, 400, 400, len(demo_points.xy) - 1600]
    np.testing.assert_array_equal(np.concatenate([chunk.xy for chunk in chunks]), demo_points.xy)
    together = pd.concat([chunk.attributes for chunk in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(together, demo_points.attributes)
    assert all(chunk.crs == demo_points.crs for chunk in chunks)


def test_csv_chunks_put_together_equal_the_whole_file(demo_csv):
    whole = read_points(demo_csv, csv_crs="EPSG:32635")
    chunks = list(iter_point_chunks(demo_csv, chunk_rows=500, csv_crs="EPSG:32635"))
    assert len(chunks) == 4
    np.testing.assert_array_equal(np.concatenate([chunk.xy for chunk in chunks]), whole.xy)
    assert list(pd.concat([c.attributes for c in chunks], ignore_index=True)["class"]) == list(whole.attributes["class"])


def test_streamed_corpus_has_the_ids_order_and_counts_of_the_whole_table(demo_data, demo_points):
    template = TextTemplate(include_name=True)
    whole = table_corpus(demo_points, FIELDS, template, "the demo POIs")
    streamed = stream_corpus(PointSource(Path(demo_data.pois), chunk_rows=250), FIELDS, template, "the demo POIs")
    assert streamed.texts.texts == whole.texts.texts and len(whole.texts.texts) > 1000
    np.testing.assert_array_equal(streamed.texts.text_index, whole.texts.text_index)
    assert streamed.texts.text_index.dtype == np.int32
    np.testing.assert_array_equal(streamed.points.xy, whole.points.xy)
    assert streamed.top_classes == whole.top_classes and streamed.texts.dropped == whole.texts.dropped


def test_a_missing_field_is_named_from_the_first_chunk(demo_data):
    with pytest.raises(FieldError, match="'kind'"):
        stream_corpus(PointSource(Path(demo_data.pois), chunk_rows=100), TextFields("kind"), TextTemplate(), "the demo POIs")


def test_a_field_empty_in_whole_chunks_streams_like_the_table_and_all_empty_is_named(demo_csv, tmp_path):
    table = pd.read_csv(demo_csv)
    sorted_nulls = tmp_path / "sorted.csv"
    table.assign(kind=np.where(np.arange(len(table)) < 600, None, table["class"])).to_csv(sorted_nulls, index=False)
    whole = table_corpus(read_points(sorted_nulls, csv_crs="EPSG:32635"), TextFields("kind"), TextTemplate(), "sorted")
    streamed = stream_corpus(PointSource(sorted_nulls, csv_crs="EPSG:32635", chunk_rows=250), TextFields("kind"),
                             TextTemplate(), "sorted")
    assert streamed.texts.texts == whole.texts.texts and streamed.texts.dropped == whole.texts.dropped == 600
    empty = tmp_path / "empty.csv"
    table.assign(kind=None).to_csv(empty, index=False)
    with pytest.raises(FieldError, match="'kind' of empty is empty for every feature"):
        stream_corpus(PointSource(empty, csv_crs="EPSG:32635", chunk_rows=250), TextFields("kind"), TextTemplate(), "empty")


def test_training_from_a_streamed_file_equals_training_from_the_table(demo_data, demo_points, tmp_path):
    settings = TrainSettings(epochs=2, batch_size=512, device="cpu")
    small = ModelSettings(hidden=64, n_blocks=1)
    table = train_from_points(TrainJob(demo_points, FIELDS, tmp_path / "table", model=small, train=settings))
    source = PointSource(Path(demo_data.pois), chunk_rows=300)
    streamed = train_from_points(
        TrainJob(source, FIELDS, tmp_path / "streamed", model=small, train=settings, layer_name="the demo POIs")
    )
    for key in ("n_pois", "n_distinct_texts", "extent", "top_classes", "source_crs"):
        assert streamed.card.training[key] == table.card.training[key], key
    assert [h.val_loss for h in streamed.result.history] == pytest.approx([h.val_loss for h in table.result.history], rel=1e-6)
    assert streamed.card.training["settings"]["batch_size"] == 512


def test_text_vectors_on_disk_equal_those_in_memory_and_half_floats_stay_close(demo_points, tmp_path):
    texts = table_corpus(demo_points, FIELDS, TextTemplate(), "the demo POIs").texts.texts
    encoder = TextEncoder()
    in_memory, _ = encode_distinct(texts, encoder)
    on_disk, encoded = encode_distinct_to_file(texts, encoder, tmp_path / "v32.npy")
    half, _ = encode_distinct_to_file(texts, encoder, tmp_path / "v16.npy", dtype="float16")
    assert isinstance(on_disk, np.memmap) and encoded == 0  # every text came from the cache filled just before
    np.testing.assert_array_equal(on_disk, in_memory)
    assert half.dtype == np.float16 and np.abs(half.astype(np.float32) - in_memory).max() < 1e-3


def test_gpu_batch_grows_with_free_memory_within_its_bounds():
    sizes = [batch_for_memory(gib * 2**30) for gib in (1, 8, 16, 40, 80)]
    assert sizes == sorted(sizes)
    assert sizes[0] == GPU_BATCH_MIN and sizes[-1] == GPU_BATCH_MAX
    assert 6 * 4 * sizes[2] ** 2 <= 16 * 2**30 / 2  # the chosen batch's similarity matrices fit in half of 16 GiB


def test_cli_trains_from_the_file_in_chunks_and_refuses_a_zero_chunk(demo_data, demo_points, tmp_path, capsys):
    from calliper.cli.main import main

    common = ["train", "--pois", str(demo_data.pois), "--class-field", "class", "--category-field", "category",
              "--epochs", "1", "--device", "cpu", "--float16-texts"]
    assert main([*common, "--chunk-rows", "0", "--out", str(tmp_path / "refused")]) == 2
    assert "--chunk-rows" in capsys.readouterr().err
    assert main([*common, "--chunk-rows", "500", "--out", str(tmp_path / "model")]) == 0
    card = (tmp_path / "model" / "card.json").read_text()
    assert f'"n_pois": {len(demo_points.xy)}' in card and '"text_dtype": "float16"' in card and '"batch_size": 1024' in card


def test_names_are_appended_by_default_until_they_make_too_many_texts(demo_points, tmp_path, monkeypatch):
    import calliper.core.model.pipeline as pipeline
    from calliper.core.jobs import JobControl
    from calliper.core.model.pipeline import TrainJob, poi_corpus

    logged = []
    control = JobControl(log=logged.append)
    job = TrainJob(points=demo_points, fields=FIELDS, out=tmp_path / "m")
    named = poi_corpus(job, control)
    assert job.template.include_name is True and len(named.texts.texts) > 1000
    assert any(text.endswith(f", called {demo_points.attributes['name'].dropna().iloc[0]}") for text in named.texts.texts)
    assert logged[-1].startswith("Names appended to the descriptions (CaLLiPer+): ")

    monkeypatch.setattr(pipeline, "NAMED_TEXTS_LIMIT", 500)
    job = TrainJob(points=demo_points, fields=FIELDS, out=tmp_path / "m")
    plain = poi_corpus(job, control)
    assert job.template.include_name is False and len(plain.texts.texts) < 500
    assert not any(", called " in text for text in plain.texts.texts)
    assert "Names were not appended: with them the POI layer has " in logged[-1] and "more than 500" in logged[-1]
    forced = TrainJob(points=demo_points, fields=FIELDS, out=tmp_path / "m", template=TextTemplate(include_name=True))
    assert len(poi_corpus(forced, control).texts.texts) == len(named.texts.texts)  # asked for: kept whatever the count


BOUNDARY_FORMATS = ("gpkg", "csv", "shp")
KINDS = ("cafe", "bakery", "park", "school")


def write_boundary_layer(folder: Path, suffix: str, rows: int, n_fields: int) -> Path:
    """A POI file of ``rows`` points in EPSG:32635 with one field (class) or three (class, category, name)."""
    import geopandas as gpd

    columns = {"class": [KINDS[i % len(KINDS)] for i in range(rows)]}
    if n_fields > 1:
        columns.update(category=["amenity" if i % 3 else "shop" for i in range(rows)], name=[f"P{i}" for i in range(rows)])
    x = 385_000.0 + 37.0 * np.arange(rows)
    y = 6_672_000.0 + 11.0 * np.arange(rows)
    path = folder / f"pois_{rows}_{n_fields}.{suffix}"
    if suffix == "csv":
        pd.DataFrame({**columns, "x": x, "y": y}, columns=[*columns, "x", "y"]).to_csv(path, index=False)
    else:
        frame = gpd.GeoDataFrame(pd.DataFrame(columns, columns=list(columns), dtype=object),
                                 geometry=gpd.points_from_xy(x, y), crs="EPSG:32635")
        frame.to_file(path, engine="pyogrio")
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunk=st.integers(min_value=1, max_value=6),
    offset=st.sampled_from(["zero", "one", "chunk-1", "chunk", "chunk+1", "2*chunk"]),
    suffix=st.sampled_from(BOUNDARY_FORMATS),
    n_fields=st.sampled_from([1, 3]),
)
def test_every_row_count_around_a_chunk_boundary_streams_or_is_refused_clearly(tmp_path, chunk, offset, suffix, n_fields):
    rows = {"zero": 0, "one": 1, "chunk-1": chunk - 1, "chunk": chunk, "chunk+1": chunk + 1, "2*chunk": 2 * chunk}[offset]
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = write_boundary_layer(folder, suffix, rows, n_fields)
    source = PointSource(path, csv_crs="EPSG:32635", chunk_rows=chunk)
    sizes = [len(part.xy) for part in source.chunks()]
    assert all(1 <= size <= chunk for size in sizes) and sum(sizes) == rows  # never an empty chunk
    fields = TextFields("class", "category", "name") if n_fields > 1 else TextFields("class")
    template = TextTemplate(include_name=False)
    if rows == 0:
        with pytest.raises(InputDataError, match=f"{path.name} has no features"):
            stream_corpus(source, fields, template, f"the layer {path.name}")
        return
    corpus = stream_corpus(source, fields, template, f"the layer {path.name}")
    assert corpus.texts.n_pois == rows and corpus.class_names == list(KINDS[:rows])
    np.testing.assert_array_equal(corpus.points.xy[:, 0], 385_000.0 + 37.0 * np.arange(rows))


def test_empty_tables_with_any_number_of_fields_are_described_as_nothing():
    for columns in (["class"], ["class", "category"], ["class", "category", "name"]):
        texts = build_texts(pd.DataFrame(columns=columns), TextFields(*columns), TextTemplate())
        assert texts.texts == [] and texts.n_pois == 0 and texts.kept.shape == (0,) and texts.dropped == 0


def test_cli_trains_a_file_that_ends_on_a_chunk_boundary_and_refuses_an_empty_two_field_layer(tmp_path, capsys):
    from calliper.cli.main import main

    for rows in (40, 0):
        path = write_boundary_layer(tmp_path, "gpkg", rows, 3)
        out = tmp_path / f"model-{rows}"
        code = main(["train", "--pois", str(path), "--class-field", "class", "--category-field", "category",
                     "--epochs", "1", "--device", "cpu", "--chunk-rows", "20", "--out", str(out)])
        if rows:
            assert code == 0 and '"n_pois": 40' in (out / "card.json").read_text()
        else:
            err = capsys.readouterr().err
            assert code == 2 and "has no features" in err and "Traceback" not in err and not out.exists()
