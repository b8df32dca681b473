"""Places like this, in another city: a location under model A, matched over model B's embedding raster by profile.

The two models' embeddings cannot be compared, but their profiles over a shared
vocabulary can (``profiler``): the map is the correlation of each pixel's profile
under B with the chosen place's profile under A.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..crs import crs_label, parse_crs
from ..jobs import JobControl
from ..maps.describe import check_in_crs_area
from ..maps.grid import write_raster_by_blocks
from ..maps.rasters import NODATA, TAG_KIND, EmbeddingReader
from ..model.files import LoadedModel
from ..model.inference import embed_locations, model_crs
from ..outputs import check_output_path
from .outputs import TAG_VOCABULARY
from .profiler import Profiler, affinity
from .vocabulary import Vocabulary, comparison_vocabulary

TOP_WORDS = 3


@dataclass
class ProfileQuery:
    """The chosen place's log-profile under its own model, and what it is (for tags and the log)."""

    log_profile: np.ndarray
    vocabulary: Vocabulary
    label: str

    def describe(self) -> str:
        best = np.argsort(-self.log_profile, kind="stable")[:TOP_WORDS]
        words = ", ".join(f"{self.vocabulary.labels[i]} ({np.exp(self.log_profile[i]):.0%})" for i in best)
        return f"{self.label}, most like {words}"


def profile_query(model: LoadedModel, xy: tuple[float, float], crs: object | None, vocabulary: Vocabulary) -> ProfileQuery:
    """The profile of the place ``xy`` (in ``crs``, default the model's) under ``model``."""
    crs = parse_crs(crs, "The point") if crs is not None else model_crs(model)
    check_in_crs_area(np.array([xy], dtype=np.float64), crs, model)
    vector = embed_locations(model, np.array([xy], dtype=np.float64), crs)
    log_profile = Profiler(model, vocabulary).log_profiles(vector)[0]
    return ProfileQuery(log_profile, vocabulary,
                        f"place {xy[0]:.8g}, {xy[1]:.8g} ({crs_label(crs)}) under the model in {model.folder}")


def like_this_raster(
    target: LoadedModel,
    embedding_tif: str | Path,
    source: LoadedModel,
    xy: tuple[float, float],
    out: str | Path,
    crs: object | None = None,
    vocabulary: Vocabulary | None = None,
    control: JobControl | None = None,
    overwrite: bool = False,
) -> Path:
    """One band on the target's embedding raster: how alike each pixel's profile is to the place's under ``source``."""
    control = control or JobControl()
    out = check_output_path(out, overwrite, inputs=(embedding_tif,))
    vocabulary = comparison_vocabulary(source, target, vocabulary)
    query = profile_query(source, xy, crs, vocabulary)
    control.log(f"Places like the {query.describe()}; compared over {vocabulary.source}.")
    with EmbeddingReader(embedding_tif) as reader:
        reader.check_model(target, control.log)
        profiler = Profiler(target, vocabulary)

        def compute(points: np.ndarray) -> np.ndarray:
            vectors = reader.vectors_at(points)
            valid = np.isfinite(vectors).all(axis=1)
            values = np.full(len(points), np.nan, dtype=np.float32)
            if valid.any():
                values[valid] = affinity(query.log_profile, profiler.log_profiles(vectors[valid]))
            return values[:, None]

        return write_raster_by_blocks(
            reader.grid, out, 1, compute, nodata=NODATA, band_names=["like_this"], control=control,
            tags={TAG_KIND: "like_this", "calliper_query": query.describe(),
                  TAG_VOCABULARY: json.dumps(vocabulary.labels, ensure_ascii=False), **reader.provenance_tags()},
        )
