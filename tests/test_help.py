"""Help one click away: every Processing algorithm and every dock tab opens an existing page of the built site.

Also keeps the repository free of one build machine's paths and remarks: a reader has none of them.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built_site():
    """The site the plugin's Help buttons open (scripts/test.sh builds it first; built here when it is not)."""
    from calliper.adapters.help_pages import HELP_DIR

    if not (HELP_DIR / "index.html").is_file():
        spec = importlib.util.spec_from_file_location("docs", ROOT / "scripts" / "docs.py")
        docs = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(docs)
        docs.build_site(HELP_DIR)
    return HELP_DIR


def local_file(url: str) -> Path:
    from qgis.PyQt.QtCore import QUrl

    parsed = QUrl(url)
    assert parsed.isLocalFile(), url
    return Path(parsed.toLocalFile())


def test_every_processing_algorithm_opens_its_own_page_of_the_built_site(qgis_app, built_site):
    from calliper.processing_provider.algorithms import ALGORITHMS

    for algorithm_class in ALGORITHMS:
        algorithm = algorithm_class()
        page = local_file(algorithm.helpUrl())
        assert page.is_file() and page.is_relative_to(built_site), algorithm.name()
        text = page.read_text(encoding="utf-8")
        assert f"calliper:{algorithm.name()}" in text and algorithm.displayName() in text


def test_the_processing_pages_list_every_parameter_with_its_help(qgis_app, built_site):
    from calliper.processing_provider.algorithms import ALGORITHMS

    for algorithm_class in ALGORITHMS:
        algorithm = algorithm_class()
        algorithm.initAlgorithm()
        text = local_file(algorithm.helpUrl()).read_text(encoding="utf-8")
        for parameter in algorithm.parameterDefinitions():
            assert f"<code>{parameter.name()}</code>" in text, (algorithm.name(), parameter.name())
    train = local_file(ALGORITHMS[0]().helpUrl()).read_text(encoding="utf-8")
    assert "What each place is (cafe, pharmacy, bus_station)" in train  # the class field's own help


def test_each_parameter_help_names_a_parameter_of_its_algorithm(qgis_app):
    """A help text keyed by a misspelt name would silently never show."""
    from calliper.processing_provider.algorithms import ALGORITHMS
    from calliper.processing_provider.base import SHARED_PARAMETER_HELP

    used = set()
    for algorithm_class in ALGORITHMS:
        algorithm = algorithm_class()
        algorithm.initAlgorithm()
        names = {parameter.name() for parameter in algorithm.parameterDefinitions()}
        assert set(algorithm_class.PARAMETER_HELP) <= names, algorithm.name()
        used |= names
        for parameter in algorithm.parameterDefinitions():
            expected = algorithm_class.PARAMETER_HELP.get(parameter.name(), SHARED_PARAMETER_HELP.get(parameter.name()))
            assert parameter.help() == (expected or ""), (algorithm.name(), parameter.name())
    assert set(SHARED_PARAMETER_HELP) <= used


def test_the_dock_help_button_opens_the_page_of_the_current_tab(qgis_iface, built_site, monkeypatch):
    from qgis.PyQt.QtGui import QDesktopServices

    from calliper.ui.dock import TAB_PAGES, CalliperDock

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))  # no browser in tests
    dock = CalliperDock(qgis_iface)
    dock.help_button.click()
    assert local_file(opened[-1]) == built_site / "getting-started.html"  # before the tabs exist
    assert dock.ensure_panels()
    for index in range(dock.tabs.count()):
        dock.tabs.setCurrentIndex(index)
        dock.help_button.click()
        page = local_file(opened[-1])
        assert page == built_site / TAB_PAGES[dock.tabs.tabText(index)] and page.is_file()
        assert dock.tabs.tabText(index) in page.read_text(encoding="utf-8")
    dock.deleteLater()


# One build machine's traces: its absolute home and build folders, its shared data, a virtual
# environment's library path, and remarks about the machine itself.
MACHINE_TRACES = re.compile(
    r"/work/|/home/\w|\.\./shared/|shared/data|\.venv/lib/python3|\bsandbox\b|\bthis VM\b|\bthe VM\b"
    r"|2-core machine|as the issue found",
    re.IGNORECASE,
)


def test_no_tracked_file_holds_a_build_machine_path_or_remark():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, files.decode().split("\0")):
        path = ROOT / name
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (screenshots)
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if MACHINE_TRACES.search(line):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert found == []


def package_script():
    spec = importlib.util.spec_from_file_location("package", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHANGELOG = """# Changelog

## [Unreleased]

### Fixed

- A fix not yet
  released.

## [0.2.0] - 2027-01-15

### Added

- Phrase maps.
"""


def test_the_changelog_becomes_the_metadata_changelog_the_plugin_manager_shows():
    package = package_script()
    metadata = package.packaged_metadata("[general]\nname=Calliper\nchangelog=old\nversion=0.2.0\n", CHANGELOG)
    assert package.read_metadata(metadata)["changelog"].splitlines() == [
        "", "Unreleased", "Fixed:", "- A fix not yet released.", "0.2.0 (2027-01-15)", "Added:", "- Phrase maps."]
    assert package.read_metadata(metadata)["version"] == "0.2.0"


def test_a_release_refuses_placeholder_links_and_an_undated_version():
    package = package_script()
    real = {"email": "team@calliper.eu", "homepage": "https://calliper.eu/docs", "tracker": "https://git.calliper.eu/issues",
            "repository": "https://git.calliper.eu/calliper", "version": "0.2.0"}
    assert package.release_problems(real, CHANGELOG) == []
    assert package.release_problems({**real, "version": "0.3.0"}, CHANGELOG) == [
        "CHANGELOG.md has no dated section for version 0.3.0 ('## [0.3.0] - YYYY-MM-DD')"]
    placeholders = package.release_problems({**real, "email": "publisher@example.org", "tracker": "https://example.org/x"},
                                            CHANGELOG)
    assert [problem.split(" is ")[0] for problem in placeholders] == ["metadata.txt email", "metadata.txt tracker"]
    shipped = package.read_metadata((ROOT / "metadata.txt").read_text(encoding="utf-8"))
    assert len(package.release_problems(shipped, (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))) >= 4


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.split()) <= 1500
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert targets and [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()] == []
