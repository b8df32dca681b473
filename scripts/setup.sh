#!/usr/bin/env bash
# First command of the README: install everything, run the demo end to end on the
# embedded Helsinki OpenStreetMap data (outputs in demo_output/), and put the plugin into
# your QGIS profile with its packages in that profile's dependency folder (the folder the
# dock's Install button uses), so a plain `qgis` opens with Calliper ready to Train.
#   --profile NAME   QGIS profile to install into (default: default)
#   --no-qgis        skip the QGIS profile (command line and demo only)
# Other arguments go to `calliper demo` (e.g. --epochs 20). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=default; INTO_QGIS=1; DEMO_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    --no-qgis) INTO_QGIS=0; shift ;;
    *) DEMO_ARGS+=("$1"); shift ;;
  esac
done
started=$(date +%s)
bash scripts/install.sh
echo "Set-up finished in $(( $(date +%s) - started )) s."
HF_HUB_OFFLINE=1 .venv/bin/calliper demo --out demo_output "${DEMO_ARGS[@]+"${DEMO_ARGS[@]}"}"
if [ "$INTO_QGIS" = 1 ]; then
  .venv/bin/python scripts/package.py --out dist/calliper.zip >/dev/null
  # QGIS's own Python (no venv): the packages must suit the interpreter QGIS runs.
  env -u PYTHONPATH /usr/bin/python3 scripts/install_plugin.py --zip dist/calliper.zip --profile "$PROFILE"
  echo "Start QGIS (qgis) and open Plugins > Calliper; the demo POIs are in demo_output/data/pois.gpkg."
fi
