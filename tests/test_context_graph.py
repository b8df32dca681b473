"""Context graphs, their captions and the CaLLiPer + context graph model on the real demo data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import torch
from calliper.core.context.captions import compass, describe_place, describe_places, round_distance
from calliper.core.context.graph import ContextIndex, offsets, read_streets
from calliper.core.context.network import ContextNet, edge_features
from calliper.core.errors import SettingsError
from calliper.core.model.settings import ContextSettings, ModelSettings
from calliper.core.text.descriptions import clean_value

# A 600 x 500 m block of central Helsinki (EPSG:32635) with many demo POIs.
EXTENT = (385800.0, 6671900.0, 386400.0, 6672400.0)


@pytest.fixture(scope="module")
def streets(demo_points):
    from calliper.core.data.demo_city import helsinki_pbf

    return read_streets(helsinki_pbf(), demo_points.crs)


@pytest.fixture(scope="module")
def classes(demo_points):
    return demo_points.attributes["class"].map(clean_value).to_numpy(dtype=object)


@pytest.fixture(scope="module")
def context_model(trained, demo_points, tmp_path_factory):
    """A context-graph model trained briefly on the demo POIs with the extract's streets, loaded back.

    Built after ``trained``: that session model must be the first to encode the demo
    descriptions into the session's text cache (test_training checks it).
    """
    from calliper.core.catalog.loading import load_model
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.demo_city import helsinki_pbf
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    job = TrainJob(
        points=demo_points,
        fields=TextFields("class", "category"),
        model=ModelSettings(encoder="grid_context", encoder_options={"streets": str(helsinki_pbf())}),
        train=TrainSettings(epochs=3, batch_size=512, seed=1),
        out=tmp_path_factory.mktemp("context") / "model",
    )
    outcome = train_from_points(job)
    return outcome, load_model(outcome.folder)


def test_distance_and_bearing_match_hand_computed_values():
    origin = np.zeros((5, 2))
    targets = np.array([[0.0, 100.0], [100.0, 0.0], [0.0, -50.0], [-30.0, -30.0], [3.0, 4.0]])
    distance, bearing = offsets(origin, targets)
    assert distance == pytest.approx([100.0, 100.0, 50.0, math.sqrt(1800.0), 5.0])
    assert bearing == pytest.approx([0.0, 90.0, 180.0, 225.0, math.degrees(math.atan2(3.0, 4.0))])
    assert [compass(b) for b in bearing] == ["north", "east", "south", "south-west", "north-east"]


def test_edge_features_are_log_distance_and_bearing_sine_cosine():
    target = torch.zeros(4, 2, dtype=torch.float64)
    source = torch.tensor([[100.0, 0.0], [0.0, -100.0], [0.0, 0.0], [-3.0, 4.0]], dtype=torch.float64)
    features = edge_features(target, source)
    expected = [
        [math.log(101.0), 1.0, 0.0],  # east
        [math.log(101.0), 0.0, -1.0],  # south
        [0.0, 0.0, 0.0],  # self loop: no direction
        [math.log(6.0), -0.6, 0.8],  # bearing atan2(-3, 4)
    ]
    assert features.numpy() == pytest.approx(np.array(expected), abs=1e-6)
    assert features.dtype == torch.float32


def test_neighbours_skip_the_place_itself_and_stay_within_the_radius():
    context = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 50.0], [30.0, 0.0], [500.0, 0.0]])
    index = ContextIndex(context, ContextSettings(neighbours=4, radius=300.0, min_distance=1.0))
    found = index.neighbours(np.array([[0.0, 0.0]]))
    assert found.index[0].tolist() == [3, 2, -1, -1]  # nearest first; co-located and far POIs left out
    assert found.distance[0, :2] == pytest.approx([30.0, 50.0])
    assert found.bearing[0, :2] == pytest.approx([90.0, 0.0])
    assert np.isinf(found.distance[0, 2:]).all()


def test_hand_made_caption_reads_as_expected():
    context = np.array([[0.0, 0.0], [40.0, 30.0], [-60.0, 10.0], [10.0, -90.0]])
    kinds = np.array(["bus station", "restaurant", "restaurant", "cafe"], dtype=object)
    found = ContextIndex(context, ContextSettings(neighbours=8)).neighbours(np.array([[0.0, 80.0]]))
    caption = describe_place("pharmacy", found, 0, kinds, street=(12.0, 4), about="cafe")
    assert caption.text == (
        "A pharmacy 60 m north-west of a restaurant, whose nearest cafe is 150 m to the south, "
        "among 2 restaurants, at a junction of 4 streets"
    )


def test_caption_statements_are_true_for_the_graph_they_came_from(demo_points, classes, streets):
    settings = ContextSettings()
    xy = demo_points.xy
    rows = np.random.default_rng(0).choice(len(xy), 150, replace=False)
    captions = describe_places(xy[rows], classes[rows], xy, classes, settings, streets, 0.5, fact_share=0.6, seed=3)
    street_distance, street_degree = streets.nearest(xy[rows])
    checked = dict.fromkeys(("relation", "nearest", "crowd", "street"), 0)
    for caption, row, s_dist, s_deg in zip(captions, rows, street_distance, street_degree):
        distance, bearing = offsets(xy[row], xy)  # from the place to every POI
        usable = (distance >= settings.min_distance) & (distance <= settings.radius)
        nearest_first = np.flatnonzero(usable)[np.argsort(distance[usable], kind="stable")][: settings.neighbours]
        relation = caption.relation
        if relation:
            checked["relation"] += 1
            assert relation.other == nearest_first[0]
            assert relation.other_class == classes[relation.other]
            assert relation.distance == round_distance(distance[relation.other])
            assert relation.direction == compass((bearing[relation.other] + 180.0) % 360.0)  # seen from the other POI
            assert f"{relation.distance} m {relation.direction} of" in caption.text
        if caption.nearest:
            checked["nearest"] += 1
            same = usable & (classes == caption.nearest.poi_class)
            assert caption.nearest.other == np.flatnonzero(same)[np.argmin(distance[same])]
            assert caption.nearest.distance == round_distance(distance[caption.nearest.other])
            assert caption.nearest.direction == compass(bearing[caption.nearest.other])
            assert f"whose nearest {caption.nearest.poi_class} is {caption.nearest.distance} m" in caption.text
        if caption.crowd:
            checked["crowd"] += 1
            assert caption.crowd.count == int((classes[nearest_first] == caption.crowd.poi_class).sum()) >= 2
            assert f"among {caption.crowd.count} " in caption.text
        if caption.street:
            checked["street"] += 1
            assert caption.street.distance == round_distance(s_dist) and caption.street.degree == s_deg
        assert any(getattr(caption, fact) for fact in checked), "every caption states at least one fact"
    assert min(checked.values()) > 50 and max(checked.values()) < len(rows)  # facts are sampled, each often
    assert {c.text.split(" ")[1] for c in captions} & {"place"}, "some captions describe only the surroundings"


def test_unknown_context_setting_is_refused_with_its_name():
    with pytest.raises(SettingsError, match="neighbours"):
        ModelSettings(encoder="grid_context", encoder_options={"neighbours": 0}).validate()
    with pytest.raises(SettingsError, match="context-graph setting"):
        ModelSettings(encoder="grid_context", encoder_options={"hops": 2}).validate()


def test_context_model_saves_its_context_pois_and_loads_back_the_same_network(context_model, demo_points):
    outcome, model = context_model
    assert isinstance(model.net, ContextNet)
    assert model.card.settings.encoder == "grid_context"
    assert outcome.card.training["n_captions"] == len(demo_points.xy)
    assert outcome.card.training["n_street_nodes"] > 1000
    assert model.net.context_xy.dtype == torch.float64
    assert np.array_equal(model.net.context_xy.numpy(), demo_points.xy)  # metres kept to the last digit
    assert len(outcome.result.history) == 3 and np.isfinite(outcome.result.best_val_loss)


def test_context_changes_the_embedding_only_through_the_neighbours(context_model, demo_points):
    from calliper.core.model.inference import embed_locations

    _, model = context_model
    xy = demo_points.xy[:64]
    embedded = embed_locations(model, xy)
    assert np.linalg.norm(embedded, axis=1) == pytest.approx(1.0, abs=1e-5)
    with torch.no_grad():
        alone = torch.nn.functional.normalize(model.net.location(torch.from_numpy(xy)), dim=-1).numpy()
    assert not np.allclose(embedded, alone, atol=1e-3)  # the graph read-out contributes
    # No POI sees itself (the training leak): its own row is never among its neighbours.
    own = model.net.index.neighbours(demo_points.xy).index
    assert not (own == np.arange(len(own))[:, None]).any()
    # A place far from every context POI has an empty graph: only the query node speaks.
    far = xy[:1] + 50_000.0
    assert (model.net.index.neighbours(far).index == -1).all()


def test_map_outputs_work_with_the_context_model(context_model, tmp_path):
    from calliper.core.maps.clusters import ClusterSettings, cluster_raster
    from calliper.core.maps.rasters import embedding_grid, embedding_raster
    from calliper.core.maps.similarity import similarity_raster, text_query

    _, model = context_model
    grid = embedding_grid(model, EXTENT, 25.0)
    tif = embedding_raster(model, grid, tmp_path / "embedding.tif")
    similarity = similarity_raster(model, tif, text_query(model, "a restaurant among restaurants"), tmp_path / "sim.tif")
    clusters = cluster_raster(tif, tmp_path / "clusters.tif", model, ClusterSettings(k=3, sample=500))
    with rasterio.open(tif) as src:
        assert src.count == 128 and np.isfinite(src.read(1)).all()
    with rasterio.open(similarity) as src:
        values = src.read(1)
        assert np.isfinite(values).all() and values.max() <= 1.0 + 1e-5 and values.std() > 0
    assert len(clusters.legend) == 3


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_graph_encoder_runs_on_each_available_device(context_model, demo_points, device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    _, model = context_model
    net = model.net.to(device)
    try:
        coords = torch.from_numpy(demo_points.xy[:300]).to(device)
        with torch.no_grad():
            out = net.encode_location(coords)
        assert out.device.type == device and out.shape == (300, 128)
        assert net.context_xy.dtype == torch.float64  # device moves keep the metres in float64
        net.train()
        loss = net.encode_location(coords).sum()
        loss.backward()
        assert net.layers[0].attention.grad is not None and torch.isfinite(net.layers[0].attention.grad).all()
    finally:
        net.zero_grad(set_to_none=True)
        net.to("cpu").eval()
