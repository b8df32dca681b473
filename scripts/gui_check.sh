#!/usr/bin/env bash
# The user's path in real QGIS, end to end: Xvfb, a fresh profile, the plugin from its ZIP,
# QGIS's own Python with no PYTHONPATH. The dock's Install button installs the packages
# into the profile; then the demo POIs are loaded, Train is clicked, a phrase map is made
# and QGIS is quit (File > Exit) while a second training runs. Checks QGIS's exit code and the
# files (the quit training must leave nothing behind); screenshots go to docs/.
#   CALLIPER_GUI_KEEP=DIR keeps the profile (and its installed packages) in DIR.
#   CALLIPER_GUI_DISPLAY=:N runs Xvfb on display :N (default :98); CALLIPER_GUI_SHOTS=DIR
#   puts the screenshots in DIR (default docs/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CALLIPER_GUI_ZIP:-}" ]; then  # CALLIPER_GUI_ZIP=FILE: a ZIP made elsewhere (scripts/check_qgis_debian13.sh)
  bash scripts/install.sh  # the .venv builds the ZIP and the demo data, nothing else
  [ -f demo_output/data/pois.gpkg ] || HF_HUB_OFFLINE=1 .venv/bin/calliper demo --out demo_output --epochs 5
fi
# A fixed, readable folder (it shows in the screenshots' paths), made here and removed at the end.
WORK=${CALLIPER_GUI_KEEP:-${TMPDIR:-/tmp}/calliper-gui-check}
if [ -z "${CALLIPER_GUI_KEEP:-}" ] && ! mkdir "$WORK" 2>/dev/null; then
  echo "$WORK exists (another GUI check running, or one killed): remove it or set CALLIPER_GUI_KEEP=DIR." >&2
  exit 2
fi
[ -n "${CALLIPER_GUI_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT  # until the trap below also stops Xvfb
SCREEN=${CALLIPER_GUI_DISPLAY:-:98}
SHOTS=${CALLIPER_GUI_SHOTS:-$PWD/docs}
# A long output folder: status lines that name it must wrap, never widen the dock.
OUT="$WORK/out/Calliper outputs for the thesis chapter on Helsinki nightlife and seaside leisure 2026"
rm -rf "$WORK/xdg" "$WORK/out"; mkdir -p "$OUT" "$SHOTS"
if [ -n "${CALLIPER_GUI_ZIP:-}" ]; then cp "$CALLIPER_GUI_ZIP" "$WORK/calliper.zip"
else .venv/bin/python scripts/package.py --out "$WORK/calliper.zip" >/dev/null; fi
env -u PYTHONPATH XDG_DATA_HOME="$WORK/xdg" /usr/bin/python3 scripts/install_plugin.py \
  --zip "$WORK/calliper.zip" --no-packages
PROFILE="$WORK/xdg/QGIS/QGIS3/profiles/default"
printf '[qgis]\ncheckVersion=false\nshowTips322=false\n' >> "$PROFILE/QGIS/QGIS3.ini"
Xvfb "$SCREEN" -screen 0 1366x768x24 >/dev/null 2>&1 & XVFB=$!
trap 'kill $XVFB 2>/dev/null; [ -n "${CALLIPER_GUI_KEEP:-}" ] || rm -rf "$WORK"' EXIT
sleep 2
started=$(date +%s)
set +e
env -u PYTHONPATH DISPLAY="$SCREEN" XDG_DATA_HOME="$WORK/xdg" HF_HUB_OFFLINE=1 \
  CALLIPER_GUI_POIS="$PWD/demo_output/data/pois.gpkg" CALLIPER_GUI_SHOTS="$SHOTS" \
  CALLIPER_GUI_MODEL="$OUT/model" \
  timeout 3600 qgis --noversioncheck --nologo --code scripts/gui_check.py > "$WORK/qgis.log" 2>&1
code=$?
set -e
grep -E "gui_check|Traceback|Error" "$WORK/qgis.log" || true
echo "QGIS exited with code $code after $(( $(date +%s) - started )) s."
du -sh "$PROFILE/python/dependencies/calliper" 2>/dev/null || true
left=$(ls -A "$OUT" | tr '\n' ' ')
echo "In the output folder after quitting during Train: $left"
if [ "$code" -ne 0 ] || [ ! -f "$OUT/model/card.json" ] || ! ls "$OUT/maps"/phrase_nightlife*.tif >/dev/null 2>&1 \
   || ! ls "$OUT/maps"/like_*.tif >/dev/null 2>&1 || [ ! -f "$OUT/landuse/report.html" ] \
  || [ "$left" != "landuse maps model " ]; then
  echo "GUI check FAILED (see $WORK/qgis.log with CALLIPER_GUI_KEEP set)." >&2
  exit 1
fi
echo "GUI check passed: installer, Train, phrase maps, Describe, places like this and Classify with the dock fitting 360 and 380 px after each, and quitting during Train in a fresh profile; screenshots in $SHOTS."
