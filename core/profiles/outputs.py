"""Profiles as map layers: a multi-band raster over an extent, or fields on a point (or polygon) layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.vector_io import write_geopackage
from ..jobs import JobControl
from ..landuse.study import field_names, with_columns
from ..maps.grid import PixelMask, RasterGrid, write_raster_by_blocks
from ..maps.rasters import NODATA, PixelEmbedder, model_tags, read_layer
from ..model.files import LoadedModel
from ..model.inference import embed_locations
from ..outputs import check_output_path
from . import PROFILE_PREFIX
from .profiler import Profiler
from .vocabulary import Vocabulary

TAG_VOCABULARY = "calliper_vocabulary"
TOP_FIELD = "profile_top"
TOP_SCORE_FIELD = "profile_top_score"


def profile_raster(
    model: LoadedModel, vocabulary: Vocabulary, grid: RasterGrid, out: str | Path, mask: PixelMask | None = None,
    control: JobControl | None = None, overwrite: bool = False,
) -> Path:
    """One float32 band per word (named by it): the profile of every pixel centre, NaN outside ``mask``."""
    control = control or JobControl()
    out = check_output_path(out, overwrite)
    embedder = PixelEmbedder(model, grid.crs)
    profiler = Profiler(model, vocabulary)
    control.log(f"Profiles over {vocabulary.source}.")

    def compute(xy: np.ndarray) -> np.ndarray:
        return profiler.profiles(embedder(xy))

    tags = model_tags(model, "profile") | {TAG_VOCABULARY: json.dumps(vocabulary.labels, ensure_ascii=False)}
    return write_raster_by_blocks(
        grid, out, len(vocabulary), compute, nodata=NODATA, band_names=vocabulary.labels, mask=mask,
        control=control, tags=tags,
    )


def profile_points(
    model: LoadedModel, vocabulary: Vocabulary, layer_path: str | Path, out: str | Path, layer: str | None = None,
    control: JobControl | None = None, overwrite: bool = False,
) -> Path:
    """The layer's features with one field per word (``pr_<word>``) and the best word and its score.

    Polygons and lines are profiled at a point on their surface.
    """
    control = control or JobControl()
    out = check_output_path(out, overwrite, inputs=(layer_path,))
    frame = read_layer(layer_path, layer)
    points = frame.geometry.representative_point()
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    profiler = Profiler(model, vocabulary)
    control.log(f"Profiles of {len(frame)} features of {Path(layer_path).name} over {vocabulary.source}.")
    profiles = profiler.profiles(embed_locations(model, xy, crs=frame.crs, control=control.part(0.0, 0.9)))
    best = profiles.argmax(axis=1)
    columns = dict(zip(field_names(PROFILE_PREFIX, vocabulary.labels), profiles.T))
    columns[TOP_FIELD] = np.array(vocabulary.labels, dtype=object)[best]
    columns[TOP_SCORE_FIELD] = profiles[np.arange(len(best)), best]
    path = write_geopackage(with_columns(frame, columns, "profiles", control.log), out, "profiles")
    control.report(1.0, "profiles written")
    return path
