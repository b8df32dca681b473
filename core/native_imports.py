"""The one place that decides how the plugin's native packages (torch first) are loaded into QGIS.

QGIS's own libraries are in the process's global symbol scope from its start: GDAL, GEOS, PROJ and
``libblas.so.3`` (the reference netlib BLAS on Debian and Ubuntu unless OpenBLAS is installed). The
wheels the plugin installs bring their own copies (torch its MKL, shapely its GEOS, rasterio and
pyogrio their GDAL) but call them through their PLT, so the dynamic linker binds those calls to the
first definition in the process: QGIS's. torch's ``sgemm_`` then runs on the reference BLAS (a float
matrix product 20 to 40 times slower: QGIS 3.40 on Debian 13), and shapely's GEOS calls go to QGIS's
older GEOS (``to_wkb`` fails with "WKB output dimension must be 2 or 3" in QGIS 3.22, so no GeoPackage
can be written).

``guard_native_imports`` puts a finder on ``sys.meta_path`` (cheap: nothing is imported) that loads
every extension module of the plugin's dependency folder, and ``torch._C`` wherever torch lives, with
``RTLD_DEEPBIND``: the libraries such a module brings (libtorch_cpu, libc10, libgomp; libgeos_c;
libgdal) search their own dependencies before the global scope. Libraries already in the process are
not relocated again, and QGIS's own modules (osgeo, qgis) load as before. Whoever imports torch first
(the dock, Processing, qgis_process, the Python console) goes through it. When torch was imported
before the guard (another plugin, a start-up script) or binding did not help, a small timed matrix
product measures the damage and the user is told once, with the figure and what to do.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import sys
import time
from contextlib import contextmanager
from importlib.machinery import ExtensionFileLoader, ModuleSpec
from pathlib import Path
from typing import Callable, Iterator

from .errors import CalliperError

SLOW_GFLOPS = 20.0
"""Below this a 512 x 512 float product on one core is the reference BLAS (3 to 6 GFLOP/s), not torch's (60+)."""
MATMUL_SIZE = 512
MATMUL_REPEATS = 5


class SlowMathError(CalliperError):
    """torch's matrix products run on a slow BLAS in this process; a warning, not raised: training still works."""


Report = Callable[[SlowMathError], None]


def foreign_blas_loaded() -> bool:
    """Whether a BLAS (``sgemm_``) is in the process's global symbol scope, where torch's calls would bind to it."""
    return hasattr(ctypes.CDLL(None), "sgemm_")


def matmul_gflops(torch) -> float:
    """The best of a few 512 x 512 float32 products on one thread, in GFLOP/s (3 ms on the fast path, 50 on the slow).

    One thread: with several, a busy machine's scheduling, not the BLAS, sets the figure.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.rand(MATMUL_SIZE, MATMUL_SIZE), torch.rand(MATMUL_SIZE, MATMUL_SIZE)
        torch.mm(a, b)  # the first product pays for the BLAS's set-up
        best = float("inf")
        for _ in range(MATMUL_REPEATS):
            started = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    return 2 * MATMUL_SIZE**3 / best / 1e9


def slow_math_error(gflops: float) -> SlowMathError:
    return SlowMathError(
        f"torch multiplies matrices at {gflops:.1f} GFLOP/s in this process, far below its usual speed "
        f"(60 GFLOP/s or more): Train, maps and Describe will run many times slower than on the command line. "
        "Install OpenBLAS (Debian and Ubuntu: sudo apt install libopenblas0) and restart QGIS.",
        "Another library (QGIS's GDAL, through libblas.so.3) put the reference BLAS into the process's global "
        "symbols before torch was loaded, and torch's matrix products bind to it. Calliper loads torch bound to "
        "its own BLAS when it imports torch first; here torch was imported before Calliper could (by another "
        "plugin or a start-up script), or that binding did not take.",
    )


class _Check:
    """Measures once per process, after torch is imported, and reports only a slow figure."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.done = False

    def __call__(self, torch) -> None:
        if self.done or not foreign_blas_loaded():
            return
        self.done = True
        gflops = matmul_gflops(torch)
        if gflops < SLOW_GFLOPS:
            self.report(slow_math_error(gflops))


@contextmanager
def _deep_binding() -> Iterator[None]:
    """Extension modules loaded inside the block resolve their symbols in their own libraries first."""
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        yield
    finally:
        sys.setdlopenflags(flags)


class _BoundLoader(importlib.abc.Loader):
    """Wraps an extension module's loader (load it bound to its own libraries) or torch's (check it once imported)."""

    def __init__(self, loader, check: _Check | None = None) -> None:
        self.loader = loader
        self.check = check

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec):
        if self.check is not None:
            return self.loader.create_module(spec)
        with _deep_binding():
            return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # as if we had never been there
        self.loader.exec_module(module)
        if self.check is not None:
            self.check(module)


class _NativeFinder(importlib.abc.MetaPathFinder):
    """Finds modules with the finders after it; hands ``torch`` and the folder's extension modules to ``_BoundLoader``."""

    def __init__(self, folder: Path | None, check: _Check) -> None:
        self.prefix = None if folder is None else str(folder) + os.sep
        self.check = check

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name != "torch" and name != "torch._C" and not self._in_folder(path):
            return None
        spec = self._found_after(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        if name == "torch":
            spec.loader = _BoundLoader(spec.loader, self.check)
        elif isinstance(spec.loader, ExtensionFileLoader):
            spec.loader = _BoundLoader(spec.loader)
        return spec

    def _in_folder(self, path) -> bool:
        """Whether the parent package lives in the dependency folder (its top-level modules are plain Python)."""
        return self.prefix is not None and path is not None and any(str(entry).startswith(self.prefix) for entry in path)

    def _found_after(self, name: str, path, target) -> ModuleSpec | None:
        after = sys.meta_path[sys.meta_path.index(self) + 1:] if self in sys.meta_path else sys.meta_path
        for finder in after:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                return spec
        return None


def _is_native_finder(finder) -> bool:
    """By name: the finder of an earlier load of this module (a reloaded plugin) is of another class object."""
    return (type(finder).__module__, type(finder).__qualname__) == (__name__, _NativeFinder.__qualname__)


def guard_native_imports(folder: Path | None, report: Report) -> None:
    """Load the extension modules in ``folder`` and torch's bound to their own libraries; ``report`` a slow torch.

    Imports nothing heavy: call it as early as the host lets us (the plugin's ``classFactory``), in a process
    whose global symbols hold the host's libraries. Linux only: elsewhere each library resolves its own symbols.
    """
    if not sys.platform.startswith("linux"):
        return
    for finder in [finder for finder in sys.meta_path if _is_native_finder(finder)]:
        sys.meta_path.remove(finder)  # a reloaded plugin replaces its earlier finder
    check = _Check(report)
    if "torch" in sys.modules:
        check(sys.modules["torch"])
    sys.meta_path.insert(0, _NativeFinder(folder, check))
