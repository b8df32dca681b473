#!/usr/bin/env bash
# The user's path on today's QGIS, in a Debian system made in a folder (debootstrap and chroot,
# no Docker): Debian 13 (trixie: QGIS 3.40, Python 3.13, numpy 2.2) or Debian sid (QGIS 3.44,
# Python 3.14, numpy 2.4, no scipy). Inside it runs
# scripts/gui_check.sh as on Debian 12: a fresh profile, the plugin ZIP, Install in the dock (the
# packages come from the package index through the plugin's own installer), Train, a phrase map,
# quit; QGIS must exit with 0. Then the dependency folder must hold no copy of the numpy, pyproj or
# scipy that QGIS's Python has (sid has no scipy: the installer's locked fallback is expected there):
# QGIS's own are kept. Too heavy for .ci/run (torch's CUDA build is several GB, see below).
#   --suite SUITE       trixie (default) or sid
#   --setup-and-tests   then also `bash scripts/setup.sh` and `bash scripts/test.sh` inside
#                       (a .venv with torch again, the demo, the whole suite: about half an hour)
#   CALLIPER_DEBIAN_ROOT=DIR the Debian system (default /var/tmp/calliper-SUITE/root; for trixie
#                       also CALLIPER_TRIXIE), kept between runs: a second run skips debootstrap and apt
#   CALLIPER_GUI_DISPLAY=:N the X display inside (default :96)
#   CALLIPER_TEST_ARGS  arguments for scripts/test.sh (default: the whole suite)
# Needs root (debootstrap, mount, chroot), about 3 GB for the system and 5 GB per torch install.
# What depends on the machine it runs on, and why:
#   - The mirror is the one apt uses (its debian.sources), else deb.debian.org. A mirror's sid
#     Release file can be past its Valid-Until date: apt in the sid system does not check it.
#   - The machine's CA bundle is copied over the chroot's, for a machine that reaches the package
#     index through its own certificate authority; on others Debian's own bundle does the same.
#   - The chroot runs with a clean environment and no pip configuration (the machine's may name
#     local wheel folders), so pip reaches the package index as a user's would.
#   - Where the PyTorch CPU index does not answer (or the locks hold no torch from it), the installer
#     takes the locked torch of the package index (on Linux the CUDA build, which runs on the CPU)
#     and says so in the dock; where it answers, the CPU build (about 200 MB) is installed instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "Run as root: debootstrap, mount and chroot need it." >&2; exit 2; }
SUITE=trixie; SETUP_AND_TESTS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) SUITE="$2"; shift 2 ;;
    --setup-and-tests) SETUP_AND_TESTS=1; shift ;;
    *) echo "Unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$SUITE" in
  trixie) NAME="Debian 13"; ROOT=${CALLIPER_DEBIAN_ROOT:-${CALLIPER_TRIXIE:-/var/tmp/calliper-trixie/root}} ;;
  sid) NAME="Debian sid"; ROOT=${CALLIPER_DEBIAN_ROOT:-/var/tmp/calliper-sid/root} ;;
  *) echo "--suite is trixie or sid (got $SUITE)." >&2; exit 2 ;;
esac
SCREEN=${CALLIPER_GUI_DISPLAY:-:96}
APT_PACKAGES=(qgis python3-qgis qgis-providers python3-pip python3-venv xvfb ca-certificates)

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "Making $NAME in $ROOT (debootstrap, about a minute)..."
  mkdir -p "$ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "${MIRROR:-http://deb.debian.org/debian}" >/dev/null
fi
[ "$SUITE" != sid ] || echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99novalid"

unmount() {
  for point in "$ROOT/dev" "$ROOT/proc"; do
    if mountpoint -q "$point"; then umount -R "$point" 2>/dev/null || umount -R -l "$point"; fi
  done
}
trap unmount EXIT
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mountpoint -q "$ROOT/dev" || { mount --rbind /dev "$ROOT/dev"; mount --make-rslave "$ROOT/dev"; }
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
INSIDE=(chroot "$ROOT" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
        LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
if ! "${INSIDE[@]}" dpkg -s "${APT_PACKAGES[@]}" >/dev/null 2>&1; then
  echo "Installing QGIS in $NAME with apt (a few minutes)..."
  "${INSIDE[@]}" apt-get update -qq
  "${INSIDE[@]}" apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"  # the machine's CA (see above)
"${INSIDE[@]}" /usr/bin/python3 -c "import sys, numpy, qgis.core; print('$NAME: QGIS', qgis.core.Qgis.version(), \
'| Python', sys.version.split()[0], '| numpy', numpy.__version__)"

# This working tree, the plugin ZIP and the demo POIs, made here with the .venv (Debian 12).
[ -x .venv/bin/python ] || bash scripts/install.sh
[ -f demo_output/data/pois.gpkg ] || HF_HUB_OFFLINE=1 .venv/bin/calliper demo --out demo_output --epochs 5
rm -rf "$ROOT/calliper" "$ROOT/calliper-gui"; mkdir -p "$ROOT/calliper/demo_output/data"
git ls-files -z -co --exclude-standard | tar -c --null --ignore-failed-read -T - 2>/dev/null | tar -x -C "$ROOT/calliper"
cp demo_output/data/pois.gpkg "$ROOT/calliper/demo_output/data/"
.venv/bin/python scripts/package.py --out "$ROOT/calliper/calliper.zip" >/dev/null

rm -rf "$ROOT/root/.cache/pip"  # a new user: nothing downloaded before
set +e
"${INSIDE[@]}" CALLIPER_GUI_ZIP=/calliper/calliper.zip CALLIPER_GUI_KEEP=/calliper-gui CALLIPER_GUI_DISPLAY="$SCREEN" \
  CALLIPER_GUI_SHOTS=/calliper-gui/shots bash /calliper/scripts/gui_check.sh
code=$?
set -e
FOLDER="$ROOT/calliper-gui/xdg/QGIS/QGIS3/profiles/default/python/dependencies/calliper"
OWN=$("${INSIDE[@]}" /usr/bin/python3 -c "import importlib.util as u
print('|'.join(n for n in ('numpy', 'pyproj', 'scipy') if u.find_spec(n)))")
shadowing=$(ls "$FOLDER" 2>/dev/null | grep -iE "^(${OWN:-none})([-_.]|\$)" | tr '\n' ' ' || true)
fallbacks=$(ls "$FOLDER" 2>/dev/null | grep -iE '^(numpy|pyproj|scipy)-.*dist-info$' | tr '\n' ' ' || true)
echo "Dependency folder: $(du -sh "$FOLDER" 2>/dev/null | cut -f1); QGIS's own ${OWN//|/, } in it: ${shadowing:-none};" \
  "installed where QGIS has none: ${fallbacks:-none}."
echo "pip's download cache after the install: $(du -sh "$ROOT/root/.cache/pip" 2>/dev/null | cut -f1 | grep . || echo none)."
grep -hE "gui_check: (installer|install finished|train:|maps:)" "$ROOT/calliper-gui/qgis.log" || true
if [ "$code" -ne 0 ] || [ -n "$shadowing" ]; then
  echo "$NAME check FAILED (QGIS log: $ROOT/calliper-gui/qgis.log)." >&2
  exit 1
fi
echo "$NAME: the GUI check passed and QGIS's own ${OWN//|/, } were kept."

if [ "$SETUP_AND_TESTS" = 1 ]; then
  started=$(date +%s)
  "${INSIDE[@]}" bash -c "cd /calliper && bash scripts/setup.sh --epochs 5"
  echo "setup.sh on $NAME: $(( $(date +%s) - started )) s."
  started=$(date +%s)
  "${INSIDE[@]}" bash -c "cd /calliper && nice -n 10 bash scripts/test.sh ${CALLIPER_TEST_ARGS:-}"
  echo "test.sh on $NAME: $(( $(date +%s) - started )) s."
fi
