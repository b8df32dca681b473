"""Shared fixtures: the real demo data and one model trained on it, built once per session.

Tests import the package as ``calliper`` (installed editable by the setup script).
The text-embedding cache goes to a session folder so tests never touch the user's.
"""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-cache")
    os.environ["CALLIPER_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    from calliper.core.data.demo_city import build_demo_data

    return build_demo_data(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_points(demo_data):
    from calliper.core.data.poi_io import read_points

    return read_points(demo_data.pois)


@pytest.fixture(scope="session")
def trained(demo_data, demo_points, tmp_path_factory):
    """A grid model trained for a few epochs on the demo POIs (class + category template)."""
    from calliper.core.catalog.training import train_from_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields, TextTemplate

    job = TrainJob(
        points=demo_points,
        fields=TextFields("class", "category", "name"),
        template=TextTemplate(include_name=False),
        train=TrainSettings(epochs=40, batch_size=512, seed=42),
        out=tmp_path_factory.mktemp("models") / "demo_model",
    )
    return train_from_points(job)


@pytest.fixture(scope="session")
def demo_model(trained):
    from calliper.core.catalog.loading import load_model

    return load_model(trained.folder)


@pytest.fixture(scope="session")
def processing(qgis_app):
    """Processing initialised with the Calliper provider, registered once for the session.

    The registry keeps only a C++ pointer: the provider's Python object must live as
    long as it is registered, or its algorithms vanish. A session fixture holds it
    """
    from calliper.processing_provider.provider import CalliperProvider
    from processing.core.Processing import Processing
    from qgis.core import QgsApplication

    Processing.initialize()
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("calliper")
    if provider is None:
        provider = CalliperProvider()
        registry.addProvider(provider)
    import processing as qgis_processing

    yield qgis_processing


@pytest.fixture
def project():
    """The project that ``processing.runAndLoadResults`` loads into; the layers a test adds are removed after it."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    before = set(project.mapLayers())
    yield project
    project.removeMapLayers(list(set(project.mapLayers()) - before))
