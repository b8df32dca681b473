"""The map part of the demo: every raster Calliper paints, over the demo POIs.

Called by ``demo.run_demo`` with the model it trained; prints where each map is
and, for the cluster map, its legend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ...core.crs import crs_label
from ...core.data.poi_io import read_points
from ...core.maps.clusters import ClusterSettings, cluster_raster
from ...core.maps.rasters import embedding_grid, embedding_raster, rgb_preview
from ...core.maps.similarity import location_query, phrase_raster, similarity_raster
from ...core.model.files import LoadedModel
from ..terminal import terminal_job

PIXEL_SIZE = 10.0
DENSITY_CELL = 100.0
PHRASES = {"nightlife": "similarity_nightlife", "a place to buy clothes": "similarity_clothes"}
N_CLUSTERS = 6


def densest_point(xy: np.ndarray, cell: float = DENSITY_CELL) -> np.ndarray:
    """Centre of the ``cell`` x ``cell`` square holding the most points."""
    low = xy.min(axis=0)
    bins = [np.arange(low[axis], xy[:, axis].max() + cell, cell) for axis in (0, 1)]
    counts, x_edges, y_edges = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins)
    i, j = np.unravel_index(counts.argmax(), counts.shape)
    return np.array([(x_edges[i] + x_edges[i + 1]) / 2, (y_edges[j] + y_edges[j + 1]) / 2])


def run_maps_demo(
    model: LoadedModel, pois_path: Path, out_dir: Path, print_fn: Callable[[str], None] = print
) -> dict[str, Path]:
    """Embedding raster (+ RGB) over the POIs at 10 m, similarity to a click and two phrases, a 6-cluster map."""
    out_dir = Path(out_dir)
    points = read_points(pois_path)
    extent = (*points.xy.min(axis=0), *points.xy.max(axis=0))
    grid = embedding_grid(model, extent, PIXEL_SIZE, extent_crs=points.crs)
    outputs: dict[str, Path] = {}

    started = time.perf_counter()
    with terminal_job("raster") as control:
        outputs["embedding_raster"] = embedding_raster(model, grid, out_dir / "embedding.tif", control=control,
                                                       overwrite=True)
    print_fn(
        f"  embedding raster ({grid.width} x {grid.height} pixels of {PIXEL_SIZE:g} m, {crs_label(grid.crs)}, "
        f"{time.perf_counter() - started:.1f} s) -> {outputs['embedding_raster']}"
    )
    outputs["embedding_rgb"] = rgb_preview(outputs["embedding_raster"], out_dir / "embedding_rgb.tif", overwrite=True)
    print_fn(f"  RGB preview (first three principal components) -> {outputs['embedding_rgb']}")

    click = densest_point(points.xy)
    query = location_query(model, tuple(click), points.crs)
    outputs["similarity_click"] = similarity_raster(
        model, outputs["embedding_raster"], query, out_dir / "similarity_click.tif", overwrite=True
    )
    print_fn(f"  similarity to a click at the densest POI area ({query.label}) -> {outputs['similarity_click']}")
    for phrase, name in PHRASES.items():
        outputs[name] = phrase_raster(model, outputs["embedding_raster"], phrase, out_dir / f"{name}.tif", overwrite=True)
        print_fn(f"  phrase map of '{phrase}' (from the matched training POIs) -> {outputs[name]}")

    clusters = cluster_raster(
        outputs["embedding_raster"], out_dir / "clusters.tif", model, ClusterSettings(k=N_CLUSTERS), overwrite=True
    )
    outputs.update(clusters=clusters.raster, clusters_legend=clusters.legend_file)
    print_fn(f"  {N_CLUSTERS} clusters -> {clusters.raster} (legend {clusters.legend_file}; QGIS loads its colours "
             f"and names from {clusters.style_file.name}):")
    for entry in clusters.legend:
        print_fn(f"    {entry.colour}  {entry.label}  ({100 * entry.share:.0f} % of pixels)")
    return outputs
