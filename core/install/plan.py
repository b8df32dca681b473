"""An install of the plugin's packages, from plan to folder: lock, check, size, install into staging, swap in.

Everything installed is a line of the lock for QGIS's Python and platform (``locks.py``):
an exact version and the sha256 of each wheel of it. pip gets only such lines, with
``--require-hashes --no-deps --only-binary :all:``: it resolves nothing itself, installs no
source build (QGIS's Python has no compiler), and a file whose hash the lock does not name
stops the install before anything is written to the dependency folder. Two pip runs:

- the packages, from the configured package index (pip's own configuration);
- torch and its own libraries, in a run of their own whose ``--index-url`` names the one
  index that build lives on (PyTorch's, for the Linux CPU and Windows CUDA builds), with
  the environment's extra indexes and find-links switched off for it.

No pip command names two indexes. A dry run of each (``--report``) gives the sizes, leaves
out what QGIS's Python has at the locked version already, and carries each wheel's metadata:
the packages must need nothing that the lock and QGIS's own numpy/pyproj/scipy do not give,
or the install is refused. Distributions QGIS has loaded already are kept at their version
when every package accepts it, so that the install can be used at once. Nothing is written
outside the profile's dependency folder: no ``--user``, no system site-packages.

When PyTorch's index does not answer, torch comes from the configured index instead, from
the lock's ``pypi`` part (hash-checked like the rest; on Linux the CUDA build, which runs
on the CPU too), and the dock says what that costs before anything is installed.
"""

from __future__ import annotations

import json
import platform
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
from .host import HostChoice, HostDistribution, host_choices, host_distributions, loaded_distributions
from .locks import CUDA_PARTS, LEFT_OUT, PYPI_SOURCE, Lock, LockEntry, is_torch_part, load_lock, normalised
from .pins import Pin, Requirement, fingerprint, pins_for_python, read_pins, this_python
from .pip_process import run_pip
from .torch_variant import TorchVariant, choose_torch_variant, nvidia_driver

PIP_OPTIONS = ["--progress-bar", "off", "--no-input", "--disable-pip-version-check", "--only-binary", ":all:",
               "--no-deps", "--require-hashes"]
ONLY_THE_NAMED_INDEX: dict[str, str | None] = {"PIP_EXTRA_INDEX_URL": None, "PIP_FIND_LINKS": None}
"""For torch's own run: no index from the environment besides the one its command names. pip's configuration files
are read as the user set them (a proxy, a certificate); an index they add can only serve the locked files."""
CPU_TORCH_MB = 200
"""About the size of the CPU build of torch (Linux, x86_64), for comparing with a fallback."""
HEAD_TIMEOUT_S = 5.0


@dataclass
class InstallPlan:
    """What to install where, with which torch build, keeping which host packages, from which lock."""

    python: str
    folder: Path
    pins: list[Pin]
    torch: TorchVariant | None
    hosts: list[HostChoice]
    lock: Lock | None
    lock_problem: str = ""
    """Why there is no lock (this Python or platform has none), said when Install is asked for."""
    index_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    plugin_version: str = ""
    loaded: dict[str, str] = field(default_factory=dict)
    """Distributions QGIS has imported already: kept at their version when the locked packages accept it."""
    notes: list[str] = field(default_factory=list)
    """Pins that differ for this Python (no wheel of the usual release for it)."""

    @property
    def digest(self) -> str:
        """Fingerprint of the locked packages: a folder made from another lock is outdated (so is one that still
        holds triton, made before it was left out); a new torch build or host version does not make it so."""
        specs = [entry.spec for entry in self.lock.packages.values()] if self.lock else [pin.spec for pin in self.pins]
        return fingerprint(specs)

    def require_lock(self) -> Lock:
        if self.lock is None:
            raise InstallError(self.lock_problem)
        return self.lock

    def summary(self) -> str:
        torch = f"torch {self.torch.name} build ({self.torch.reason})" if self.torch else "no torch"
        kept = ", ".join(choice.describe() for choice in self.hosts)
        changed = "".join(f"; {note}" for note in self.notes)
        lock = f"lock {self.lock.tag}" if self.lock else "no lock for this Python and platform"
        return f"Python {self.python}; {lock}; {torch}; {kept}{changed}; into {self.folder}"


def make_plan(folder: Path, torch_request: str = "auto", pins: list[Pin] | None = None,
              index_args: list[str] | None = None, env: dict[str, str] | None = None, plugin_version: str = "",
              python: str | None = None, driver: str | None = None, hosts: list[HostChoice] | None = None,
              python_version: tuple[int, int] | None = None, lock: Lock | None = None) -> InstallPlan:
    """The plan for this machine: its Python and platform (for the lock), its NVIDIA driver (for torch), its own
    numpy/pyproj/scipy."""
    python_version = python_version or this_python()
    for_python = pins_for_python(read_pins() if pins is None else pins, python_version)
    torch_pin = next((pin for pin in for_python.pins if pin.name == "torch"), None)
    torch = None
    if torch_pin is not None:
        torch = choose_torch_variant(torch_pin.version, torch_request, driver=nvidia_driver() if driver is None else driver)
    problem = ""
    if lock is None:
        try:
            lock = load_lock(python_version)
        except InstallError as error:
            problem = error.message
    return InstallPlan(
        python=python or interpreter_for_pip(), folder=Path(folder), pins=for_python.pins, torch=torch,
        hosts=host_choices(exclude=Path(folder)) if hosts is None else hosts, lock=lock, lock_problem=problem,
        index_args=list(index_args or []), env=dict(env or {}), plugin_version=plugin_version,
        loaded=loaded_distributions(exclude=Path(folder)), notes=for_python.notes,
    )


@dataclass(frozen=True)
class LockedRun:
    """One pip run: the locked entries it installs, and the index options naming the one index they come from."""

    what: str
    entries: tuple[LockEntry, ...]
    index_args: tuple[str, ...]
    env: dict[str, str | None] = field(default_factory=dict)

    def keeping(self, names: set[str]) -> LockedRun:
        """This run with only the entries whose (normalised) names are in ``names``."""
        return LockedRun(self.what, tuple(e for e in self.entries if normalised(e.name) in names), self.index_args,
                         self.env)

    def requirements_file(self, folder: Path) -> Path:
        """The run's entries as a pip requirements file in hash-checking mode, in ``folder``."""
        path = Path(folder) / f"{self.what.replace(' ', '-')}.txt"
        path.write_text("".join(entry.line + "\n" for entry in self.entries), encoding="utf-8")
        return path


@dataclass
class Resolution:
    """The exact distributions to install, by pip run, and what downloading them costs."""

    packages: dict[str, str]
    runs: list[LockedRun]
    download_bytes: int | None
    notes: list[str] = field(default_factory=list)
    torch_build: str | None = None
    """The torch build this resolution installs: the plan's, or the configured index's when the plan's index failed."""

    def describe(self) -> str:
        size = f"about {self.download_bytes / 1e6:,.0f} MB to download" if self.download_bytes else "size unknown"
        return f"{len(self.packages)} packages, {size}"


def _torch_run(plan: InstallPlan, lock: Lock) -> tuple[LockedRun | None, str, str]:
    """torch's run, and why it is not the plan's build from its own index, in a sentence and in short ('' when it is).

    The plan's build comes from its own index, alone, when the lock has it and the index
    answers; else the lock's torch from the configured index (a wheel folder given with
    ``--no-index`` stands for every index)."""
    if plan.torch is None:
        return None, "", ""
    url, own, pypi = plan.torch.index_url, lock.torch.get(plan.torch.source), lock.torch.get(PYPI_SOURCE)
    why = short = ""
    if url is not None and "--no-index" not in plan.index_args:
        if own is not None and _reachable(url + "/"):
            return LockedRun("torch", tuple(own.values()), ("--index-url", url), ONLY_THE_NAMED_INDEX), "", ""
        if own is not None:
            why, short = f"The torch {plan.torch.name.upper()} index ({url}) does not answer", "index unreachable"
        else:
            why, short = f"Calliper has no lock of torch from {url} for {lock.tag}", "not locked"
        own = None
    part = own if own is not None else pypi
    if part is None:
        raise InstallError(f"The lock for {lock.tag} has no torch {plan.torch.name.upper()} build to install.")
    return LockedRun("torch", tuple(part.values()), tuple(plan.index_args)), why, short


def _fallback_build(packages: dict[str, str]) -> str:
    """The torch build the configured index gave: CUDA when its CUDA libraries came with it (PyPI's Linux torch),
    else CPU (PyPI's Windows torch, or a mirror that serves ``+cpu`` wheels)."""
    return "cuda" if any(normalised(name).startswith(CUDA_PARTS) for name in packages) else "cpu"


def _fallback_note(plan: InstallPlan, why: str, packages: dict[str, str], sizes: list[int | None]) -> str:
    """What torch from the configured index costs, said before anything is installed."""
    torch_bytes = sum(size or 0 for name, size in zip(packages, sizes) if is_torch_part(name))
    size = f"{torch_bytes / 1e6:,.0f} MB with its libraries"
    got = _fallback_build(packages)
    if got == plan.torch.name:
        build = f"the {got.upper()} build as well: {size}"
    elif got == "cuda":
        build = f"the CUDA build: {size}, against about {CPU_TORCH_MB} MB for the CPU build; it works on the CPU"
    else:
        build = f"the CPU build: {size}; it does not use the GPU"
    torch = next((version for name, version in packages.items() if normalised(name) == "torch"), "")
    return (f"{why}: torch {torch} comes from the configured package index instead, locked and hash-checked "
            f"like the rest, {build}. Install goes ahead with it; Cancel stops, and the torch build can be chosen above.")


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


def _dry_run(plan: InstallPlan, control: JobControl, run: LockedRun) -> list[dict]:
    """pip's report of what one run would install (what QGIS's Python has at the locked version is left out)."""
    with tempfile.TemporaryDirectory(prefix="calliper-resolve-") as scratch:
        report = Path(scratch) / "report.json"
        command = [plan.python, "-m", "pip", "install", "--dry-run", "--report", str(report), *PIP_OPTIONS,
                   *run.index_args, "-r", str(run.requirements_file(Path(scratch)))]
        control.log("Resolving: " + " ".join(command))
        run_pip(command, control, "Working out the packages to install", {**plan.env, **run.env})
        return json.loads(report.read_text(encoding="utf-8")).get("install", [])


def _requirements(texts: list[str] | tuple[str, ...] | None) -> list[Requirement]:
    """The requirements among ``texts`` that hold for this Python and platform (extras left out)."""
    requirements = [Requirement(text) for text in texts or ()]
    return [req for req in requirements if req.marker is None or req.marker.evaluate({"extra": ""})]


def _unmet(requirer: str, requires: list[Requirement], have: dict[str, str]) -> list[tuple[str, Requirement]]:
    """The requirements that the versions in ``have`` do not meet (left-out distributions aside)."""
    return [(requirer, req) for req in requires if normalised(req.name) not in LEFT_OUT and (
        normalised(req.name) not in have or not req.specifier.contains(have[normalised(req.name)], prereleases=True))]


def _refusal(requirer: str, req: Requirement, have: dict[str, str], lock: Lock) -> InstallError:
    name = normalised(req.name)
    if name in have:
        return InstallError(f"{requirer} needs {req}, and QGIS's Python has {req.name} {have[name]}, which the "
                            f"lock for {lock.tag} does not replace: the install is refused.")
    return InstallError(f"{requirer} needs {req.name}, which is not in the lock for {lock.tag}: the install is refused "
                        "(nothing that is not locked is installed). The locks need remaking: scripts/make_locks.py.")


def _settle(proposed: dict[str, dict], held: dict[str, HostDistribution], installed: dict[str, HostDistribution],
            lock: Lock) -> list[str]:
    """Let go of each held distribution that a locked package cannot live with (so the lock's is installed);
    returns the names let go. A requirement that neither the lock nor QGIS's Python meets refuses the install."""
    released = []
    while True:
        have = {name: dist.version for name, dist in installed.items()}
        have |= {name: item["metadata"]["version"] for name, item in proposed.items() if name not in held}
        have |= {name: dist.version for name, dist in held.items()}
        unmet = [problem for name, item in proposed.items() if name not in held for problem in _unmet(
            f"{item['metadata']['name']} {item['metadata']['version']}",
            _requirements(item["metadata"].get("requires_dist")), have)]
        unmet += [problem for name, dist in held.items() for problem in _unmet(name, _requirements(dist.requires), have)]
        if not unmet:
            return released
        let_go = {name for requirer, req in unmet for name in (normalised(req.name), normalised(requirer.split()[0]))
                  if name in held}
        if not let_go:
            raise _refusal(*unmet[0], have, lock)
        released += sorted(let_go)
        for name in let_go:
            del held[name]


def resolve(plan: InstallPlan, control: JobControl | None = None) -> Resolution:
    """Dry runs of the lock's lines against QGIS's Python: what to install (what the host has is left out), checked.

    Distributions QGIS has loaded already are held at their version, so that the install
    can be used at once; one a locked package cannot live with is let go (QGIS then restarts).
    """
    control = control or JobControl()
    lock = plan.require_lock()
    notes: list[str] = []
    kept = {normalised(choice.package.name) for choice in plan.hosts if choice.kept}
    shadowing = sorted(entry.name for name, entry in lock.packages.items() if name in kept)
    if shadowing:  # the host's own copy stays; a second numpy or PROJ in QGIS's process breaks it
        notes.append("Kept QGIS's own " + ", ".join(shadowing) + ".")
    entries = [entry for name, entry in lock.packages.items() if name not in kept]
    for choice in plan.hosts:
        if not choice.kept:
            entry = lock.host.get(normalised(choice.package.name))
            if entry is None:
                raise InstallError(f"QGIS's Python has no {choice.package.name}, and the lock for {lock.tag} holds no "
                                   f"release of it to install.")
            entries.append(entry)
    runs = [LockedRun("the packages", tuple(entries), tuple(plan.index_args))]
    torch_run, fell_back, short = _torch_run(plan, lock)
    runs += [torch_run] if torch_run else []
    reports = [(run, _dry_run(plan, control, run)) for run in runs if run.entries]
    proposed = {}
    for run, items in reports:
        locked = {(normalised(entry.name), entry.version) for entry in run.entries}
        for item in items:
            name, version = normalised(item["metadata"]["name"]), item["metadata"]["version"]
            if (name, version) not in locked:
                raise InstallError(f"pip proposes {item['metadata']['name']} {version}, which is not in the lock "
                                   f"for {lock.tag}: the install is refused.")
            proposed[name] = item
    left_out = sorted({req.name for item in proposed.values() for req in _requirements(
        item["metadata"].get("requires_dist")) if normalised(req.name) in LEFT_OUT})
    if left_out:
        control.log(f"Left out {', '.join(left_out)}: torch runs without it, and its own LLVM crashes QGIS.")
    installed = host_distributions(exclude=plan.folder) | {
        normalised(choice.package.name): HostDistribution(choice.host_version, ()) for choice in plan.hosts if choice.kept}
    loaded = {normalised(name) for name in plan.loaded}
    held = {name: installed[name] for name in proposed if name in loaded and name in installed
            and name not in kept and not is_torch_part(name)}
    released = _settle(proposed, held, installed, lock)
    if released:
        notes.append(f"QGIS has loaded a version of {', '.join(released)} that the locked packages do not allow; "
                     "if Calliper uses it, the dock asks for a restart after the install.")
    chosen = {name: item for name, item in proposed.items() if name not in held}
    packages = {item["metadata"]["name"]: item["metadata"]["version"] for item in chosen.values()}
    urls = [item.get("download_info", {}).get("url", "") for item in chosen.values()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(_size, urls))
    total = sum(size for size in sizes if size) if any(sizes) else None
    torch_build = plan.torch.name if plan.torch else None
    if fell_back:
        notes.insert(0, _fallback_note(plan, fell_back, packages, sizes))
        torch_build = f"{_fallback_build(packages)}, from the package index ({plan.torch.name} {short})"
    for note in notes:
        control.log(note)
    return Resolution(packages, [run.keeping(set(chosen)) for run in runs if run.keeping(set(chosen)).entries],
                      total, notes, torch_build)


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
        with tempfile.TemporaryDirectory(prefix="calliper-install-") as scratch:
            for run in resolution.runs:
                command = [plan.python, "-m", "pip", "install", "--target", str(staging), *PIP_OPTIONS,
                           "--no-warn-script-location", *run.index_args, "-r", str(run.requirements_file(Path(scratch)))]
                control.log("Installing: " + " ".join(command))
                run_pip(command, control, f"Installing {run.what}", {**plan.env, **run.env}, on_line=progress)
        marker = {
            "plugin_version": plan.plugin_version, "digest": plan.digest, "installed": datetime.now(timezone.utc)
            .isoformat(timespec="seconds"), "python": platform.python_version(), "platform": sys.platform,
            "torch": resolution.torch_build, "packages": resolution.packages,
            "host_kept": {c.package.name: c.host_version for c in plan.hosts if c.kept}, "lock": plan.lock.tag,
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

