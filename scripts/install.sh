#!/usr/bin/env bash
# Install everything Calliper needs on Debian 12: QGIS from apt, a .venv that sees
# QGIS's Python, the pinned Python packages, and the calliper package (editable).
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qgis python3-qgis qgis-providers python3-venv xvfb)
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

STAMP=.venv/.calliper-requirements.sha256
WANT=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "Installing pinned Python packages into .venv..."
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$WANT" > "$STAMP"
fi
.venv/bin/python -c "import qgis.core, torch, sentence_transformers, rasterio, geopandas, calliper.core.cli" \
  || { echo "The environment is incomplete: delete .venv and run this script again." >&2; exit 1; }
