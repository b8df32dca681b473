"""The demo's land-use step: classify the demo city's OSM land use and show the baselines beside CaLLiPer."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...core.jobs import JobControl
from ...core.landuse.labels import LabelSettings
from ...core.landuse.report import metrics_table
from ...core.landuse.study import ClassifySettings, classify
from ...core.model.files import LoadedModel

# OSM land-use values with fewer polygons than this are too rare to learn or score.
DEMO_MIN_CLASS_SIZE = 10
DEMO_PIXEL_SIZE = 10.0


def run_landuse_demo(
    model: LoadedModel, landuse_path: Path, pois_path: Path, out_dir: Path, print_fn: Callable[[str], None] = print
) -> dict[str, Path]:
    """Classify ``landuse_path`` (field ``landuse``) into ``out_dir``, print the metrics table, return the outputs.

    The class raster covers the model's training extent, where its embeddings are learnt.
    """
    settings = ClassifySettings(
        labels=LabelSettings(min_class_size=DEMO_MIN_CLASS_SIZE),
        pois=str(pois_path),
        extent=tuple(model.card.training["extent"]),
        pixel_size=DEMO_PIXEL_SIZE,
        overwrite=True,
    )
    control = JobControl(log=lambda message: print_fn(f"  {message}"))
    result = classify(model, landuse_path, "landuse", out_dir, settings, control)
    metrics = result.metrics
    classes = ", ".join(f"{name} ({count})" for name, count in metrics["classes"].items())
    print_fn(f"  {metrics['n_units']} polygons, classes {classes}")
    print_fn(f"  {metrics['protocol']['split_description']}, linear probe, seeds {metrics['protocol']['seeds']}:")
    print_fn("  " + metrics_table(metrics).replace("\n", "\n  "))
    return {f"landuse_{name}": path for name, path in result.outputs.items()}
