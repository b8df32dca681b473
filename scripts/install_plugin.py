"""Put the plugin into a QGIS profile and install its packages there, as the dock's Install button does.

Run it with the Python QGIS runs (``/usr/bin/python3`` on Debian): the plugin ZIP is
unpacked into ``<profile>/python/plugins/calliper``, enabled in the profile's
QGIS3.ini, and its packages go to ``<profile>/python/dependencies/calliper`` through
the plugin's own installer (``core.install``). Idempotent: an installed, up-to-date
folder is left alone. Afterwards a plain ``qgis`` opens with Calliper ready to Train.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PLUGIN = "calliper"


def profiles_dir() -> Path:
    """Where QGIS 3 keeps its profiles on this system (it honours XDG_DATA_HOME on Linux)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "QGIS" / "QGIS3" / "profiles"
    if os.name == "nt":
        return Path(os.environ["APPDATA"]) / "QGIS" / "QGIS3" / "profiles"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "QGIS" / "QGIS3" / "profiles"


def unpack_plugin(archive: Path, plugins: Path) -> Path:
    """Replace the plugin folder with the ZIP's content (unpacked beside it, then renamed into place)."""
    plugins.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{PLUGIN}-unpack-", dir=plugins))
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(staging)
    target = plugins / PLUGIN
    old = plugins / f".{PLUGIN}-old-{int(time.time())}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging / PLUGIN, target)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def enable_plugin(profile: Path) -> None:
    """``[PythonPlugins] calliper=true`` in the profile's QGIS3.ini, keeping every other line as it is."""
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    text = ini.read_text(encoding="utf-8") if ini.exists() else ""
    section = re.search(r"^\[PythonPlugins\]\n((?:(?!\[).*\n?)*)", text, flags=re.M)
    if section is None:
        text = text.rstrip("\n") + ("\n\n" if text else "") + f"[PythonPlugins]\n{PLUGIN}=true\n"
    else:
        body = re.sub(rf"^{PLUGIN}=.*\n?", "", section.group(1), flags=re.M)
        text = text[: section.start(1)] + f"{PLUGIN}=true\n" + body + text[section.end(1):]
    ini.write_text(text, encoding="utf-8")


def install_packages(plugins: Path, profile: Path, torch: str) -> None:
    sys.path.insert(0, str(plugins))
    from calliper.core.errors import CalliperError
    from calliper.core.install.folder import dependency_folder, folder_state
    from calliper.core.install.plan import folder_bytes, install, make_plan, resolve
    from calliper.core.jobs import JobControl

    folder = dependency_folder(profile)
    version = (plugins / PLUGIN / "metadata.txt").read_text(encoding="utf-8").split("version=", 1)[1].split()[0]
    plan = make_plan(folder, torch, plugin_version=version)
    if folder_state(folder, plan.digest).status == "complete":
        print(f"Packages up to date in {folder}.")
        return
    print(f"Installing packages: {plan.summary()}")
    control = JobControl(log=lambda line: print(f"  {line}", flush=True))
    started = time.time()
    try:
        resolution = resolve(plan, control)
        print(f"{resolution.describe()}.")
        install(plan, resolution, control)
    except CalliperError as error:
        print(f"install_plugin: error: {error.message}\n{error.more_details}", file=sys.stderr)
        raise SystemExit(2) from error
    print(f"Installed in {time.time() - started:.0f} s: {folder_bytes(folder) / 1e6:,.0f} MB in {folder}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", required=True, help="the plugin ZIP (scripts/package.py)")
    parser.add_argument("--profile", default="default", help="QGIS profile name (default: default)")
    parser.add_argument("--profiles-dir", help="folder holding the profiles (default: this system's QGIS place)")
    parser.add_argument("--torch", default="auto", choices=["auto", "cpu", "cuda"], help="torch build")
    parser.add_argument("--no-packages", action="store_true", help="only put the plugin in; the dock installs later")
    args = parser.parse_args()
    profile = Path(args.profiles_dir or profiles_dir()) / args.profile
    plugins = profile / "python" / "plugins"
    print(f"Calliper -> {unpack_plugin(Path(args.zip), plugins)} (enabled in profile '{args.profile}')")
    enable_plugin(profile)
    if not args.no_packages:
        install_packages(plugins, profile, args.torch)


if __name__ == "__main__":
    main()
