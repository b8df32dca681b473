"""Install the locked packages into the Python that runs this script (the command line's .venv), as the plugin does.

The same locks as the QGIS plugin's installer (core/install/locks/), the same checks and
pip options (``--require-hashes --no-deps --only-binary :all:``, torch in a run of its own
naming only its index), installed into this environment instead of a profile folder. What
this Python (a venv with --system-site-packages sees Debian's numpy, pyproj and scipy)
already has at the locked version is left as it is, and so is a torch of the pinned
version whatever its build: switching builds is done by removing it first.
  python scripts/install_locked.py [--torch auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import tempfile
from pathlib import Path

from calliper.core.errors import CalliperError
from calliper.core.install.plan import PIP_OPTIONS, make_plan, resolve
from calliper.core.install.pip_process import run_pip
from calliper.core.jobs import JobControl


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="auto", choices=["auto", "cpu", "cuda"], help="torch build")
    args = parser.parse_args()
    control = JobControl(log=lambda line: print(f"  {line}", flush=True))
    with tempfile.TemporaryDirectory(prefix="calliper-venv-") as scratch:
        plan = make_plan(Path(scratch) / "unused", args.torch, python=sys.executable)
        plan.loaded = {}  # no running QGIS to keep usable: the lock's versions throughout
        torch = next(pin.version for pin in plan.pins if pin.name == "torch")
        if (installed_version("torch") or "").split("+")[0] == torch:
            plan.torch = None  # the pinned torch is here already, in some build
        print(f"Installing the locked packages: {plan.summary()}", flush=True)
        try:
            resolution = resolve(plan, control)
            for note in resolution.notes:
                print(note, flush=True)
            for run in resolution.runs:
                command = [sys.executable, "-m", "pip", "install", *PIP_OPTIONS, "--no-warn-script-location",
                           *run.index_args, "-r", str(run.requirements_file(Path(scratch)))]
                run_pip(command, control, f"Installing {run.what}", {**plan.env, **run.env})
        except CalliperError as error:
            print(f"install_locked: error: {error.message}\n{error.more_details}", file=sys.stderr)
            return 2
    print(f"Installed {len(resolution.packages)} locked packages." if resolution.packages
          else "The locked packages were all in place.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
