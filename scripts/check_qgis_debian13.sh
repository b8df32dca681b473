#!/usr/bin/env bash
# The GUI check in Debian 13 (QGIS 3.40, Python 3.13): scripts/check_qgis_debian.sh --suite trixie.
exec bash "$(dirname "$0")/check_qgis_debian.sh" --suite trixie "$@"
