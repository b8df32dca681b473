"""The command line on real files, and coordinates in any CRS."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from calliper.cli.main import main
from calliper.core.crs import choose_metric_crs, utm_crs_for
from calliper.core.data.poi_io import read_points


def test_utm_zone_is_chosen_for_lonlat_and_projected_crs_is_kept(demo_points):
    assert utm_crs_for(24.94, 60.17).to_epsg() == 32635
    assert utm_crs_for(-0.12, 51.5).to_epsg() == 32630
    assert utm_crs_for(151.2, -33.9).to_epsg() == 32756
    assert choose_metric_crs(demo_points.xy, demo_points.crs) == demo_points.crs


@pytest.fixture(scope="module")
def lonlat_pois(demo_data, tmp_path_factory):
    """The demo POIs saved in EPSG:4326, a CSV copy, and a polygon/multipoint mix."""
    folder = tmp_path_factory.mktemp("lonlat")
    frame = gpd.read_file(demo_data.pois).to_crs(4326)
    frame.to_file(folder / "pois.geojson", driver="GeoJSON")
    frame.assign(lon=frame.geometry.x, lat=frame.geometry.y).drop(columns="geometry").to_csv(folder / "pois.csv", index=False)
    return folder


def test_cli_trains_on_a_lonlat_layer_in_its_utm_zone_and_embeds_points(lonlat_pois, tmp_path, capsys):
    model = tmp_path / "model"
    code = main(["train", "--pois", str(lonlat_pois / "pois.geojson"), "--class-field", "class",
                 "--category-field", "category", "--epochs", "2", "--out", str(model)])
    assert code == 0, capsys.readouterr().err
    card = json.loads((model / "card.json").read_text())
    assert card["crs_label"] == "EPSG:32635" and card["training"]["source_crs"] == "EPSG:4326"
    out = tmp_path / "embedded.gpkg"
    assert main(["embed-points", "--model", str(model), "--points", str(lonlat_pois / "pois.csv"), "--out", str(out)]) == 0
    embedded = gpd.read_file(out)
    assert embedded.crs.to_epsg() == 4326 and len(embedded) > 1500
    assert {"class", "name", "emb_000", "emb_127"} <= set(embedded.columns)
    norms = np.linalg.norm(embedded[[f"emb_{i:03d}" for i in range(128)]].to_numpy(), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_lonlat_and_projected_inputs_give_the_same_embeddings(demo_model, demo_points, lonlat_pois):
    from calliper.core.model.inference import embed_locations

    lonlat = read_points(lonlat_pois / "pois.geojson")
    a = embed_locations(demo_model, demo_points.xy[:50])
    b = embed_locations(demo_model, lonlat.xy[:50], lonlat.crs)
    assert np.abs(a - b).max() < 1e-3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--class-field", "kind"], "The field 'kind' is not in the layer pois.geojson"),
        (["--class-field", "class", "--epochs", "0"], "Epochs must be at least 1"),
        (["--class-field", "class", "--encoder", "hexagon"], "Unknown location encoder 'hexagon'"),
    ],
)
def test_cli_bad_input_prints_one_line_and_exits_2(lonlat_pois, tmp_path, capsys, args, message):
    out = tmp_path / "model"
    code = main(["train", "--pois", str(lonlat_pois / "pois.geojson"), "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".model*"))


def test_cli_refuses_to_overwrite_an_existing_model_unless_asked(trained, lonlat_pois, capsys):
    code = main(["train", "--pois", str(lonlat_pois / "pois.geojson"), "--class-field", "class", "--out", str(trained.folder)])
    assert code == 2 and "already exists" in capsys.readouterr().err


SUBCOMMANDS = ("train", "embed-points", "raster", "similarity", "cluster", "classify", "predict", "demo")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0 and f"usage: calliper {command}" in capsys.readouterr().out


def test_similarity_options_that_would_be_ignored_are_refused(tmp_path, capsys):
    common = ["similarity", "--model", str(tmp_path / "m"), "--embedding", str(tmp_path / "e.tif"),
              "--out", str(tmp_path / "s.tif")]
    assert main(common + ["--text", "cafe", "--point-crs", "EPSG:4326"]) == 2
    assert main(common + ["--text", "cafe", "--feature-id", "3"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == ["calliper: error: --point-crs applies to --point and --like-point only; a phrase or a feature needs no CRS.",
                      "calliper: error: --feature-id picks a feature of --feature-layer; give that layer too."]
