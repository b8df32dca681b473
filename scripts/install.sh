#!/usr/bin/env bash
# Install everything Calliper needs on Debian 12: QGIS from apt, a .venv that sees
# QGIS's Python, the pinned Python packages, and the calliper package (editable).
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qgis python3-qgis qgis-providers python3-venv xvfb libproj-dev libgdal-dev proj-bin)
if ! dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing QGIS and system packages with apt (one to two minutes)..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}"
fi

# The system interpreter is the one python3-qgis belongs to.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

PIP=(.venv/bin/pip install -q --disable-pip-version-check)
PYPROJ=$(grep '^pyproj==' requirements.txt)
PYOGRIO=$(grep '^pyogrio==' requirements.txt)
# pyproj and pyogrio are built against the system PROJ/GDAL (see requirements.txt);
# pyproj first and alone, because only its build needs an older Cython.
build_pyproj() { PIP_CONSTRAINT="$PWD/scripts/pyproj-build-constraints.txt" "${PIP[@]}" --no-binary pyproj "$@" "$PYPROJ"; }

STAMP=.venv/.calliper-requirements.sha256
WANT=$(cat requirements.txt pyproject.toml scripts/pyproj-build-constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "Installing pinned Python packages into .venv (pyproj and pyogrio are compiled: a few minutes)..."
  build_pyproj --no-deps
  "${PIP[@]}" -r requirements.txt
  "${PIP[@]}" --no-deps --no-build-isolation -e .
  echo "$WANT" > "$STAMP"
fi

# Rebuild if a wheel of pyproj/pyogrio slipped in (linked to another PROJ/GDAL than the system's).
SYSTEM_LIBS="$(projinfo 2>&1 | head -1 | grep -o '[0-9][0-9.]*' | head -1) $(gdal-config --version)"
VENV_LIBS=$(.venv/bin/python -c "import pyproj, pyogrio; pyproj.CRS.from_epsg(4326); print(pyproj.proj_version_str, pyogrio.__gdal_version_string__)" 2>/dev/null || echo broken)
if [ "$SYSTEM_LIBS" != "$VENV_LIBS" ]; then
  echo "Rebuilding pyproj and pyogrio against the system PROJ/GDAL ($SYSTEM_LIBS, found $VENV_LIBS)..."
  build_pyproj --force-reinstall --no-deps
  "${PIP[@]}" --force-reinstall --no-deps --no-binary pyogrio "$PYOGRIO"
fi
.venv/bin/python -c "import qgis.core, torch, sentence_transformers, rasterio, geopandas, calliper.cli.main" \
  || { echo "The environment is incomplete: delete .venv and run this script again." >&2; exit 1; }
