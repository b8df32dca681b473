"""Each Processing algorithm runs headless through the real Processing framework on the demo data."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def poi_layer(demo_data):
    """A fresh layer per test: a Processing context may take ownership of layer objects it is given."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(str(demo_data.pois), "pois", "ogr")
    assert layer.isValid()
    return layer


def test_train_algorithm_writes_a_model_folder(processing, poi_layer, tmp_path):
    out = tmp_path / "model"
    result = processing.run("calliper:train", {
        "INPUT": poi_layer.source(), "CLASS_FIELD": "class", "CATEGORY_FIELD": "category", "EPOCHS": 2, "OUTPUT": str(out),
    })
    card = json.loads((out / "card.json").read_text())
    assert result["OUTPUT"] == str(out) and card["training"]["n_pois"] == poi_layer.featureCount()
    assert card["crs_label"] == "EPSG:32635"


def test_embed_points_algorithm_adds_embedding_fields(processing, poi_layer, trained, demo_model, demo_points, tmp_path):
    from calliper.core.model.inference import embed_locations
    from qgis.core import QgsVectorLayer

    out = tmp_path / "embedded.gpkg"
    processing.run("calliper:embedpoints", {"MODEL": str(trained.folder), "INPUT": poi_layer.source(), "OUTPUT": str(out)})
    layer = QgsVectorLayer(str(out), "embedded", "ogr")
    assert layer.featureCount() == poi_layer.featureCount()
    first = next(layer.getFeatures())
    values = np.array([first[f"emb_{i:03d}"] for i in range(128)])
    expected = embed_locations(demo_model, demo_points.xy[:1])[0]
    assert np.allclose(values, expected, atol=1e-6) and first["class"] == demo_points.attributes["class"][0]


def test_bad_field_gives_the_documented_error(processing, poi_layer, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="The field 'nope' is not in the layer 'pois'. Available fields: "):
        processing.run("calliper:train", {"INPUT": poi_layer.source(), "CLASS_FIELD": "nope", "OUTPUT": str(tmp_path / "m")})


def test_rank_algorithm_orders_the_layer_by_the_model_score_for_a_text(processing, poi_layer, trained, demo_model,
                                                                       demo_points, tmp_path):
    from calliper.core.context.ranking import text_scores
    from qgis.core import QgsVectorLayer

    out = tmp_path / "ranked.gpkg"
    processing.run("calliper:rank", {"MODEL": str(trained.folder), "INPUT": poi_layer.source(),
                                     "TEXT": "a cafe", "OUTPUT": str(out)})
    layer = QgsVectorLayer(str(out), "ranked", "ogr")
    rows = sorted((f["rank"], f["score"], f["class"]) for f in layer.getFeatures())
    assert len(rows) == poi_layer.featureCount() and [rank for rank, _, _ in rows] == list(range(1, len(rows) + 1))
    expected = np.sort(text_scores(demo_model, "a cafe", demo_points.xy, demo_points.crs))[::-1]
    np.testing.assert_allclose([score for _, score, _ in rows], expected, atol=1e-6)
    top = [cls for _, _, cls in rows[:50]]
    share = np.mean(demo_points.attributes["class"] == "cafe")
    assert top.count("cafe") / 50 > 2 * share  # cafes are over-represented among the best places


def test_rank_algorithm_refuses_an_empty_text(processing, poi_layer, trained, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="The phrase is empty"):
        processing.run("calliper:rank", {"MODEL": str(trained.folder), "INPUT": poi_layer.source(),
                                         "TEXT": "   ", "OUTPUT": str(tmp_path / "none.gpkg")})
    assert not (tmp_path / "none.gpkg").exists()
