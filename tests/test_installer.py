"""The package installer's core, with real pip runs against local wheel folders (no network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from calliper.core.errors import (
    CancelledError,
    DiskFullError,
    InstallError,
    RegistryUnreachableError,
    TamperedDownloadError,
)
from calliper.core.install.folder import (
    MARKER_FILE,
    REPLACED_PREFIX,
    STAGING_PREFIX,
    activate,
    dependency_folder,
    folder_state,
    remove_leftovers,
)
from calliper.core.install.host import HOST_PACKAGES, HostChoice, HostPackage, host_choices
from calliper.core.install import locks
from calliper.core.install.locks import Lock, LockEntry, load_lock
from calliper.core.install.pins import PYTHONS, Pin, Release, fingerprint, nearest_release, pins_for_python, read_pins
from calliper.core.install.pip_process import pip_environment
from calliper.core.install.plan import install, make_plan, resolve
from calliper.core.install.torch_variant import TorchVariant, choose_torch_variant
from calliper.core.jobs import JobControl
from fake_wheels import (
    ISOLATED_PIP,
    fake_lock,
    local_index_args,
    locked,
    make_simple_index,
    make_wheel,
    serve_folder,
)

NUMPY = next(package for package in HOST_PACKAGES if package.name == "numpy")


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    make_wheel(folder, "calliper-fake-a", "1.0", requires=("calliper-fake-b>=1", "numpy>=1.0"))
    make_wheel(folder, "calliper-fake-b", "1.0")
    make_wheel(folder, "calliper-fake-a", "2.0", requires=("calliper-fake-b>=1",))
    return folder


def fake_plan(folder: Path, wheels: Path, pins: list[str], lock: Lock | None = None, **options):
    return make_plan(folder, pins=[Pin(*spec.split("==")) for spec in pins], index_args=local_index_args(wheels),
                     env=ISOLATED_PIP, python=sys.executable, driver="", hosts=host_choices(folder, (NUMPY,)),
                     plugin_version="9.9", lock=lock or fake_lock(wheels, pins), **options)


def commands(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("Resolving: ", "Installing: "))]


def logged_control(lines: list[str], cancel_after: int | None = None) -> JobControl:
    return JobControl(log=lines.append, is_cancelled=lambda: cancel_after is not None and len(lines) > cancel_after)


def test_the_dependency_folder_is_the_profiles_and_goes_first_on_sys_path(tmp_path, monkeypatch):
    folder = dependency_folder(tmp_path / "profiles" / "default")
    assert folder == tmp_path / "profiles" / "default" / "python" / "dependencies" / "calliper"
    monkeypatch.setattr(sys, "path", ["/usr/lib/python3/dist-packages", str(folder)])
    assert not activate(tmp_path / "absent")
    folder.mkdir(parents=True)
    assert activate(folder) and activate(folder)
    assert sys.path == [str(folder), "/usr/lib/python3/dist-packages"]  # first, and only once


def test_torch_build_follows_the_nvidia_driver_and_can_be_chosen_by_hand():
    cpu = choose_torch_variant("2.13.0", "auto", "linux", driver=None)
    assert (cpu.name, cpu.spec, cpu.index_url) == ("cpu", "torch==2.13.0+cpu", "https://download.pytorch.org/whl/cpu")
    assert "no NVIDIA driver" in cpu.reason
    cuda = choose_torch_variant("2.13.0", "auto", "linux", driver="/proc/driver/nvidia/version")
    assert (cuda.name, cuda.spec, cuda.index_url) == ("cuda", "torch==2.13.0", None) and "NVIDIA" in cuda.reason
    assert choose_torch_variant("2.13.0", "cpu", "linux", driver="/proc/driver/nvidia/version").name == "cpu"
    windows = choose_torch_variant("2.13.0", "cuda", "win32")
    assert windows.spec == "torch==2.13.0+cu126" and windows.index_url.endswith("/cu126")
    assert choose_torch_variant("2.13.0", "auto", "win32").spec == "torch==2.13.0"  # PyPI's Windows wheel is CPU
    assert choose_torch_variant("2.13.0", "auto", "darwin", driver="x").spec == "torch==2.13.0"
    with pytest.raises(Exception, match="no CUDA build of torch for macOS"):
        choose_torch_variant("2.13.0", "cuda", "darwin")
    with pytest.raises(Exception, match="one of auto, cpu, cuda"):
        choose_torch_variant("2.13.0", "rocm", "linux")


def test_host_packages_are_kept_at_their_own_version_whatever_the_major_or_a_fallback_is_pinned():
    debian12, debian13 = HostChoice(NUMPY, "1.24.2", (3, 11)), HostChoice(NUMPY, "2.2.4", (3, 13))
    assert debian12.kept and debian12.constraint == "numpy==1.24.2" and "QGIS's own" in debian12.describe()
    assert debian13.kept and debian13.constraint == "numpy==2.2.4" and "QGIS's own" in debian13.describe()
    too_old = HostChoice(NUMPY, "1.21.5", (3, 10))  # Ubuntu 22.04's
    assert not too_old.kept and too_old.constraint == "numpy==1.26.4" and "outside >=1.24" in too_old.describe()
    absent = HostChoice(NUMPY, None, (3, 12))
    assert not absent.kept and absent.constraint == "numpy==1.26.4" and "has none" in absent.describe()
    import numpy

    assert host_choices(None, (NUMPY,))[0].host_version == numpy.__version__


def test_a_fallback_without_a_wheel_for_this_python_becomes_its_nearest_release_that_has_one_and_says_so():
    absent = HostChoice(NUMPY, None, (3, 13))  # numpy 1.26.4 has no wheel for Python 3.13
    assert absent.constraint == "numpy==2.1.3"
    assert absent.describe() == "numpy 2.1.3 (QGIS has none; 1.26.4 has no wheel for Python 3.13)"
    for package in HOST_PACKAGES:  # every Python QGIS ships gets a release the table gives a wheel for
        for python in PYTHONS:
            choice = HostChoice(package, None, (3, python))
            assert choice.fallback and nearest_release(choice.fallback, package.releases, (3, python)).has_wheel(
                (3, python)), (package.name, python)
    nowhere = HostPackage("calliper-fake-b", ">=2", "1.0", (Release("1.0", (9, 11)),))
    assert HostChoice(nowhere, None, (3, 13)).constraint == "calliper-fake-b>=2"
    assert "no release in the table has a wheel for Python 3.13" in HostChoice(nowhere, None, (3, 13)).describe()


def test_nearest_release_prefers_the_pin_then_the_closest_release_and_on_a_tie_the_newer():
    table = (Release("1.0", (8, 10)), Release("2.0", (11, 12)), Release("3.0", (9, 13)), Release("4.0", (11, 13)))
    assert nearest_release("2.0", table, (3, 12)).version == "2.0"
    assert nearest_release("2.0", table, (3, 10)).version == "3.0"  # 1.0 and 3.0 are equally near: the newer
    assert nearest_release("4.0", table, (3, 10)).version == "3.0"
    assert nearest_release("1.0", table, (3, 13)).version == "3.0"
    assert nearest_release("4.0", table, (4, 0)) is None
    assert nearest_release("9.9", table, (3, 10)).version == "9.9"  # not in the table: wheels everywhere


def test_pins_without_a_wheel_for_some_pythons_have_a_line_for_those_and_the_plan_says_which(tmp_path):
    pins = read_pins()
    newest = pins_for_python(pins, (3, 13))
    assert not newest.notes and {pin.name for pin in newest.pins} == {pin.name for pin in pins}
    assert pins_for_python(pins, (3, 14)).notes == ["pandas 2.3.3 for Python 3.14 (2.2.3 has no wheel for it)"]
    older = pins_for_python(pins, (3, 10))
    assert {pin.name: pin.version for pin in older.pins}["scikit-learn"] == "1.7.2"
    assert "transformers 5.20.2 for Python 3.10 (5.23.0 has no wheel for it)" in older.notes
    plan = make_plan(tmp_path, "cpu", python=sys.executable, driver="", hosts=[], python_version=(3, 10))
    assert plan.lock.tag.startswith("3.10-") and "scikit-learn 1.7.2 for Python 3.10" in plan.summary()
    assert plan.lock.packages["scikit-learn"].version == "1.7.2"


def test_a_python_without_a_lock_is_told_which_locks_exist_when_install_is_asked_for(tmp_path, monkeypatch):
    plan = make_plan(tmp_path, "cpu", python=sys.executable, driver="", hosts=[], python_version=(3, 99))
    assert plan.lock is None and "no lock for this Python" in plan.summary()
    with pytest.raises(InstallError, match=r"no package lock for Python 3\.99 on .*Locks exist for: 3\.10-linux-x86_64, ") as error:
        resolve(plan)
    assert "3.14-windows-amd64" in error.value.message and "3.14-macos-arm64" in error.value.message
    monkeypatch.setattr(locks.platform_module, "machine", lambda: "aarch64")  # a Linux on ARM: no lock made for it
    with pytest.raises(InstallError, match=r"no package lock for Python 3\.13 on linux aarch64\b"):
        load_lock((3, 13))


def test_the_pins_file_pins_every_package_once_per_python_and_leaves_numpy_pyproj_scipy_to_qgis():
    for python in PYTHONS:
        names = [pin.name for pin in pins_for_python(read_pins(), (3, python)).pins]
        assert len(names) == len(set(names)) > 10 and "torch" in names and "rasterio" in names
    assert not {"numpy", "pyproj", "scipy"} & {pin.name for pin in read_pins()}
    assert all(pin.version for pin in read_pins())


def test_install_from_a_local_index_writes_only_the_target_keeps_host_numpy_and_marks_it_complete(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    plan = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    lines: list[str] = []
    resolution = resolve(plan, logged_control(lines))
    assert resolution.packages == {"calliper-fake-a": "1.0", "calliper-fake-b": "1.0"}  # numpy: QGIS's own
    assert resolution.download_bytes == sum(w.stat().st_size for w in wheels.glob("calliper_fake_*-1.0-*.whl"))
    marker = install(plan, resolution, logged_control(lines))
    run = commands(lines)
    assert len(run) == 2 and all("--user" not in c and "--prefix" not in c for c in run)
    assert f"--target {folder.parent / STAGING_PREFIX}" in run[1] and "--dry-run" in run[0]
    # wheels only, never a source build; only the lock's lines, each file hash-checked; pip resolves nothing itself
    assert all("--only-binary :all: --no-deps --require-hashes" in command for command in run)
    assert (folder / "calliper_fake_a" / "__init__.py").is_file() and not list(folder.glob("numpy*"))
    assert [p.name for p in folder.parent.iterdir()] == ["calliper"]  # no staging folder left
    assert json.loads((folder / MARKER_FILE).read_text()) == marker
    assert marker["digest"] == plan.digest and marker["host_kept"]["numpy"] and marker["plugin_version"] == "9.9"
    assert folder_state(folder, plan.digest).status == "complete"
    found = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(folder)!r}); "
                            "import calliper_fake_a, calliper_fake_b; print(calliper_fake_a.VERSION)"],
                           capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "1.0"


def test_a_folder_made_from_other_pins_is_offered_as_an_upgrade_and_replaced_whole(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    old = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    install(old, resolve(old))
    new = fake_plan(folder, wheels, ["calliper-fake-a==2.0"])
    state = folder_state(folder, new.digest)
    assert state.status == "outdated" and "9.9" in state.message and "Upgrade" in state.message
    install(new, resolve(new))
    assert folder_state(folder, new.digest).status == "complete"
    assert "2.0" in (folder / "calliper_fake_a" / "__init__.py").read_text()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["calliper"]  # the old install is gone
    (folder / MARKER_FILE).unlink()
    assert folder_state(folder, new.digest).status == "outdated"  # no marker: made by hand or an older plugin


def test_an_unreachable_index_is_named_and_leaves_nothing(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    plan = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    plan.index_args = ["--index-url", "http://127.0.0.1:9/simple", "--retries", "1", "--timeout", "2"]
    with pytest.raises(RegistryUnreachableError, match="package index could not be reached") as error:
        resolve(plan)
    assert "127.0.0.1" in error.value.more_details
    assert not folder.exists()


def test_a_locked_version_missing_from_the_index_is_named(tmp_path, wheels):
    lock = Lock("3.99-test", {"calliper-fake-a": LockEntry("calliper-fake-a", "3.0", ("0" * 64,))})
    plan = fake_plan(dependency_folder(tmp_path / "p"), wheels, ["calliper-fake-a==3.0"], lock=lock)
    with pytest.raises(InstallError, match="has no calliper-fake-a==3.0"):
        resolve(plan)


def upgrade_of_an_install(tmp_path, wheels):
    """fake-a 1.0 installed, and the plan and resolution of an upgrade to 2.0: (folder, old plan, new plan, resolution)."""
    folder = dependency_folder(tmp_path / "profile")
    old = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    install(old, resolve(old))
    new = fake_plan(folder, wheels, ["calliper-fake-a==2.0"])
    return folder, old, new, resolve(new)


def test_a_tampered_file_stops_the_install_naming_the_package_and_leaves_the_folder_as_it_was(tmp_path, wheels):
    folder, old, new, resolution = upgrade_of_an_install(tmp_path, wheels)
    make_wheel(wheels, "calliper-fake-a", "2.0", payload_bytes=10)  # other bytes under the same name and version
    lines: list[str] = []
    with pytest.raises(TamperedDownloadError, match="the file downloaded for calliper-fake-a 2.0 does not match the "
                       "sha256 hash in Calliper's lock") as error:
        install(new, resolution, logged_control(lines))
    assert "Nothing was installed" in error.value.message and "Expected sha256" in error.value.more_details
    assert folder_state(folder, old.digest).status == "complete"
    assert "1.0" in (folder / "calliper_fake_a" / "__init__.py").read_text()
    assert [p.name for p in folder.parent.iterdir()] == ["calliper"]  # no staging folder left
    with pytest.raises(TamperedDownloadError, match="calliper-fake-a 2.0"):  # the check step already says it
        resolve(new)


def test_a_dependency_the_lock_lacks_refuses_the_install_and_so_does_one_qgis_cannot_meet(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    lock = Lock("3.99-test", locked(list(wheels.glob("calliper_fake_a-1.0-*.whl"))))  # fake-a 1.0 needs fake-b
    with pytest.raises(InstallError, match=r"calliper-fake-a 1\.0 needs calliper-fake-b, which is not in the lock "
                       r"for 3\.99-test: the install is refused"):
        resolve(fake_plan(folder, wheels, ["calliper-fake-a==1.0"], lock=lock))
    make_wheel(wheels, "calliper-fake-c", "1.0", requires=("numpy>=99",))
    with pytest.raises(InstallError, match=r"calliper-fake-c 1\.0 needs numpy>=99, and QGIS's Python has numpy "):
        resolve(fake_plan(folder, wheels, ["calliper-fake-c==1.0"]))
    assert not folder.exists()


def test_cancel_stops_pip_and_keeps_the_previous_install(tmp_path, wheels):
    folder, old, new, resolution = upgrade_of_an_install(tmp_path, wheels)
    lines: list[str] = []
    with pytest.raises(CancelledError, match="Installing the packages was cancelled"):
        install(new, resolution, logged_control(lines, cancel_after=1))
    assert "1.0" in (folder / "calliper_fake_a" / "__init__.py").read_text()
    assert folder_state(folder, old.digest).status == "complete"
    assert [p.name for p in folder.parent.iterdir()] == ["calliper"]


def test_a_full_disk_stops_the_install_with_its_message_and_keeps_the_previous_one(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    old = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    install(old, resolve(old))
    make_wheel(wheels, "calliper-fake-big", "1.0", payload_bytes=3_000_000)
    script = textwrap.dedent(f"""
        import json, resource, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_installer import fake_plan
        from calliper.core.install.plan import install, resolve
        from pathlib import Path
        plan = fake_plan(Path({str(folder)!r}), Path({str(wheels)!r}), ["calliper-fake-big==1.0"])
        resolution = resolve(plan)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))  # pip inherits it
        try:
            install(plan, resolution)
        except Exception as error:
            print(json.dumps([type(error).__name__, error.message]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    kind, message = json.loads(done.stdout.strip().splitlines()[-1])
    assert kind == DiskFullError.__name__ and "disk is full" in message
    assert folder_state(folder, old.digest).status == "complete" and not (folder / "calliper_fake_big").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["calliper"]


def test_leftovers_of_a_killed_install_go_at_the_next_start_but_a_running_one_stays(tmp_path):
    parent = tmp_path / "dependencies"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"{STAGING_PREFIX}1-{dead.pid}", f"{REPLACED_PREFIX}2", f"{STAGING_PREFIX}3-{os.getpid()}", "calliper"):
        (parent / name / "pkg").mkdir(parents=True)
    removed = remove_leftovers(parent)
    assert sorted(p.name for p in removed) == sorted([f"{STAGING_PREFIX}1-{dead.pid}", f"{REPLACED_PREFIX}2"])
    assert sorted(p.name for p in parent.iterdir()) == sorted(["calliper", f"{STAGING_PREFIX}3-{os.getpid()}"])


def test_a_leftover_whose_name_no_install_made_is_left_alone_and_the_plugin_still_loads(tmp_path):
    parent = tmp_path / "dependencies"
    for name in (f"{STAGING_PREFIX}copy", f"{STAGING_PREFIX}1-x", "calliper"):
        (parent / name / "pkg").mkdir(parents=True)
    assert remove_leftovers(parent) == []
    assert sorted(p.name for p in parent.iterdir()) == sorted([f"{STAGING_PREFIX}copy", f"{STAGING_PREFIX}1-x", "calliper"])


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def test_an_install_killed_between_its_two_renames_keeps_an_installed_folder(tmp_path):
    parent = tmp_path / "dependencies"
    old = parent / f"{REPLACED_PREFIX}1"  # the old install moved aside; the kill came before the new one moved in
    (old / "pkg").mkdir(parents=True)
    (old / MARKER_FILE).write_text('{"digest": "old"}')
    remove_leftovers(parent)
    assert json.loads((parent / "calliper" / MARKER_FILE).read_text())["digest"] == "old"
    new = parent / f"{STAGING_PREFIX}2-{_dead_pid()}"  # the new one was complete (its marker written): it goes in
    (new / "pkg").mkdir(parents=True)
    (new / MARKER_FILE).write_text('{"digest": "new"}')
    (parent / "calliper").rename(parent / f"{REPLACED_PREFIX}3")
    remove_leftovers(parent)
    assert json.loads((parent / "calliper" / MARKER_FILE).read_text())["digest"] == "new"
    assert [p.name for p in parent.iterdir()] == ["calliper"]


def test_two_installs_into_one_profile_never_run_at_once(tmp_path, wheels):
    from calliper.core.install.folder import install_lock

    folder = dependency_folder(tmp_path / "profile")
    plan = fake_plan(folder, wheels, ["calliper-fake-b==1.0"])
    resolution = resolve(plan)
    with install_lock(folder):  # another QGIS window's install, still running
        with pytest.raises(InstallError, match="Another QGIS window is installing"):
            install(plan, resolution)
        stale = folder.parent / f"{STAGING_PREFIX}1-{_dead_pid()}"
        stale.mkdir()
        assert remove_leftovers(folder.parent) == [] and stale.exists()  # not tidied under a live install
    assert not folder.exists()
    install(plan, resolution)
    assert folder_state(folder, plan.digest).status == "complete"


def test_pip_never_imports_a_pip_folder_from_qgiss_working_folder(tmp_path, monkeypatch):
    from calliper.core.install.pip_process import run_pip

    planted = tmp_path / "project"
    (planted / "pip").mkdir(parents=True)
    (planted / "pip" / "__init__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    (planted / "pip" / "__main__.py").write_text("print('not pip')\n")
    monkeypatch.chdir(planted)
    monkeypatch.setenv("PYTHONPATH", str(planted))
    lines: list[str] = []
    run = run_pip([sys.executable, "-m", "pip", "--version"], logged_control(lines), "Checking pip")
    assert run.command[1] == "-I" and run.lines[0].startswith("pip ") and not (tmp_path / "ran").exists()


def test_a_module_already_imported_from_elsewhere_is_named_as_needing_a_restart(tmp_path):
    from calliper.core.install.folder import shadowed_imports

    for name in ("json", "calliper_fake_never_imported"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "json-1.0.dist-info").mkdir()
    assert shadowed_imports(tmp_path) == ["json"]  # the stdlib's json is loaded; the new copy needs a restart


def test_a_namespace_package_imported_from_the_folder_itself_needs_no_restart(tmp_path, monkeypatch):
    from calliper.core.install.folder import shadowed_imports

    (tmp_path / "calliper_fake_namespace" / "bindings").mkdir(parents=True)  # like cuda-bindings: no __init__.py
    (tmp_path / "calliper_fake_namespace" / "bindings" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import calliper_fake_namespace.bindings  # noqa: F401

    assert sys.modules["calliper_fake_namespace"].__file__ is None
    assert shadowed_imports(tmp_path) == []
    monkeypatch.setattr(sys.modules["calliper_fake_namespace"], "__path__", ["/elsewhere/calliper_fake_namespace"])
    assert shadowed_imports(tmp_path) == ["calliper_fake_namespace"]  # the same name from another folder


def test_pip_runs_with_this_interpreter_not_the_first_python3_on_path(monkeypatch):
    from calliper.core.dependencies import interpreter_for_pip

    own = interpreter_for_pip()
    assert own == os.path.abspath(sys.executable)  # under pytest: the venv's python itself
    monkeypatch.setattr(sys, "executable", "/root/.pyenv/shims/python3")  # what QGIS reports when PATH has pyenv
    monkeypatch.setattr(sys, "exec_prefix", "/usr")
    assert interpreter_for_pip() == f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setattr(sys, "executable", "/usr/bin/qgis")
    assert interpreter_for_pip().startswith("/usr/bin/python3")


def test_a_host_package_the_resolver_wants_again_is_left_out_with_a_note(tmp_path, wheels):
    folder = dependency_folder(tmp_path / "profile")
    plan = fake_plan(folder, wheels, ["calliper-fake-a==1.0"])
    plan.hosts = [HostChoice(HostPackage("calliper-fake-b", ">=1", "1.0"), "1.0")]  # pretend QGIS has fake-b
    resolution = resolve(plan)
    assert resolution.packages == {"calliper-fake-a": "1.0"}
    assert any("Kept QGIS's own calliper-fake-b" in note for note in resolution.notes)


def test_a_loaded_distribution_without_top_level_or_record_is_found_by_its_name(tmp_path, monkeypatch):
    from calliper.core.install.host import loaded_distributions

    (tmp_path / "calliper_fake_c").mkdir()
    (tmp_path / "calliper_fake_c" / "__init__.py").write_text("")
    (tmp_path / "calliper_fake_c-1.0.dist-info").mkdir()  # as Debian 13 ships python3-idna: METADATA, no RECORD
    (tmp_path / "calliper_fake_c-1.0.dist-info" / "METADATA").write_text("Name: calliper-fake-c\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "calliper-fake-c" not in loaded_distributions()
    monkeypatch.setitem(sys.modules, "calliper_fake_c", __import__("calliper_fake_c"))
    assert loaded_distributions()["calliper-fake-c"] == "1.0"
    assert "calliper-fake-c" not in loaded_distributions(exclude=tmp_path)
    (tmp_path / "calliper_fake_d-1.0.dist-info").mkdir()  # like setuptools: only its private shim is imported
    (tmp_path / "calliper_fake_d-1.0.dist-info" / "METADATA").write_text("Name: calliper-fake-d\nVersion: 1.0\n")
    (tmp_path / "calliper_fake_d-1.0.dist-info" / "top_level.txt").write_text("_calliper_fake_shim\ncalliper_fake_d\n")
    monkeypatch.setitem(sys.modules, "_calliper_fake_shim", sys)
    assert "calliper-fake-d" not in loaded_distributions()


def host_dist(folder: Path, name: str, version: str) -> None:
    """A distribution installed in QGIS's Python (a dist-info in a folder on sys.path), as Debian ships python3-*."""
    module = name.replace("-", "_")
    (folder / module).mkdir(parents=True, exist_ok=True)
    (folder / module / "__init__.py").write_text(f"VERSION = {version!r}\n")
    (folder / f"{module}-{version}.dist-info").mkdir()
    (folder / f"{module}-{version}.dist-info" / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")


def test_packages_qgis_has_loaded_are_kept_at_their_version_unless_a_locked_package_needs_newer(
        tmp_path, wheels, monkeypatch):
    make_wheel(wheels, "calliper-fake-b", "2.0")
    folder = dependency_folder(tmp_path / "profile")
    plan = fake_plan(folder, wheels, ["calliper-fake-a==2.0"])
    plan.loaded = {}
    assert resolve(plan).packages["calliper-fake-b"] == "2.0"  # the lock's, when nothing is loaded
    host_dist(tmp_path / "host", "calliper-fake-b", "1.0")
    monkeypatch.syspath_prepend(str(tmp_path / "host"))
    plan.loaded = {"calliper-fake-b": "1.0"}
    held = resolve(plan)
    assert held.packages == {"calliper-fake-a": "2.0"} and not held.notes  # QGIS's fake-b 1.0 stays: no restart
    assert [entry.name for run in held.runs for entry in run.entries] == ["calliper-fake-a"]
    host_dist(tmp_path / "old", "calliper-fake-b", "0.5")  # loaded, but fake-a needs fake-b >= 1
    monkeypatch.syspath_prepend(str(tmp_path / "old"))
    plan.loaded = {"calliper-fake-b": "0.5"}
    released = resolve(plan)
    assert released.packages["calliper-fake-b"] == "2.0"
    assert any("version of calliper-fake-b that the locked packages do not allow" in note for note in released.notes)


def pypi_torch(folder: Path, requires: tuple[str, ...] = (), payload_bytes: int = 0) -> list[Path]:
    """Wheels of a torch 1.0 shaped like PyPI's Linux one: it requires its CUDA libraries (``nvidia-*``)."""
    return [make_wheel(folder, "torch", "1.0", requires=("nvidia-fake-cublas==1.0", *requires), payload_bytes=payload_bytes),
            make_wheel(folder, "nvidia-fake-cublas", "1.0")]


@pytest.fixture
def torch_indexes(tmp_path):
    """A configured index with a plain ``torch`` 1.0 that brings a CUDA library (PyPI's Linux kind), a served CPU index
    with ``torch`` 1.0+cpu, and the lock of both."""
    pypi = pypi_torch(tmp_path / "w1", payload_bytes=50_000)
    cpu = [make_wheel(tmp_path / "w2", "torch", "1.0+cpu")]
    packages = [make_wheel(tmp_path / "w0", "calliper-fake-b", "1.0")]
    configured = make_simple_index(tmp_path / "configured", pypi + packages)
    make_simple_index(tmp_path / "pytorch" / "cpu", cpu)
    with serve_folder(tmp_path / "pytorch") as url:  # served as PyTorch's is: <index>/cpu, the build's folder
        yield (["--index-url", configured.as_uri()], f"{url}/cpu",
               Lock("3.99-test", locked(packages), {"pypi": locked(pypi), "cpu": locked(cpu)}))


def torch_plan(tmp_path, index_args, cpu_url, lock):
    plan = make_plan(dependency_folder(tmp_path / "profile"), pins=[Pin("torch", "1.0")], index_args=index_args,
                     env=ISOLATED_PIP, python=sys.executable, driver="", hosts=[], lock=lock)
    plan.loaded = {}  # this test process may have imported the real torch, which the fake pins do not allow
    plan.torch = TorchVariant("cpu", "torch==1.0+cpu", cpu_url, "no NVIDIA driver found")
    return plan


def indexes_named(command: str) -> list[str]:
    words = command.split()
    return [words[i + 1] for i, word in enumerate(words) if word in ("--index-url", "--extra-index-url", "--find-links")]


def test_torch_comes_from_the_cpu_index_alone_in_its_own_run_and_no_command_names_two_indexes(
        tmp_path, torch_indexes, monkeypatch):
    index_args, cpu_url, lock = torch_indexes
    plan = torch_plan(tmp_path, index_args, cpu_url, lock)
    lines: list[str] = []
    resolution = resolve(plan, logged_control(lines))
    assert resolution.packages == {"calliper-fake-b": "1.0", "torch": "1.0+cpu"} and not resolution.notes
    assert [run.index_args for run in resolution.runs] == [tuple(index_args), ("--index-url", cpu_url)]
    assert resolution.torch_build == "cpu"
    assert install(plan, resolution, logged_control(lines))["torch"] == "cpu"
    run = commands(lines)
    assert len(run) == 4 and all(len(indexes_named(command)) <= 1 for command in run)  # packages, torch: checked, installed
    assert [indexes_named(command) for command in run] == [[index_args[1]], [cpu_url]] * 2
    assert not any("--extra-index-url" in command for command in run)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://elsewhere.example/simple")  # none added to torch's run
    assert "PIP_EXTRA_INDEX_URL" not in pip_environment(resolution.runs[1].env)
    assert pip_environment(resolution.runs[0].env)["PIP_EXTRA_INDEX_URL"] == "https://elsewhere.example/simple"


def test_an_unanswering_cpu_index_falls_back_to_the_locked_torch_of_the_configured_index_and_says_what_it_costs(
        tmp_path, torch_indexes):
    index_args, _, lock = torch_indexes
    plan = torch_plan(tmp_path, index_args, "http://127.0.0.1:9/whl/cpu", lock)
    lines: list[str] = []
    resolution = resolve(plan, logged_control(lines))
    assert resolution.packages == {"calliper-fake-b": "1.0", "torch": "1.0", "nvidia-fake-cublas": "1.0"}  # no +cpu
    assert [run.index_args for run in resolution.runs] == [tuple(index_args)] * 2
    note = resolution.notes[0]
    assert "127.0.0.1:9/whl/cpu) does not answer" in note and "configured package index" in note
    assert "locked and hash-checked" in note
    assert "the CUDA build: 0 MB with its libraries" in note and "it works on the CPU" in note and "Cancel" in note
    assert note in lines and resolution.torch_build == "cuda, from the package index (cpu index unreachable)"
    marker = install(plan, resolution)
    assert marker["torch"] == resolution.torch_build and (plan.folder / "torch" / "__init__.py").is_file()


def test_a_tampered_torch_from_the_fallback_stops_the_install_too(tmp_path, torch_indexes):
    index_args, _, lock = torch_indexes
    plan = torch_plan(tmp_path, index_args, "http://127.0.0.1:9/whl/cpu", lock)
    resolution = resolve(plan)
    configured = Path(index_args[1].removeprefix("file://"))
    shutil.copy(make_wheel(tmp_path / "evil", "torch", "1.0", payload_bytes=10), configured / "torch")
    with pytest.raises(TamperedDownloadError, match="the file downloaded for torch 1.0 does not match"):
        install(plan, resolution)
    assert not plan.folder.exists() and not list(plan.folder.parent.iterdir())


def test_the_triton_that_pypis_torch_brings_is_left_out_and_a_folder_holding_it_is_offered_an_upgrade(tmp_path):
    """PyPI's Linux torch (the CUDA build, the fallback here) requires triton, whose own LLVM crashed Debian 13's
    QGIS 3.40 beside Mesa's libLLVM 19 when training started (scripts/check_qgis_debian13.sh). The locks leave it out."""
    wheels = pypi_torch(tmp_path / "w", requires=("triton==1.0",))
    configured = make_simple_index(tmp_path / "configured", wheels + [make_wheel(tmp_path / "w", "triton", "1.0")])
    lock = Lock("3.99-test", {}, {"pypi": locked(wheels)})
    plan = torch_plan(tmp_path, ["--index-url", configured.as_uri()], "http://127.0.0.1:9/whl/cpu", lock)
    lines: list[str] = []
    resolution = resolve(plan, logged_control(lines))
    assert set(resolution.packages) == {"torch", "nvidia-fake-cublas"}
    assert resolution.torch_build == "cuda, from the package index (cpu not locked)"  # no lock of PyTorch's index
    assert any(line.startswith("Left out triton:") and "crashes QGIS" in line for line in lines)
    install(plan, resolution)
    assert (plan.folder / "torch" / "__init__.py").is_file() and not list(plan.folder.glob("triton*"))
    assert folder_state(plan.folder, plan.digest).status == "complete"
    marker = json.loads((plan.folder / MARKER_FILE).read_text())
    marker["digest"] = fingerprint(["triton==1.0"])  # as installs made before the locks, triton and all
    (plan.folder / MARKER_FILE).write_text(json.dumps(marker))
    assert folder_state(plan.folder, plan.digest).status == "outdated"  # the dock offers Upgrade


def test_a_configured_index_that_serves_the_cpu_build_is_not_called_cuda(tmp_path):
    """A mirror with ``+cpu`` wheels (a Debian 12 pip configured with a local mirror): the dock said 'the CUDA build:
    192 MB ... against about 200 MB for the CPU build' for what was the CPU build."""
    wheels = [make_wheel(tmp_path / "w", "torch", "1.0+cpu")]
    configured = make_simple_index(tmp_path / "configured", wheels)
    plan = torch_plan(tmp_path, ["--index-url", configured.as_uri()], "http://127.0.0.1:9/whl/cpu",
                      Lock("3.99-test", {}, {"pypi": locked(wheels), "cpu": locked(wheels)}))
    resolution = resolve(plan)
    assert resolution.packages == {"torch": "1.0+cpu"}
    assert "the CPU build as well: 0 MB with its libraries" in resolution.notes[0] and "CUDA" not in resolution.notes[0]
    assert resolution.torch_build == "cpu, from the package index (cpu index unreachable)"
