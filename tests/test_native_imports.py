"""The plugin's native packages in a process whose global symbols already hold QGIS's libraries.

QGIS's libraries put ``libblas.so.3``, ``libgeos_c`` and ``libgdal`` into the global symbol scope at start. On
Debian 13 the first is the reference (netlib) BLAS, and torch's own ``sgemm_`` calls then bind to it
(about 5 GFLOP/s instead of 100+); QGIS 3.22's GEOS 3.11 takes shapely's GEOS calls and refuses its
WKB writer. Each check runs in a fresh interpreter that loads such a library with ``RTLD_GLOBAL``
first, starts the plugin's guard as QGIS does and only then imports the package, as the dock,
Processing or the Python console would.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calliper.core.native_imports import SLOW_GFLOPS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="global symbol binding is Linux's")

REFERENCE_BLAS = sorted(glob.glob("/usr/lib/*/blas/libblas.so.3"))  # Debian's libblas3 (scripts/install.sh)

PROCESS = """
import ctypes, json
ctypes.CDLL({blas!r}, mode=ctypes.RTLD_GLOBAL)  # what QGIS's libgdal and libqgis_core do at start
if {torch_first}:
    import torch  # another plugin or a start-up script imported torch before Calliper
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import calliper
from calliper.core.native_imports import matmul_gflops
calliper.classFactory(None)  # as qgis_process does: no window, so warnings go to standard error
import torch
print(json.dumps({{"gflops": max(matmul_gflops(torch) for _ in range(3)),
                  "loaders": [type(m.__spec__.loader).__name__ for m in (torch, torch._C)]}}))
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
    assert result["loaders"] == ["SourceFileLoader", "ExtensionFileLoader"], result  # as if the guard never was


def test_torch_imported_before_the_plugin_is_measured_and_the_user_told_what_to_do():
    result, warnings = run_process(torch_first=True)
    assert result["gflops"] < SLOW_GFLOPS, result  # the slow path this file guards against is really there
    [warning] = warnings
    assert "GFLOP/s" in warning and "libopenblas0" in warning, warning


LIBRARIES = """
import shapely, rasterio, pyogrio
from rasterio.env import GDALVersion
print(len(shapely.to_wkb(shapely.points([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]))), shapely.geos_version,
      GDALVersion.runtime(), pyogrio.__gdal_version_string__)
"""


def test_shapely_rasterio_and_pyogrio_use_their_own_geos_and_gdal_beside_qgis_ones():
    """QGIS's GEOS and GDAL in the global symbols took their calls: in QGIS 3.22 shapely's to_wkb failed (no
    GeoPackage could be written) and rasterio and pyogrio ran on GDAL 3.6. Guarded, they answer as outside QGIS."""
    qgis_libraries = [sorted(glob.glob(f"/usr/lib/*/{name}"))[0] for name in ("libgeos_c.so.1", "libgdal.so.*[0-9]")]
    folder = Path(importlib.util.find_spec("shapely").origin).parent.parent  # stands in for the dependency folder
    guarded = f"""
import ctypes
from pathlib import Path
for library in {qgis_libraries!r}:
    ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)  # what QGIS's libraries bring at start
from calliper.core.native_imports import guard_native_imports
guard_native_imports(Path({str(folder)!r}), print)
""" + LIBRARIES
    outside, inside = (subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
                       for script in (LIBRARIES, guarded))
    assert inside.returncode == 0, inside.stderr[-3000:]
    assert inside.stdout == outside.stdout and inside.stdout.startswith("2 "), (outside.stdout, inside.stdout)
