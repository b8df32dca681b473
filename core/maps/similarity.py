"""Similarity maps: how much every pixel of an embedding raster resembles a place, a phrase or a feature.

Location and text embeddings share one normalised space, so each map is one dot
product per pixel with a single query vector, read from the existing embedding
raster rather than recomputed by the model. A place can also be queried by the
raster's own pixel there, which needs no model at all (MMGR region rasters).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..crs import crs_label, parse_crs, to_crs
from ..errors import InputDataError, ModelFileError, SettingsError
from ..jobs import JobControl
from ..model.files import LoadedModel
from ..model.inference import embed_locations, embed_phrase
from ..outputs import check_output_path
from . import PHRASE_MAPS
from .grid import write_raster_by_blocks
from .rasters import NODATA, TAG_KIND, EmbeddingReader, read_layer


@dataclass
class SimilarityQuery:
    """A normalised query vector and what it stands for (written into the map's tags)."""

    vector: np.ndarray
    label: str


def location_query(model: LoadedModel, xy: tuple[float, float], crs: object) -> SimilarityQuery:
    """The embedding of one point given in ``crs``."""
    crs = parse_crs(crs, "The point")
    vector = embed_locations(model, np.array([xy], dtype=np.float64), crs=crs)[0]
    return SimilarityQuery(vector, f"location {xy[0]:.8g}, {xy[1]:.8g} ({crs_label(crs)})")


def raster_location_query(
    model: LoadedModel, embedding_tif: str | Path, xy: tuple[float, float], crs: object | None = None
) -> SimilarityQuery:
    """``location_query`` for a point given in ``crs``, by default the CRS of the embedding raster it is compared with."""
    if crs is None:
        with EmbeddingReader(embedding_tif, whole_read_bytes=0) as header:
            crs = header.grid.crs
    return location_query(model, xy, crs)


def raster_point_query(embedding_tif: str | Path, xy: tuple[float, float], crs: object | None = None) -> SimilarityQuery:
    """The raster's own vector at a point given in ``crs`` (default: the raster's CRS); no model needed."""
    with EmbeddingReader(embedding_tif) as reader:
        source = parse_crs(crs, "The point") if crs is not None else reader.grid.crs
        vector = reader.vectors_at(to_crs(np.array([xy], dtype=np.float64), source, reader.grid.crs))[0]
    if not np.isfinite(vector).all():
        raise InputDataError(
            f"The point {xy[0]:.8g}, {xy[1]:.8g} ({crs_label(source)}) has no embedding in "
            f"{Path(embedding_tif).name} (outside it, or a tile without data). Pick a point on the raster."
        )
    return SimilarityQuery(vector / np.linalg.norm(vector), f"pixel at {xy[0]:.8g}, {xy[1]:.8g} ({crs_label(source)})")


def text_query(model: LoadedModel, phrase: str) -> SimilarityQuery:
    """The projected embedding of a phrase, e.g. "nightlife"."""
    return SimilarityQuery(embed_phrase(model, phrase), f"text '{' '.join(str(phrase).split())}'")


def phrase_raster(
    model: LoadedModel,
    embedding_tif: str | Path,
    phrase: str,
    out: str | Path,
    control: JobControl | None = None,
    overwrite: bool = False,
    kind: str = "evidence",
) -> Path:
    """The map of a phrase on the embedding raster's grid: ``kind`` "evidence" (the default, see ``phrase_map``) or
    "model" (the cosine of each pixel's embedding with the phrase)."""
    if kind not in PHRASE_MAPS:
        raise SettingsError(f"Unknown phrase map '{kind}'. Choose one of: {', '.join(PHRASE_MAPS)}.")
    if kind == "model":
        return similarity_raster(model, embedding_tif, text_query(model, phrase), out, control, overwrite)
    from ..model.evidence import load_evidence
    from .phrase_map import PhraseScorer

    control = control or JobControl()
    evidence = load_evidence(model.folder)
    if evidence is None:
        raise ModelFileError(
            f"The model in {model.folder} was trained before Calliper kept its POIs, which the phrase map weighs; "
            "retrain it, or choose the model-only phrase map."
        )
    out = check_output_path(out, overwrite, inputs=(embedding_tif,))
    with EmbeddingReader(embedding_tif) as reader:
        reader.check_model(model, control.log)
        scorer = PhraseScorer(model, evidence, phrase)
        control.log(f"Phrase map of '{' '.join(str(phrase).split())}': {scorer.describe()}.")

        bands = None if scorer.model_weight else [1]  # without the model's part only the data mask is needed

        def compute(xy: np.ndarray) -> np.ndarray:
            vectors = reader.vectors_at(xy, bands)
            valid = np.isfinite(vectors).all(axis=1)
            values = np.full(len(xy), np.nan, dtype=np.float32)
            if valid.any():
                values[valid] = scorer.scores(vectors[valid], xy[valid], reader.grid.crs)
            return values[:, None]

        return write_raster_by_blocks(
            reader.grid, out, 1, compute, nodata=NODATA, band_names=["phrase_score"], control=control,
            tags={TAG_KIND: "phrase", "calliper_query": f"text '{' '.join(str(phrase).split())}'",
                  "calliper_phrase_map": scorer.describe(), **reader.provenance_tags()},
        )


def feature_query(model: LoadedModel, path: str | Path, fid: int, layer: str | None = None) -> SimilarityQuery:
    """The embedding of a layer feature's representative point (a point always inside a polygon)."""
    frame = read_layer(path, layer)
    if fid not in frame.index:
        raise InputDataError(f"The layer {Path(path).name} has no feature with id {fid}.")
    point = frame.geometry.loc[[fid]].representative_point().iloc[0]
    vector = embed_locations(model, np.array([[point.x, point.y]]), crs=frame.crs)[0]
    return SimilarityQuery(vector, f"feature {fid} of {Path(path).name}")


def similarity_raster(
    model: LoadedModel | None,
    embedding_tif: str | Path,
    query: SimilarityQuery,
    out: str | Path,
    control: JobControl | None = None,
    overwrite: bool = False,
) -> Path:
    """One float32 band on the embedding raster's grid: the cosine similarity of each pixel with ``query``.

    ``model`` (the CaLLiPer model the query came from) is checked against the raster; None skips the check
    (a query from the raster itself, or from an MMGR model).
    """
    control = control or JobControl()
    out = check_output_path(out, overwrite, inputs=(embedding_tif,))
    with EmbeddingReader(embedding_tif) as reader:
        if model is not None:
            reader.check_model(model, control.log)
        vector = np.asarray(query.vector, dtype=np.float32)

        def compute(xy: np.ndarray) -> np.ndarray:
            return (reader.vectors_at(xy) @ vector)[:, None]

        return write_raster_by_blocks(
            reader.grid, out, 1, compute, nodata=NODATA, band_names=["similarity"], control=control,
            tags={TAG_KIND: "similarity", "calliper_query": query.label, **reader.provenance_tags()},
        )
