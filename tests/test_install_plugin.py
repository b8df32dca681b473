"""scripts/install_plugin.py, the set-up's way into a QGIS profile: unpack the ZIP, enable the plugin."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location("install_plugin", ROOT / "scripts" / "install_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plugin_is_enabled_in_the_profile_ini_and_every_other_line_kept(tmp_path):
    script = load_script()
    ini = tmp_path / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text("[General]\nlocale=fi\n\n[PythonPlugins]\nprocessing=true\ncalliper=false\n\n[qgis]\nx=1\n")
    script.enable_plugin(tmp_path)
    script.enable_plugin(tmp_path)  # idempotent
    text = ini.read_text()
    assert text.count("calliper=") == 1 and "calliper=true" in text and "calliper=false" not in text
    assert "[General]\nlocale=fi" in text and "processing=true" in text and "[qgis]\nx=1" in text
    fresh = tmp_path / "fresh"
    script.enable_plugin(fresh)
    assert (fresh / "QGIS" / "QGIS3.ini").read_text() == "[PythonPlugins]\ncalliper=true\n"


def test_the_zip_is_unpacked_into_the_profile_replacing_an_older_copy_whole(tmp_path):
    script = load_script()
    archive = tmp_path / "calliper.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(archive)], check=True)
    plugins = tmp_path / "profile" / "python" / "plugins"
    (plugins / "calliper" / "stale.py").parent.mkdir(parents=True)
    (plugins / "calliper" / "stale.py").write_text("")
    target = script.unpack_plugin(archive, plugins)
    assert target == plugins / "calliper" and (target / "metadata.txt").is_file()
    assert (target / "core" / "install" / "requirements.txt").is_file() and not (target / "stale.py").exists()
    assert [p.name for p in plugins.iterdir()] == ["calliper"]  # no staging or old copy left
