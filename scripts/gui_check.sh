#!/usr/bin/env bash
# Real-GUI check: QGIS under Xvfb, the plugin installed from its ZIP into a throwaway
# profile, the demo POIs loaded, Train clicked; saves a screenshot (docs/dock-train.png).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
[ -f demo_output/data/pois.gpkg ] || HF_HUB_OFFLINE=1 .venv/bin/calliper demo --out demo_output --epochs 5
WORK=$(mktemp -d)
PROFILE="$WORK/xdg/QGIS/QGIS3/profiles/default"
mkdir -p "$PROFILE/python/plugins" "$PROFILE/QGIS" docs
.venv/bin/python scripts/package.py --out "$WORK/calliper.zip" >/dev/null
.venv/bin/python -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$WORK/calliper.zip" "$PROFILE/python/plugins"
printf '[PythonPlugins]\ncalliper=true\n[qgis]\ncheckVersion=false\nshowTips322=false\n' > "$PROFILE/QGIS/QGIS3.ini"
Xvfb :99 -screen 0 1600x1000x24 >/dev/null 2>&1 & XVFB=$!
trap 'kill $XVFB 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 2
DISPLAY=:99 XDG_DATA_HOME="$WORK/xdg" HF_HUB_OFFLINE=1 \
  PYTHONPATH="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
  CALLIPER_GUI_POIS="$PWD/demo_output/data/pois.gpkg" CALLIPER_GUI_SHOT="$PWD/docs/dock-train.png" \
  CALLIPER_GUI_MODEL="$WORK/gui_model" \
  timeout 900 qgis --noversioncheck --nologo --code scripts/gui_check.py 2>&1 | grep -E "gui_check|Traceback|Error" || true
test -f docs/dock-train.png && echo "Screenshot: docs/dock-train.png"
