#!/usr/bin/env bash
# Install everything Calliper needs on Debian 12: QGIS from apt, a .venv that sees
# QGIS's Python, the locked Python packages (as the plugin installs them), the test and
# documentation tools and the calliper package (editable).
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# libblas3: the reference BLAS that QGIS 3.40 loads on Debian 13; tests/test_native_imports.py loads it.
APT_PACKAGES=(qgis python3-qgis qgis-providers python3-venv python3-pip xvfb libblas3)
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
STAMP=.venv/.calliper-requirements.sha256
WANT=$(cat requirements.txt requirements-docs.txt core/install/requirements.txt core/install/locks/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  "${PIP[@]}" --no-deps --no-build-isolation -e .
  # The plugin's packages from the same locks as its installer: exact versions, each wheel's sha256
  # checked, torch from its own index (CALLIPER_TORCH=cpu or cuda; auto: CUDA where an NVIDIA driver is).
  echo "Installing the locked Python packages into .venv..."
  .venv/bin/python scripts/install_locked.py --torch "${CALLIPER_TORCH:-auto}"
  echo "Installing the test and documentation tools into .venv..."
  "${PIP[@]}" -r requirements.txt -r requirements-docs.txt
  echo "$WANT" > "$STAMP"
fi

# numpy, pyproj and scipy must be Debian's (linked to the system PROJ, built for its GDAL), as in QGIS.
.venv/bin/python - <<'PY' || { echo "The environment is incomplete: delete .venv and run this script again." >&2; exit 1; }
import qgis.core, torch, sentence_transformers, rasterio, geopandas, calliper.cli.main, mkdocs, material
import numpy, pyproj, scipy
stray = [m.__name__ for m in (numpy, pyproj, scipy) if not m.__file__.startswith("/usr/lib/python3/")]
assert not stray, f"{stray} shadow the system packages QGIS uses"
PY
