"""The one place that imports torch into a host process (QGIS, qgis_process, the command line) at full speed.

QGIS's own libraries (GDAL, qgis_core) link ``libblas.so.3`` and load it into the process's global
symbol scope when QGIS starts; on Debian and Ubuntu that is the reference (netlib) BLAS unless
OpenBLAS is installed. torch's ``libtorch_cpu.so`` defines ``sgemm_`` (its MKL) itself but calls it
through its PLT, so the dynamic linker binds those calls to the first definition in the process: the
reference BLAS, and a float matrix product runs 20 to 40 times slower.

``guard_torch_import`` therefore puts a finder on ``sys.meta_path`` (cheap: nothing is imported) that,
when anything first imports torch while another BLAS sits in the global scope, loads ``torch._C`` (and
with it libtorch_cpu, libc10 and the other libraries torch needs that are not loaded yet) with
``RTLD_DEEPBIND``: torch's lookups then search torch's own libraries before the global scope. Libraries
already in the process are not relocated again, and without a foreign BLAS torch loads as it always did.
Whoever imports torch first (the dock, Processing, qgis_process, the Python console) goes through it.
When torch was imported before the guard (another plugin) or binding did not help, a small timed matrix
product measures the damage and the user is told once, with the figure and what to do.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import sys
import time
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from typing import Callable, Iterator

from .errors import CalliperError

SLOW_GFLOPS = 20.0
"""Below this a 512 x 512 float product is the reference BLAS (about 5 GFLOP/s), not torch's own (100+)."""
MATMUL_SIZE = 512
MATMUL_REPEATS = 5


class SlowMathError(CalliperError):
    """torch's matrix products run on a slow BLAS in this process; a warning, not raised: training still works."""


Report = Callable[[SlowMathError], None]


def foreign_blas_loaded() -> bool:
    """Whether a BLAS (``sgemm_``) is in the process's global symbol scope, where torch's calls would bind to it."""
    return hasattr(ctypes.CDLL(None), "sgemm_")


def matmul_gflops(torch) -> float:
    """The best of a few 512 x 512 float32 products, in GFLOP/s (about 5 ms on the slow path, 1 ms on the fast)."""
    a, b = torch.rand(MATMUL_SIZE, MATMUL_SIZE), torch.rand(MATMUL_SIZE, MATMUL_SIZE)
    torch.mm(a, b)  # the first product starts torch's thread pool
    best = float("inf")
    for _ in range(MATMUL_REPEATS):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * MATMUL_SIZE**3 / best / 1e9


def slow_math_error(gflops: float) -> SlowMathError:
    return SlowMathError(
        f"torch multiplies matrices at {gflops:.1f} GFLOP/s in this process, far below its usual speed "
        f"(100 GFLOP/s or more): Train, maps and Describe will run many times slower than on the command line. "
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


class _TorchLoader(importlib.abc.Loader):
    """Wraps the loader of ``torch`` (to check it once it is imported) or ``torch._C`` (to load it bound)."""

    def __init__(self, loader, finder: "_TorchFinder") -> None:
        self.loader = loader
        self.finder = finder

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec):
        if spec.name == "torch._C" and foreign_blas_loaded():
            with _deep_binding():
                return self.loader.create_module(spec)
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # as if we had never been there
        self.loader.exec_module(module)
        if module.__name__ == "torch":
            self.finder.remove()
            self.finder.check(module)


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Finds ``torch`` and ``torch._C`` with the finders after it and hands them to ``_TorchLoader``."""

    def __init__(self, check: _Check) -> None:
        self.check = check

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name not in ("torch", "torch._C"):
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1:]:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _TorchLoader(spec.loader, self)
                return spec
        return None

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def guard_torch_import(report: Report) -> None:
    """Make the process's first torch import bind torch to its own BLAS, or tell ``report`` torch is slow here.

    Imports nothing heavy: call it as early as the host lets us (the plugin's ``classFactory``, the
    command line's ``main``). Linux only: elsewhere each library resolves its own symbols already.
    """
    if not sys.platform.startswith("linux"):
        return
    check = _Check(report)
    if "torch" in sys.modules:
        check(sys.modules["torch"])
    elif not any(isinstance(finder, _TorchFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchFinder(check))
