"""The foundation: core stays free of QGIS, real demo data, offline text model, packaging."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("qgis", "PyQt5", "PyQt6", "osgeo")


def test_core_never_imports_qgis_pyqt_or_osgeo():
    offenders = []
    for source in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{source.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list((ROOT / "core").rglob("*.py"))) > 40  # the walk really saw the package


def test_metadata_has_required_and_useful_fields():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt")
    general = parser["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository",
                "tracker", "homepage", "tags", "category", "icon", "experimental", "hasProcessingProvider"):
        assert general.get(key, "").strip(), key
    assert general["qgisMinimumVersion"] == "3.22"
    assert (ROOT / general["icon"]).exists()


def test_demo_data_are_real_osm_pois_in_a_metric_crs(demo_data, demo_points):
    assert demo_data.n_pois > 1500
    assert demo_points.crs.is_projected and demo_points.crs.to_epsg() == 32635  # UTM 35N for Helsinki
    classes = demo_points.attributes["class"]
    assert classes.notna().all() and (classes.str.len() > 0).all()
    assert demo_points.attributes["name"].notna().sum() > 1000
    assert {"restaurant", "cafe", "clothes"} <= set(classes)
    # central Helsinki: about 1 x 1.6 km around the railway station
    span = demo_points.xy.max(axis=0) - demo_points.xy.min(axis=0)
    assert 500 < span[0] < 3000 and 1000 < span[1] < 3000
    assert demo_data.n_landuse > 200


def test_packaged_text_model_loads_offline_and_embeds():
    from calliper.core.text.encoder import TextEncoder

    encoder = TextEncoder()
    vectors = encoder.encode(["A place of cafe, a type of amenity", "A place of coffee shop", "A place of ferry terminal"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # cafe is nearer coffee shop than ferry terminal


def test_plugin_zip_holds_the_plugin_and_nothing_else(tmp_path):
    out = tmp_path / "calliper.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)], check=True)
    names = zipfile.ZipFile(out).namelist()
    assert "calliper/metadata.txt" in names and "calliper/__init__.py" in names
    assert {"calliper/core/model/train.py", "calliper/cli/main.py", "calliper/adapters/layers.py", "calliper/ui/dock.py"} <= set(names)
    assert not [n for n in names if n.startswith(("calliper/tests", "calliper/bench", "calliper/.")) or "__pycache__" in n]
