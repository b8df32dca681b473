"""The dock's installer in a real headless QGIS: it names what is missing, sizes it, installs with one click.

pip runs for real, against a local folder of wheels built here, into a temporary
profile folder; the dock's panels come up after the install without a restart.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from calliper.core.dependencies import Requirement
from calliper.core.install.folder import MARKER_FILE, dependency_folder
from calliper.core.install.host import host_choices
from calliper.core.install.pins import Pin
from calliper.core.install.plan import make_plan
from fake_wheels import ISOLATED_PIP, fake_lock, local_index_args, make_wheel
from test_dock import dispose, wait_for

FAKE = Requirement("calliper_fake_a", "calliper-fake-a==1.0")


@pytest.fixture
def installer_dock(qgis_iface, tmp_path, monkeypatch):
    """A dock whose installer installs calliper-fake-a (missing until installed) from local wheels."""
    import calliper.ui.dock as dock_module
    import calliper.ui.installer_panel as panel_module

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "calliper-fake-a", "1.0", requires=("calliper-fake-b>=1",))
    make_wheel(wheels, "calliper-fake-b", "1.0")
    folder = dependency_folder(tmp_path / "profile")
    index = {"args": local_index_args(wheels)}

    def plan(folder, torch, plugin_version=""):
        return make_plan(folder, torch, pins=[Pin("calliper-fake-a", "1.0")], index_args=index["args"],
                         env=ISOLATED_PIP, python=sys.executable, driver="", hosts=host_choices(folder, ()),
                         plugin_version=plugin_version, lock=fake_lock(wheels, ["calliper-fake-a==1.0"]))

    monkeypatch.setattr(sys, "path", list(sys.path))  # the install puts its folder first; undone after
    monkeypatch.setattr(dock_module, "profile_dependency_folder", lambda: folder)
    monkeypatch.setattr(dock_module, "make_plan", plan)
    monkeypatch.setattr(panel_module, "missing_requirements",
                        lambda: [] if importlib.util.find_spec(FAKE.module) else [FAKE])
    dock = dock_module.CalliperDock(qgis_iface)
    yield dock, folder, index
    dispose(dock)


def test_missing_packages_are_named_with_the_folder_the_size_and_the_torch_build(installer_dock):
    dock, folder, _ = installer_dock
    panel = dock.dependencies
    assert not dock.ensure_panels()  # no tabs while packages are missing
    assert not panel.isHidden() and panel.missing == [FAKE]
    assert "calliper-fake-a==1.0" in panel.message.text() and str(folder) in panel.message.text()
    assert panel.install_button.text() == "Install"
    labels = [panel.torch.itemText(i) for i in range(panel.torch.count())]
    assert labels[0].startswith("Auto: C") and len(labels) == 3 and "CUDA" in labels[2]
    assert wait_for(lambda: panel.task is None and panel.resolution is not None, 60)
    assert panel.resolution.packages == {"calliper-fake-a": "1.0", "calliper-fake-b": "1.0"}
    assert panel.size.text().startswith("2 packages, about 0 MB to download")


def test_install_runs_pip_in_a_task_logs_it_and_brings_the_panels_up_without_a_restart(installer_dock):
    from qgis.core import QgsApplication

    dock, folder, _ = installer_dock
    panel = dock.dependencies
    logged: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: logged.append(message) if tag == "Calliper" else None)
    emitted: list[bool] = []
    panel.installed.connect(emitted.append)
    dock.ensure_panels()
    assert wait_for(lambda: panel.task is None, 60)
    panel.install_button.click()
    assert panel.task is not None and not panel.install_button.isEnabled()  # runs in the background
    assert wait_for(lambda: panel.task is None, 120)
    assert emitted == [False], panel.status.text()
    assert panel.status.text().startswith("Installed 2 packages") and "Restart" not in panel.status.text()
    assert (folder / MARKER_FILE).is_file() and sys.path[0] == str(folder)
    assert dock.tabs is not None and panel.isHidden()  # the dock came up at once
    assert any("Successfully installed calliper-fake-a-1.0 calliper-fake-b-1.0" in line for line in logged)


def test_install_clicked_during_the_package_check_is_queued_and_starts_when_the_check_ends(installer_dock):
    dock, folder, _ = installer_dock
    panel = dock.dependencies
    dock.ensure_panels()
    assert panel.task is not None and panel.resolution is None  # the check runs
    assert panel.status.text() == "checking packages to install…"
    panel.install_button.click()
    assert panel.install_queued and panel.install_button.text() == "Install after the check…"
    assert not panel.install_button.isEnabled() and "the install starts when the check ends" in panel.status.text()
    statuses: list[str] = []
    assert wait_for(lambda: statuses.append(panel.status.text()) or (folder / MARKER_FILE).is_file(), 120)
    assert wait_for(lambda: panel.task is None, 120)
    assert panel.status.text().startswith("Installed 2 packages") and dock.tabs is not None
    assert not panel.install_queued and panel.install_button.text() == "Install"
    assert any(text.startswith("Installing…") for text in statuses)  # what happens now, never the finished check
    assert not any(text.startswith(("checking", "Ready")) for text in statuses[statuses.index(next(
        text for text in statuses if text.startswith("Installing…"))):])


def test_after_the_check_the_status_says_the_install_is_ready_not_the_finished_check(installer_dock):
    dock, _, _ = installer_dock
    panel = dock.dependencies
    dock.ensure_panels()
    assert wait_for(lambda: panel.task is None, 60)
    assert panel.status.text() == "Ready to install: click Install." and panel.install_button.isEnabled()


def test_a_failed_install_says_why_in_the_dock_and_can_be_tried_again(installer_dock):
    dock, folder, index = installer_dock
    panel = dock.dependencies
    dock.ensure_panels()
    assert wait_for(lambda: panel.task is None, 60)
    panel.resolution = None
    index["args"] = ["--index-url", "http://127.0.0.1:9/simple", "--retries", "1", "--timeout", "2"]
    panel.install_button.click()
    assert wait_for(lambda: panel.task is None, 120)
    assert "package index could not be reached" in panel.status.text()
    assert panel.install_button.isEnabled() and not folder.exists() and dock.tabs is None


def test_a_folder_from_an_older_plugin_version_is_offered_as_an_upgrade(installer_dock, monkeypatch):
    import json

    import calliper.ui.installer_panel as panel_module

    dock, folder, _ = installer_dock
    folder.mkdir(parents=True)
    (folder / MARKER_FILE).write_text(json.dumps({"digest": "other pins", "plugin_version": "0.0.9"}))
    monkeypatch.setattr(panel_module, "missing_requirements", lambda: [])
    panel = dock.dependencies
    assert panel.refresh() == []
    assert not panel.isHidden() and panel.install_button.text() == "Upgrade"
    assert "made for Calliper 0.0.9" in panel.message.text()
    assert wait_for(lambda: panel.task is None, 60)
