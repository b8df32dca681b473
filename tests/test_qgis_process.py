"""The algorithms from the command-line Processing runner, as QGIS users script them.

Debian's ``qgis_process`` wrapper is broken; the real binary is ``qgis_process.bin``.
The plugin is enabled in a throwaway profile so the user's own QGIS is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

QGIS_PROCESS = "/usr/bin/qgis_process.bin"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def qgis_process_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("qgis-profile")
    (base / "plugins").mkdir()
    (base / "plugins" / "calliper").symlink_to(ROOT)
    settings = base / "xdg" / "QGIS" / "QGIS3" / "profiles" / "default" / "QGIS"
    settings.mkdir(parents=True)
    (settings / "QGIS3.ini").write_text("[PythonPlugins]\ncalliper=true\n")
    inherited = {k: v for k, v in os.environ.items() if k not in ("QGIS_CUSTOM_CONFIG_PATH", "QGIS_OPTIONS_PATH")}
    return {  # pytest-qgis points QGIS at its own settings folder; the child uses the throwaway profile
        **inherited,
        "XDG_DATA_HOME": str(base / "xdg"),
        "QGIS_PLUGINPATH": str(base / "plugins"),
        "PYTHONPATH": sysconfig.get_paths()["purelib"],  # the venv's packages for QGIS's own Python
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
    }


def run(env, *args):
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=600)


def test_qgis_process_lists_and_runs_train(qgis_process_env, demo_data, tmp_path):
    listing = run(qgis_process_env, "list")
    assert "calliper:train" in listing.stdout and "calliper:embedpoints" in listing.stdout
    out = tmp_path / "model"
    result = run(qgis_process_env, "run", "calliper:train", "--", f"INPUT={demo_data.pois}", "CLASS_FIELD=class",
                 "CATEGORY_FIELD=category", "EPOCHS=2", f"OUTPUT={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((out / "card.json").read_text())["metrics"]["epochs_run"] == 2


def test_qgis_process_embeds_points(qgis_process_env, demo_data, trained, tmp_path):
    out = tmp_path / "embedded.gpkg"
    result = run(qgis_process_env, "run", "calliper:embedpoints", "--", f"MODEL={trained.folder}",
                 f"INPUT={demo_data.pois}", f"OUTPUT={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    import geopandas as gpd

    frame = gpd.read_file(out)
    assert len(frame) == demo_data.n_pois and "emb_127" in frame.columns


def test_qgis_process_paints_an_embedding_raster_and_a_similarity_map(qgis_process_env, trained, tmp_path):
    import numpy as np
    import rasterio

    emb, similarity = tmp_path / "embedding.tif", tmp_path / "nightlife.tif"
    made = run(qgis_process_env, "run", "calliper:embeddingraster", "--", f"MODEL={trained.folder}",
               "EXTENT=385500,386500,6671700,6672700 [EPSG:32635]", "PIXEL_SIZE=50", "WHOLE_EXTENT=true",
               f"OUTPUT={emb}")
    assert made.returncode == 0, made.stderr[-2000:]
    result = run(qgis_process_env, "run", "calliper:similarity", "--", f"MODEL={trained.folder}",
                 f"EMBEDDING={emb}", "TEXT=nightlife", "PHRASE_MAP=1", f"OUTPUT={similarity}")
    assert result.returncode == 0, result.stderr[-2000:]
    with rasterio.open(similarity) as src:
        values = src.read(1)
        assert src.crs.to_epsg() == 32635 and (src.width, src.height) == (20, 20)
        assert src.tags()["calliper_query"] == "text 'nightlife'" and src.tags()["calliper_kind"] == "similarity"
    assert np.isfinite(values).all() and -1.0001 <= values.min() < values.max() <= 1.0001
    evidence = run(qgis_process_env, "run", "calliper:similarity", "--", f"MODEL={trained.folder}",
                   f"EMBEDDING={emb}", "TEXT=nightlife", f"OUTPUT={tmp_path / 'phrase.tif'}")
    assert evidence.returncode == 0, evidence.stderr[-2000:]
    with rasterio.open(tmp_path / "phrase.tif") as src:
        assert src.tags()["calliper_kind"] == "phrase" and "nightclub" in src.tags()["calliper_phrase_map"]
    refused = run(qgis_process_env, "run", "calliper:similarity", "--", f"MODEL={trained.folder}",
                  f"EMBEDDING={emb}", f"OUTPUT={tmp_path / 'none.tif'}")
    assert refused.returncode != 0 and "Give a point (POINT) or a phrase (TEXT)" in refused.stdout + refused.stderr
