"""An install of the plugin's packages, from plan to folder: resolve, size, install into staging, swap in.

Two pip runs: a dry run with ``--report`` resolves the pins against QGIS's Python as it
is (so what the host already has, numpy and pyproj above all, is kept and not
shadowed), then ``--target`` installs exactly that list with ``--no-deps`` into a
staging folder. Nothing is written outside the profile's dependency folder: no
``--user``, no system site-packages, no admin rights. Wheels only (``--only-binary
:all:``): QGIS's Python has no compiler, and a source build would fail late.

The CPU build of torch lives on PyTorch's own index. When that index does not answer,
the resolution falls back to the configured index's torch (on Linux the CUDA build,
which runs on the CPU too) and says what that costs before anything is installed.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..dependencies import interpreter_for_pip
from ..errors import InstallError
from ..jobs import JobControl
from .folder import commit, install_lock, remove_leftovers, staging_folder
from .host import HostChoice, host_choices, loaded_distributions
from .pins import Pin, fingerprint, pins_for_python, read_pins, this_python
from .pip_process import run_pip
from .torch_variant import TorchVariant, choose_torch_variant, nvidia_driver

PIP_OPTIONS = ["--progress-bar", "off", "--no-input", "--disable-pip-version-check", "--only-binary", ":all:"]
CPU_TORCH_MB = 200
"""About the size of the CPU build of torch (Linux, x86_64), for comparing with a fallback."""
CUDA_PARTS = ("nvidia-", "cuda-")
"""Distributions that only a CUDA build of torch brings (its CUDA libraries)."""
TORCH_BUILD_PARTS = ("torch", "triton", *CUDA_PARTS)
"""torch and what comes with it: the cost of a torch build."""
HEAD_TIMEOUT_S = 5.0
LEFT_OUT = ("triton",)
"""Distributions never installed. triton (torch.compile's GPU compiler; Calliper never compiles) comes with PyPI's
CUDA build of torch on Linux and carries its own LLVM. Mesa's OpenGL driver loads the system's libLLVM into QGIS
(Debian 13 under Xvfb: libLLVM 19), and loading libtriton.so beside it crashes QGIS (SIGSEGV in LLVM's static
initialisers) the first time torch imports triton, which it does when training starts. torch runs without it."""


@dataclass
class InstallPlan:
    """What to install where, with which torch build, keeping which host packages."""

    python: str
    folder: Path
    pins: list[Pin]
    torch: TorchVariant | None
    hosts: list[HostChoice]
    index_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    plugin_version: str = ""
    loaded: dict[str, str] = field(default_factory=dict)
    """Distributions QGIS has imported already: kept at their version when the pins allow it."""
    notes: list[str] = field(default_factory=list)
    """Pins changed for this Python (no wheel of the pinned release for it)."""

    @property
    def requirements(self) -> list[str]:
        return [self.torch.spec if pin.name == "torch" and self.torch else pin.spec for pin in self.pins]

    @property
    def digest(self) -> str:
        """Fingerprint of the pins and what is left out: a new torch build or host version does not make a folder
        outdated, but a folder that still holds a left-out package (triton, which crashes QGIS) is."""
        return fingerprint([pin.spec for pin in self.pins] + [f"-{name}" for name in LEFT_OUT])

    def summary(self) -> str:
        torch = f"torch {self.torch.name} build ({self.torch.reason})" if self.torch else "no torch"
        kept = ", ".join(choice.describe() for choice in self.hosts)
        changed = "".join(f"; {note}" for note in self.notes)
        return f"Python {self.python}; {torch}; {kept}{changed}; into {self.folder}"


def make_plan(folder: Path, torch_request: str = "auto", pins: list[Pin] | None = None,
              index_args: list[str] | None = None, env: dict[str, str] | None = None, plugin_version: str = "",
              python: str | None = None, driver: str | None = None, hosts: list[HostChoice] | None = None,
              python_version: tuple[int, int] | None = None) -> InstallPlan:
    """The plan for this machine: its Python, its NVIDIA driver (for torch), its own numpy/pyproj/scipy."""
    for_python = pins_for_python(read_pins() if pins is None else pins, python_version or this_python())
    pins = for_python.pins
    torch_pin = next((pin for pin in pins if pin.name == "torch"), None)
    torch = None
    if torch_pin is not None:
        torch = choose_torch_variant(torch_pin.version, torch_request, driver=nvidia_driver() if driver is None else driver)
    return InstallPlan(
        python=python or interpreter_for_pip(), folder=Path(folder), pins=pins, torch=torch,
        hosts=host_choices(exclude=Path(folder)) if hosts is None else hosts,
        index_args=list(index_args or []), env=dict(env or {}), plugin_version=plugin_version,
        loaded=loaded_distributions(exclude=Path(folder)), notes=for_python.notes,
    )


@dataclass
class Resolution:
    """The exact distributions pip will install, and what downloading them costs."""

    packages: dict[str, str]
    urls: list[str]
    download_bytes: int | None
    notes: list[str] = field(default_factory=list)
    index_args: list[str] = field(default_factory=list)
    """The index options the resolution used (the torch build's index, when it answered): the install uses them too."""
    torch_build: str | None = None
    """The torch build this resolution installs: the plan's, or the configured index's when the plan's index failed."""

    def describe(self) -> str:
        size = f"about {self.download_bytes / 1e6:,.0f} MB to download" if self.download_bytes else "size unknown"
        return f"{len(self.packages)} packages, {size}"


@dataclass(frozen=True)
class TorchSource:
    """Where one resolution takes torch from: the requirements, the index options, and whether the build's index failed."""

    requirements: list[str]
    index_args: list[str]
    fell_back: bool = False


def _torch_source(plan: InstallPlan) -> TorchSource:
    """The plan's torch build from its own index when that index answers, else torch from the configured index.

    The configured index's torch has no ``+cpu`` (or ``+cu126``) version: asking it for
    the plan's spec would end in "no torch==X+cpu for this Python".
    """
    args = list(plan.index_args)
    url = plan.torch.index_url if plan.torch else None
    if url is None or "--no-index" in args:
        return TorchSource(plan.requirements, args)
    if _reachable(url + "/"):
        return TorchSource(plan.requirements, args + ["--extra-index-url", url])
    plain = plan.torch.spec.split("+", 1)[0]
    return TorchSource([plain if spec == plan.torch.spec else spec for spec in plan.requirements], args, fell_back=True)


def _fallback_build(packages: dict[str, str]) -> str:
    """The torch build the configured index gave: CUDA when its CUDA libraries came with it (PyPI's Linux torch),
    else CPU (PyPI's Windows torch, or a mirror that serves ``+cpu`` wheels)."""
    return "cuda" if any(_normalised(name).startswith(CUDA_PARTS) for name in packages) else "cpu"


def _fallback_note(plan: InstallPlan, packages: dict[str, str], sizes: list[int | None]) -> str:
    """What torch from the configured index costs, said before anything is installed."""
    torch_bytes = sum(size or 0 for name, size in zip(packages, sizes) if _normalised(name).startswith(TORCH_BUILD_PARTS))
    size = f"{torch_bytes / 1e6:,.0f} MB with its libraries"
    got = _fallback_build(packages)
    if got == plan.torch.name:
        build = f"the {got.upper()} build as well: {size}"
    elif got == "cuda":
        build = f"the CUDA build: {size}, against about {CPU_TORCH_MB} MB for the CPU build; it works on the CPU"
    else:
        build = f"the CPU build: {size}; it does not use the GPU"
    return (f"The torch {plan.torch.name.upper()} index ({plan.torch.index_url}) does not answer: torch "
            f"{packages.get('torch', '')} comes from the configured package index instead, {build}. "
            "Install goes ahead with it; Cancel stops, and the torch build can be chosen above.")


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=HEAD_TIMEOUT_S):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def _size(url: str) -> int | None:
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(url[len("file:"):]))
        return path.stat().st_size if path.is_file() else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=HEAD_TIMEOUT_S) as reply:
            length = reply.headers.get("Content-Length")
            return int(length) if length else None
    except Exception:  # noqa: BLE001 - the size is a courtesy, never a failure
        return None


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _dry_run(plan: InstallPlan, control: JobControl, source: TorchSource, held: dict[str, str]) -> list[dict]:
    """pip's report of what it would install, with the host packages and the ``held`` ones kept at their version."""
    pins = [choice.constraint for choice in plan.hosts] + [f"{name}=={version}" for name, version in held.items()]
    with tempfile.TemporaryDirectory(prefix="calliper-resolve-") as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        report = Path(scratch) / "report.json"
        command = [plan.python, "-m", "pip", "install", "--dry-run", "--report", str(report), *PIP_OPTIONS,
                   "-c", str(constraints), *source.index_args, *source.requirements]
        control.log("Resolving: " + " ".join(command))
        run_pip(command, control, "Working out the packages to install", plan.env)
        return json.loads(report.read_text(encoding="utf-8")).get("install", [])


def resolve(plan: InstallPlan, control: JobControl | None = None) -> Resolution:
    """A pip dry run against QGIS's Python: the distributions to install (what the host has is left out).

    Distributions QGIS has loaded already are held at their version, so that the install
    can be used at once; one the pins cannot live with is let go (QGIS then restarts).
    """
    control = control or JobControl()
    notes: list[str] = []
    source = _torch_source(plan)
    hosts = {_normalised(choice.package.name) for choice in plan.hosts}
    held = {name: version for name, version in plan.loaded.items() if _normalised(name) not in hosts}
    released: list[str] = []
    while True:
        try:
            items = _dry_run(plan, control, source, held)
            break
        except InstallError as error:
            conflicts = set(re.findall(r"The user requested \(constraint\) ([A-Za-z0-9_.-]+)==", error.more_details))
            let_go = [name for name in held if name in conflicts]
            if not let_go:
                raise
            released += let_go
            for name in let_go:
                del held[name]
    if released:
        notes.append(f"QGIS has loaded a version of {', '.join(released)} that the pins do not allow; "
                     "if Calliper uses it, the dock asks for a restart after the install.")
    kept_hosts = {_normalised(choice.package.name) for choice in plan.hosts if choice.kept}
    shadowing = [item for item in items if _normalised(item["metadata"]["name"]) in kept_hosts]
    if shadowing:  # the host's own copy stays; a second numpy or PROJ in QGIS's process breaks it
        notes.append("Kept QGIS's own " + ", ".join(item["metadata"]["name"] for item in shadowing) + ".")
    left_out = [item for item in items if _normalised(item["metadata"]["name"]) in LEFT_OUT]
    if left_out:
        control.log(f"Left out {', '.join(item['metadata']['name'] for item in left_out)}: torch runs without it, "
                    "and its own LLVM crashes QGIS.")
    items = [item for item in items if item not in shadowing and item not in left_out]
    packages = {item["metadata"]["name"]: item["metadata"]["version"] for item in items}
    urls = [item.get("download_info", {}).get("url", "") for item in items]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(_size, urls))
    total = sum(size for size in sizes if size) if any(sizes) else None
    torch_build = plan.torch.name if plan.torch else None
    if source.fell_back:
        notes.insert(0, _fallback_note(plan, packages, sizes))
        torch_build = f"{_fallback_build(packages)}, from the package index ({plan.torch.name} index unreachable)"
    for note in notes:
        control.log(note)
    return Resolution(packages, urls, total, notes, source.index_args, torch_build)


def install(plan: InstallPlan, resolution: Resolution, control: JobControl | None = None) -> dict:
    """Install the resolved packages into a staging folder and swap it into place; returns the folder's marker."""
    control = control or JobControl()
    if not resolution.packages:
        raise InstallError("There is nothing to install: QGIS's Python already has every package.")
    remove_leftovers(plan.folder.parent)
    with install_lock(plan.folder):
        return _install_locked(plan, resolution, control)


def _install_locked(plan: InstallPlan, resolution: Resolution, control: JobControl) -> dict:
    staging = staging_folder(plan.folder)
    done = set()

    def progress(line: str) -> None:
        if line.startswith(("Collecting ", "Processing ")):
            done.add(line.split()[1])
            control.report(len(done) / (len(resolution.packages) + 1), line)

    try:
        command = [plan.python, "-m", "pip", "install", "--no-deps", "--target", str(staging), *PIP_OPTIONS,
                   "--no-warn-script-location", *resolution.index_args,
                   *[f"{name}=={version}" for name, version in resolution.packages.items()]]
        control.log("Installing: " + " ".join(command))
        run_pip(command, control, "Installing the packages", plan.env, on_line=progress)
        marker = {
            "plugin_version": plan.plugin_version, "digest": plan.digest, "installed": datetime.now(timezone.utc)
            .isoformat(timespec="seconds"), "python": platform.python_version(), "platform": sys.platform,
            "torch": resolution.torch_build, "packages": resolution.packages,
            "host_kept": {c.package.name: c.host_version for c in plan.hosts if c.kept},
        }
        commit(staging, plan.folder, marker)
    except BaseException:  # cancel and failures alike: the staging folder never outlives the install
        shutil.rmtree(staging, ignore_errors=True)
        raise
    control.report(1.0, "Installed")
    return marker


def folder_bytes(folder: Path) -> int:
    """Disk use of an installed folder."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file() and not f.is_symlink())

