#!/usr/bin/env bash
# First command of the README: install everything, then run the demo end to end on
# the embedded Helsinki OpenStreetMap data. Outputs go to demo_output/.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/install.sh
echo "Set-up finished in $(( $(date +%s) - started )) s."
HF_HUB_OFFLINE=1 .venv/bin/calliper demo --out demo_output "$@"
