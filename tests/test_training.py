"""Training on the real demo POIs learns something measurable, and models round-trip exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from calliper.core.catalog.loading import load_model
from calliper.core.errors import ModelFileError
from calliper.core.model.inference import embed_locations, embed_texts


def test_training_lowers_validation_loss(trained):
    history = trained.result.history
    assert trained.result.best_val_loss < history[0].val_loss - 0.05
    assert trained.result.n_val >= 150 and trained.result.n_train + trained.result.n_val == trained.card.training["n_pois"]
    assert trained.card.metrics["best_epoch"] == int(np.argmin([h.val_loss for h in history])) + 1


def test_second_training_encodes_no_text(demo_points, tmp_path, monkeypatch):
    from calliper.core.catalog.training import train_from_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    monkeypatch.setenv("CALLIPER_CACHE_DIR", str(tmp_path / "empty-cache"))  # independent of other tests' encodings

    def run(name: str):
        job = TrainJob(demo_points, TextFields("class", "category", "name"), tmp_path / name, train=TrainSettings(epochs=1))
        return train_from_points(job)

    first = run("m1")
    assert first.n_encoded == first.card.training["n_distinct_texts"] > 100
    assert run("m2").n_encoded == 0


def test_same_class_locations_end_up_closer_than_different_classes(demo_model, demo_points):
    classes = demo_points.attributes["class"].to_numpy()
    top = [c for c, n in zip(*np.unique(classes, return_counts=True)) if n >= 30]
    rows = np.isin(classes, top)
    emb = embed_locations(demo_model, demo_points.xy[rows])
    labels = classes[rows]
    sims = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    gap = sims[same & off_diagonal].mean() - sims[~same].mean()
    assert gap > 0.02, gap


def test_texts_find_their_own_poi_locations(demo_model, demo_points):
    """A class's description is more similar to that class's POIs than to the others'."""
    classes = demo_points.attributes["class"].to_numpy()
    emb = embed_locations(demo_model, demo_points.xy)
    wins = 0
    candidates = ["restaurant", "clothes", "cafe", "bar", "hotel", "pharmacy"]
    for name in candidates:
        text = embed_texts(demo_model, [f"A place of {name}, a type of amenity"])[0]
        sims = emb @ text
        wins += sims[classes == name].mean() > sims[classes != name].mean()
    assert wins >= 5


def test_model_folder_round_trip_gives_identical_embeddings(demo_model, trained, demo_points):
    again = load_model(trained.folder)
    a = embed_locations(demo_model, demo_points.xy[:200])
    b = embed_locations(again, demo_points.xy[:200])
    assert np.array_equal(a, b)
    card = json.loads((trained.folder / "card.json").read_text())
    assert card["crs_label"] == "EPSG:32635" and card["model"]["encoder"] == "grid"
    assert card["text"]["fields"]["class_field"] == "class" and card["text_model"].startswith("all-MiniLM-L6-v2")
    assert card["training"]["n_pois"] == len(demo_points.xy) and "torch" in card["versions"]


@pytest.fixture
def model_copy(trained, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(trained.folder, folder)
    return folder


def test_truncated_weights_give_our_error(model_copy):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_model(model_copy)


def test_pickle_renamed_as_weights_is_never_unpickled(model_copy, tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (model_copy / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError):
        load_model(model_copy)
    assert not marker.exists()


def test_incompatible_or_corrupt_card_gives_our_error(model_copy):
    card_path = model_copy / "card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(ModelFileError, match=r"newer Calliper \(model format 99\); this version reads format 1\. Update"):
        load_model(model_copy)
    card_path.write_text("{not json")
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(model_copy)
    with pytest.raises(ModelFileError, match="not a Calliper model folder"):
        load_model(model_copy.parent / "missing")


def test_a_last_batch_of_one_joins_the_one_before_even_when_there_are_only_two():
    from calliper.core.model.train import _batches

    for n, size in ((9, 8), (17, 8), (5, 4), (8, 8)):
        batches = _batches(np.arange(n), size, None)
        assert sum(len(b) for b in batches) == n and min(len(b) for b in batches) >= 2
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
