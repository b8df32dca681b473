#!/usr/bin/env bash
# The benchmark-only environment for srai (Kraina AI's "Spatial Representations for AI"),
# the field's POI embedders that bench/landuse.py runs beside CaLLiPer as anchors.
# srai is not a plugin dependency: it lives in bench/.venv-srai (git-ignored), apart from .venv.
# srai 0.10.2 calls polars' collect(streaming=True), which polars 1.30 removed: hence the cap.
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv-srai
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import srai, torch, pytorch_lightning" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "srai[torch]==0.10.2" "polars<1.30" "torch==2.13.0"
  # timm brings a torchvision built for CUDA torch, which breaks importing torchmetrics beside the CPU torch;
  # none of the embedders used needs it, and torchmetrics runs without it
  "$VENV/bin/pip" uninstall -y -q torchvision
fi
"$VENV/bin/python" -c "import srai; print('srai', srai.__version__, 'in', '$VENV')"
