"""Tests of core.location_encoders: every feature is checked against a hand computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from calliper.core.errors import CalliperError
from calliper.core.model.location_encoders import (
    EARTH_RADIUS_M,
    LOCATION_ENCODERS,
    GridCellEncoding,
    LocationTower,
    PositionalEncoding,
    ResidualMLP,
    SphericalHarmonicsEncoding,
    TheoryGridCellEncoding,
    geometric_scales,
    make_location_encoder,
)

# Raw projected metres (UTM-like, never centred) and a small coordinate near the origin.
PLANAR_POINTS = np.array([[385_000.0, 6_672_000.0], [-12.5, 3.25]])
# (lon, lat) in degrees: London, Sydney, and a point close to the north pole.
LONLAT_POINTS = np.array([[-0.1276, 51.5072], [151.2093, -33.8688], [12.0, 89.5]])


def encode(encoding: PositionalEncoding, points: np.ndarray) -> np.ndarray:
    return encoding(torch.tensor(points, dtype=torch.float64)).numpy()


def hand_scales(min_lambda: float, max_lambda: float, count: int) -> list[float]:
    return [min_lambda * (max_lambda / min_lambda) ** (s / (count - 1)) for s in range(count)]


def test_scales_are_geometric_between_exactly_min_and_max_lambda():
    scales = geometric_scales(100.0, 10_000.0, 32)

    assert scales.dtype == torch.float64
    assert scales[0].item() == 100.0
    assert scales[-1].item() == 10_000.0
    np.testing.assert_allclose(scales.numpy(), hand_scales(100.0, 10_000.0, 32), rtol=1e-14)
    ratios = scales[1:] / scales[:-1]
    np.testing.assert_allclose(ratios.numpy(), (10_000.0 / 100.0) ** (1 / 31), rtol=1e-13)


def test_a_single_scale_is_min_lambda():
    assert geometric_scales(250.0, 9_000.0, 1).tolist() == [250.0]
    encoding = make_location_encoder("grid", 250.0, 9_000.0, 1)
    x, y = PLANAR_POINTS[1]
    expected = [math.sin(x / 250), math.cos(x / 250), math.sin(y / 250), math.cos(y / 250)]
    np.testing.assert_allclose(encode(encoding, PLANAR_POINTS[1:]), [expected], atol=1e-6)


def test_grid_features_match_hand_computation_axis_then_scale_then_sin_cos():
    encoding = make_location_encoder("grid", 1.0, 1_000.0, 4)
    scales = hand_scales(1.0, 1_000.0, 4)
    expected = [
        [f(coordinate / lam) for coordinate in point for lam in scales for f in (math.sin, math.cos)]
        for point in PLANAR_POINTS
    ]

    features = encoding(torch.tensor(PLANAR_POINTS))

    assert features.dtype == torch.float32
    assert features.shape == (2, 16) == (2, encoding.out_dim)
    np.testing.assert_allclose(features.numpy(), expected, atol=1e-6)
    # Spot-check the layout: column 2 is sin(x / lambda_1), column 8 is sin(y / lambda_0).
    assert features[0, 2].item() == pytest.approx(math.sin(385_000.0 / scales[1]), abs=1e-6)
    assert features[0, 8].item() == pytest.approx(math.sin(6_672_000.0 / 1.0), abs=1e-6)


def test_grid_keeps_full_precision_for_raw_utm_coordinates():
    """At 1 m scale the angle of y = 6 672 000.37 m is ~6.7e6 rad: float32 would ruin it."""
    point = np.array([[385_000.37, 6_672_000.37]])
    encoding = make_location_encoder("grid", 1.0, 1.0, 1)

    features = encode(encoding, point)

    exact = [math.sin(385_000.37), math.cos(385_000.37), math.sin(6_672_000.37), math.cos(6_672_000.37)]
    np.testing.assert_allclose(features[0], exact, atol=1e-6)
    in_float32 = np.sin(np.float32(6_672_000.37))
    assert abs(float(in_float32) - exact[2]) > 1e-2  # the check above would catch float32 arithmetic


def test_two_pi_option_multiplies_every_angle_by_two_pi():
    scales = hand_scales(10.0, 5_000.0, 3)
    x, y = PLANAR_POINTS[0]
    grid = make_location_encoder("grid", 10.0, 5_000.0, 3, two_pi=True)
    expected_grid = [f(2 * math.pi * c / lam) for c in (x, y) for lam in scales for f in (math.sin, math.cos)]
    np.testing.assert_allclose(encode(grid, PLANAR_POINTS[:1])[0], expected_grid, atol=1e-6)

    theory = make_location_encoder("theory", 10.0, 5_000.0, 3, two_pi=True)
    plain_theory = make_location_encoder("theory", 10.0 / (2 * math.pi), 5_000.0 / (2 * math.pi), 3)
    np.testing.assert_allclose(encode(theory, PLANAR_POINTS), encode(plain_theory, PLANAR_POINTS), atol=1e-5)


def test_theory_features_match_hand_computation_scale_then_direction_then_sin_cos():
    encoding = make_location_encoder("theory", 5.0, 2_000.0, 3)
    scales = hand_scales(5.0, 2_000.0, 3)
    directions = [(1.0, 0.0), (-0.5, math.sqrt(3) / 2), (-0.5, -math.sqrt(3) / 2)]
    expected = [
        [
            f((x * dx + y * dy) / lam)
            for lam in scales
            for dx, dy in directions
            for f in (math.sin, math.cos)
        ]
        for x, y in PLANAR_POINTS
    ]

    features = encode(encoding, PLANAR_POINTS)

    assert features.shape == (2, 18) == (2, encoding.out_dim)
    np.testing.assert_allclose(features, expected, atol=1e-6)


def sphere_terms(name: str, lat_s: float, lon_s: float, lat: float, lon: float) -> list[float]:
    """Sphere2Vec (Mai et al. 2023) per-scale terms, written out independently of the module."""
    sin, cos = math.sin, math.cos
    if name == "sphere_c":
        return [sin(lat_s), cos(lat_s) * cos(lon_s), cos(lat_s) * sin(lon_s)]
    if name == "sphere_c_plus":
        return [sin(lat_s), cos(lat_s), sin(lon_s), cos(lon_s), cos(lat_s) * cos(lon_s), cos(lat_s) * sin(lon_s)]
    if name == "sphere_m":
        return [sin(lat_s), cos(lat_s) * cos(lon), cos(lat) * cos(lon_s), cos(lat_s) * sin(lon), cos(lat) * sin(lon_s)]
    assert name == "sphere_m_plus"
    return [
        sin(lat_s), cos(lat_s), sin(lon_s), cos(lon_s),
        cos(lat_s) * cos(lon), cos(lat) * cos(lon_s), cos(lat_s) * sin(lon), cos(lat) * sin(lon_s),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "terms_per_scale"), [("sphere_c", 3), ("sphere_c_plus", 6), ("sphere_m", 5), ("sphere_m_plus", 8)]
)
def test_sphere_features_match_hand_computation_scale_major(name, terms_per_scale):
    min_lambda, max_lambda, count = 50_000.0, 4_000_000.0, 3
    encoding = make_location_encoder(name, min_lambda, max_lambda, count)
    expected = []
    for lon_deg, lat_deg in LONLAT_POINTS:
        lon, lat = math.radians(lon_deg), math.radians(lat_deg)
        row = []
        for lam in hand_scales(min_lambda, max_lambda, count):
            angular_scale = lam / 6_371_000.0
            row += sphere_terms(name, lat / angular_scale, lon / angular_scale, lat, lon)
        expected.append(row)

    features = encode(encoding, LONLAT_POINTS)

    assert encoding.out_dim == terms_per_scale * count
    assert features.shape == (3, terms_per_scale * count)
    # angles of a few hundred radians are formed in float32 (phase_preserving_angles): ~1e-5 off
    np.testing.assert_allclose(features, expected, atol=5e-5)


def test_sphere_c_at_the_earth_radius_scale_is_the_unit_sphere_point():
    """With lambda = R the angular scale is 1 rad, so sphereC gives the 3D unit vector."""
    encoding = make_location_encoder("sphere_c", EARTH_RADIUS_M, EARTH_RADIUS_M, 1)
    lon, lat = np.radians(LONLAT_POINTS[:, 0]), np.radians(LONLAT_POINTS[:, 1])
    unit_vectors = np.stack([np.sin(lat), np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon)], axis=1)
    np.testing.assert_allclose(encode(encoding, LONLAT_POINTS), unit_vectors, atol=1e-6)


def scipy_real_harmonics(lonlat_deg: np.ndarray, degrees: int) -> np.ndarray:
    """Real orthonormal harmonics built from scipy's complex ones (Condon-Shortley removed)."""
    try:
        from scipy.special import sph_harm_y

        def complex_harmonic(m, l, azimuth, polar):
            return sph_harm_y(l, m, polar, azimuth)

    except ImportError:
        from scipy.special import sph_harm

        def complex_harmonic(m, l, azimuth, polar):
            return sph_harm(m, l, azimuth, polar)

    azimuth = np.radians(lonlat_deg[:, 0])
    polar = math.pi / 2 - np.radians(lonlat_deg[:, 1])
    columns = []
    for l in range(degrees):
        for m in range(-l, l + 1):
            value = complex_harmonic(abs(m), l, azimuth, polar)
            if m > 0:
                columns.append(math.sqrt(2) * (-1) ** m * value.real)
            elif m < 0:
                columns.append(math.sqrt(2) * (-1) ** m * value.imag)
            else:
                columns.append(value.real)
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("degrees", [1, 10, 25])
def test_spherical_harmonics_match_scipy(degrees):
    rng = np.random.default_rng(7)
    points = np.concatenate(
        [
            np.stack([rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200)], axis=1),
            [[0.0, 90.0], [45.0, -90.0], [180.0, 0.0], [-180.0, 0.0]],
        ]
    )
    encoding = make_location_encoder("spherical_harmonics", 1.0, 1.0, 1, legendre_polys=degrees)
    expected = scipy_real_harmonics(points, degrees)
    coords = torch.tensor(points)

    assert encoding.out_dim == degrees * degrees
    # The float64 computation, before the cast to float32 for the MLP.
    np.testing.assert_allclose(encoding._encode(coords).numpy(), expected, rtol=0, atol=1e-8)
    features = encoding(coords)
    assert features.dtype == torch.float32
    np.testing.assert_allclose(features.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_spherical_harmonics_default_to_ten_degrees_and_ignore_scales():
    small = SphericalHarmonicsEncoding(1.0, 2.0, 1)
    large = SphericalHarmonicsEncoding(500.0, 90_000.0, 64)

    assert small.out_dim == 100
    assert small.coordinate_kind == "lonlat"
    np.testing.assert_array_equal(encode(small, LONLAT_POINTS), encode(large, LONLAT_POINTS))


@pytest.mark.parametrize(
    ("name", "per_scale", "kind"),
    [
        ("grid", 4, "planar"),
        ("theory", 6, "planar"),
        ("sphere_c", 3, "lonlat"),
        ("sphere_c_plus", 6, "lonlat"),
        ("sphere_m", 5, "lonlat"),
        ("sphere_m_plus", 8, "lonlat"),
    ],
)
def test_out_dim_and_coordinate_kind(name, per_scale, kind):
    encoding = make_location_encoder(name, 100.0, 10_000.0, 7)
    points = PLANAR_POINTS if kind == "planar" else LONLAT_POINTS

    assert encoding.out_dim == per_scale * 7
    assert encode(encoding, points).shape == (len(points), per_scale * 7)
    assert LOCATION_ENCODERS[name].coordinate_kind == kind


def test_registry_holds_exactly_the_seven_encoders():
    assert set(LOCATION_ENCODERS) == {
        "grid",
        "theory",
        "sphere_c",
        "sphere_c_plus",
        "sphere_m",
        "sphere_m_plus",
        "spherical_harmonics",
    }
    assert LOCATION_ENCODERS["grid"] is GridCellEncoding
    assert LOCATION_ENCODERS["theory"] is TheoryGridCellEncoding
    for name, encoding_class in LOCATION_ENCODERS.items():
        assert encoding_class.name == name


def test_unknown_encoder_name_is_a_user_error_listing_valid_names():
    with pytest.raises(CalliperError) as caught:
        make_location_encoder("hexagonal", 100.0, 10_000.0)

    assert "hexagonal" in caught.value.message
    assert "grid" in caught.value.message
    assert "spherical_harmonics" in caught.value.message


@pytest.mark.parametrize(
    ("min_lambda", "max_lambda", "frequency_num", "named"),
    [
        (0.0, 10_000.0, 32, "min_lambda"),
        (-5.0, 10_000.0, 32, "min_lambda"),
        (float("nan"), 10_000.0, 32, "min_lambda"),
        (100.0, 50.0, 32, "max_lambda"),
        (100.0, float("inf"), 32, "max_lambda"),
        (100.0, 10_000.0, 0, "frequency_num"),
        (100.0, 10_000.0, 2.5, "frequency_num"),
    ],
)
def test_invalid_scale_settings_are_user_errors_naming_the_setting(min_lambda, max_lambda, frequency_num, named):
    for name in ("grid", "spherical_harmonics"):
        with pytest.raises(CalliperError, match=named):
            make_location_encoder(name, min_lambda, max_lambda, frequency_num)


def test_equal_min_and_max_lambda_are_allowed():
    encoding = make_location_encoder("grid", 300.0, 300.0, 3)
    assert encoding.scales.tolist() == [300.0, 300.0, 300.0]


def test_unknown_or_invalid_options_are_user_errors():
    with pytest.raises(CalliperError, match="legendre_polys") as caught:
        make_location_encoder("grid", 100.0, 10_000.0, legendre_polys=4)
    assert "two_pi" in caught.value.message
    with pytest.raises(CalliperError, match="two_pi"):
        make_location_encoder("sphere_c", 100.0, 10_000.0, two_pi=True)
    with pytest.raises(CalliperError, match="legendre_polys"):
        make_location_encoder("spherical_harmonics", 1.0, 1.0, legendre_polys=0)


def test_coordinates_must_be_pairs():
    encoding = make_location_encoder("grid", 100.0, 10_000.0, 4)
    with pytest.raises(ValueError, match="shape"):
        encoding(torch.zeros(5, 3, dtype=torch.float64))


OPTIONS_BY_NAME = {"grid": {"two_pi": True}, "theory": {}, "spherical_harmonics": {"legendre_polys": 6}}


@pytest.mark.parametrize("name", sorted(LOCATION_ENCODERS))
def test_config_round_trip_through_json_rebuilds_an_identical_encoding(name):
    original = make_location_encoder(name, 120.0, 8_000.0, 5, **OPTIONS_BY_NAME.get(name, {}))
    points = PLANAR_POINTS if original.coordinate_kind == "planar" else LONLAT_POINTS

    config = json.loads(json.dumps(original.config()))
    rebuilt = make_location_encoder(**config)

    assert config["name"] == name
    assert (config["min_lambda"], config["max_lambda"], config["frequency_num"]) == (120.0, 8_000.0, 5)
    assert type(rebuilt) is type(original)
    assert rebuilt.config() == original.config()
    np.testing.assert_array_equal(encode(rebuilt, points), encode(original, points))


def test_residual_mlp_has_the_paper_size_and_a_bias_free_head():
    mlp = ResidualMLP(128)

    assert sum(p.numel() for p in mlp.parameters()) == 592_128
    assert mlp.class_emb.bias is None
    assert mlp.class_emb.in_features == 256 and mlp.class_emb.out_features == 128
    assert mlp(torch.randn(5, 128)).shape == (5, 128)


def test_residual_block_adds_relu_of_second_layer_to_its_input():
    torch.manual_seed(0)
    mlp = ResidualMLP(3, hidden=4, out_dim=2, n_blocks=1, dropout=0.5).eval()
    first, block = mlp.feats[0], mlp.feats[2]
    x = torch.randn(6, 3)

    h = torch.relu(first(x))
    y = torch.relu(block.w2(torch.relu(block.w1(h))))
    expected = (h + y) @ mlp.class_emb.weight.T

    torch.testing.assert_close(mlp(x), expected)


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    mlp = ResidualMLP(8, hidden=64, out_dim=4, n_blocks=2, dropout=0.5)
    x = torch.randn(3, 8)

    assert not torch.equal(mlp.train()(x), mlp.train()(x))
    assert torch.equal(mlp.eval()(x), mlp.eval()(x))


def test_location_tower_maps_float64_metres_to_float32_embeddings():
    torch.manual_seed(0)
    tower = LocationTower(make_location_encoder("grid", 100.0, 10_000.0, 32))

    embeddings = tower(torch.tensor(PLANAR_POINTS, dtype=torch.float64))

    assert embeddings.dtype == torch.float32
    assert embeddings.shape == (2, 128) == (2, tower.out_dim)
    assert tower.encoding is tower.posenc and tower.mlp is tower.nnet
    assert sum(p.numel() for p in tower.parameters()) == 592_128  # the encoding has no weights


def test_tower_state_dict_follows_the_official_layout_without_encoding_buffers():
    tower = LocationTower(make_location_encoder("theory", 100.0, 10_000.0, 4), n_blocks=1)

    assert list(tower.state_dict()) == [
        "nnet.feats.0.weight",
        "nnet.feats.0.bias",
        "nnet.feats.2.w1.weight",
        "nnet.feats.2.w1.bias",
        "nnet.feats.2.w2.weight",
        "nnet.feats.2.w2.bias",
        "nnet.class_emb.weight",
    ]


def test_encoding_buffers_follow_device_moves_but_stay_float64():
    tower = LocationTower(make_location_encoder("grid", 1.0, 1_000.0, 8))
    before = encode(tower.encoding, PLANAR_POINTS)

    tower.float()
    assert tower.encoding.frequencies.dtype == torch.float64
    np.testing.assert_array_equal(encode(tower.encoding, PLANAR_POINTS), before)

    tower.to("meta")
    assert tower.encoding.frequencies.device.type == "meta"
    assert tower.encoding.frequencies.dtype == torch.float64
    assert tower.nnet.class_emb.weight.device.type == "meta"


def _cosines(tower, coords: np.ndarray, monkeypatch) -> np.ndarray:
    """Per point, the cosine between the tower's embedding with float32 angles and with exact float64 ones."""
    import calliper.core.model.location_encoders as encoders

    with torch.no_grad():
        fast = np.concatenate([tower(torch.from_numpy(block)).numpy() for block in np.array_split(coords, 4)])
        monkeypatch.setattr(encoders, "FLOAT32_ANGLE_LIMIT", -1.0)
        exact = np.concatenate([tower(torch.from_numpy(block)).numpy() for block in np.array_split(coords, 4)])
        monkeypatch.undo()
    return (fast * exact).sum(1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(exact, axis=1)


def test_float32_angles_give_the_float64_embeddings_in_and_10_km_around_the_training_extent(demo_model, monkeypatch):
    xmin, ymin, xmax, ymax = demo_model.card.training["extent"]
    xs, ys = np.meshgrid(np.linspace(xmin - 10_000, xmax + 10_000, 160), np.linspace(ymin - 10_000, ymax + 10_000, 160))
    coords = np.column_stack([xs.ravel(), ys.ravel()])
    tower = demo_model.net.location
    assert tower.posenc.min_lambda < 50  # fine scales: angles of 1e5 rad without the phase trick
    assert _cosines(tower, coords, monkeypatch).min() >= 0.99999


@pytest.mark.parametrize("name", ["theory", "sphere_c_plus", "sphere_m_plus"])
def test_float32_angles_agree_for_other_encoders_far_from_the_origin(name, monkeypatch):
    torch.manual_seed(0)
    if name == "theory":  # far north and east in UTM metres, 1 m scales
        encoding, centre, spread = make_location_encoder(name, 1.0, 20_000.0, 32), (830_000.0, 8_900_000.0), 5_000.0
    else:  # lon/lat near the antimeridian and the pole, 100 m scales
        encoding, centre, spread = make_location_encoder(name, 100.0, 200_000.0, 32), (179.5, 78.0), 0.1
    tower = LocationTower(encoding).eval()
    coords = np.random.default_rng(1).uniform(-spread, spread, (20_000, 2)) + np.array(centre)
    assert _cosines(tower, coords, monkeypatch).min() >= 0.99999


def test_a_batch_too_wide_for_float32_angles_is_computed_exactly():
    from calliper.core.model.location_encoders import FLOAT32_ANGLE_LIMIT, phase_preserving_angles

    frequencies = torch.tensor([1.0, 0.5], dtype=torch.float64)
    narrow = torch.tensor([[6_672_000.25], [6_672_100.75]], dtype=torch.float64)
    wide = torch.tensor([[0.0], [4 * FLOAT32_ANGLE_LIMIT]], dtype=torch.float64)
    angles = phase_preserving_angles(narrow, frequencies)
    assert angles.dtype == torch.float32 and float(angles.abs().max()) < 100  # small angles, same sines
    np.testing.assert_allclose(torch.sin(angles).numpy(), torch.sin(narrow[:, :, None] * frequencies).numpy(), atol=1e-5)
    assert phase_preserving_angles(wide, frequencies).dtype == torch.float64


def test_the_frozen_raster_encoder_gives_the_models_embeddings(demo_model):
    from calliper.core.model.batching import fastest_location_batch, frozen_location_encoder

    xmin, ymin, xmax, ymax = demo_model.card.training["extent"]
    coords = np.random.default_rng(2).uniform((xmin, ymin), (xmax, ymax), (5000, 2))
    encode = frozen_location_encoder(demo_model.net)
    assert encode is not demo_model.net.encode_location  # a CPU grid model gets the frozen MLP
    with torch.inference_mode():
        fast = encode(torch.from_numpy(coords)).numpy()
        eager = demo_model.net.encode_location(torch.from_numpy(coords)).numpy()
    np.testing.assert_allclose(fast, eager, atol=2e-6)
    assert fastest_location_batch(encode, demo_model.net, coords) in (1024, 4096, 16384)
