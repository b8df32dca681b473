"""torch at full speed in a process whose global symbols already hold the reference BLAS, as in QGIS 3.40.

QGIS's libraries put ``libblas.so.3`` into the global symbol scope at start; on Debian 13 that is the
reference (netlib) BLAS, and torch's own ``sgemm_`` calls then bind to it (about 5 GFLOP/s instead of
100+). Each check runs in a fresh interpreter that loads that library with ``RTLD_GLOBAL`` first, starts
the plugin as QGIS does (``classFactory``) and only then imports torch, as the dock, Processing or the
Python console would.
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys

import pytest

from calliper.core.torch_loading import SLOW_GFLOPS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="global symbol binding is Linux's")

REFERENCE_BLAS = sorted(glob.glob("/usr/lib/*/blas/libblas.so.3"))  # Debian's libblas3 (scripts/install.sh)

PROCESS = """
import ctypes, json, sys
ctypes.CDLL({blas!r}, mode=ctypes.RTLD_GLOBAL)  # what QGIS's libgdal and libqgis_core do at start
if {torch_first}:
    import torch  # another plugin or a start-up script imported torch before Calliper
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import calliper
from calliper.core.torch_loading import matmul_gflops
calliper.classFactory(None)  # as qgis_process does: no window, so warnings go to standard error
import torch
torch.set_num_threads(1)
print(json.dumps({{"gflops": max(matmul_gflops(torch) for _ in range(3)),
                  "hooks_left": [type(f).__name__ for f in sys.meta_path if "Torch" in type(f).__name__],
                  "loader": type(torch.__spec__.loader).__name__}}))
"""


def run_process(torch_first: bool) -> tuple[dict, list[str]]:
    """The figure and the process's state as JSON, and the warnings the plugin gave on standard error."""
    if not REFERENCE_BLAS:
        pytest.fail("The reference BLAS (Debian's libblas3) is missing: run scripts/install.sh")
    script = PROCESS.format(blas=REFERENCE_BLAS[0], torch_first=torch_first)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("Calliper: ")]
    return json.loads(done.stdout.strip().splitlines()[-1]), warnings


def test_torch_imported_after_the_plugin_starts_multiplies_at_full_speed():
    result, warnings = run_process(torch_first=False)
    assert result["gflops"] > 2 * SLOW_GFLOPS, result  # the reference BLAS gives about 5 on one thread
    assert warnings == []
    assert result["hooks_left"] == [] and result["loader"] == "SourceFileLoader", result


def test_torch_imported_before_the_plugin_is_measured_and_the_user_told_what_to_do():
    result, warnings = run_process(torch_first=True)
    assert result["gflops"] < SLOW_GFLOPS, result  # the slow path this file guards against is really there
    [warning] = warnings
    assert "GFLOP/s" in warning and "libopenblas0" in warning, warning
