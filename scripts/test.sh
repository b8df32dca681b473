#!/usr/bin/env bash
# Second command of the README: make sure the environment exists, build the documentation site
# with warnings as errors (a broken link, page or image fails), then run the tests offline and
# headless (real QGIS, real models, real OSM data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen
.venv/bin/python scripts/docs.py >/dev/null
exec .venv/bin/python -m pytest -q "$@"
