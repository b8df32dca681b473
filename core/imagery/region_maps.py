"""MMGR region embeddings as maps: the embedding raster at tile resolution, phrase queries and cluster names.

The raster has the format of a CaLLiPer embedding raster (bands ``emb_000`` ...,
NaN nodata, the same tags), so the RGB preview, similarity and cluster maps read
it unchanged. One pixel is one tile; skipped tiles are nodata.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..crs import parse_crs
from ..data.demo_city import OSM_ATTRIBUTION
from ..errors import InputDataError
from ..jobs import JobControl
from ..maps.clusters import ClusterNamer, class_descriptions, closest_names, numbered_names
from ..maps.grid import grid_from_extent, write_raster_by_blocks
from ..maps.rasters import NODATA, TAG_ATTRIBUTION, TAG_KIND, TAG_MODEL, TAG_MODEL_CREATED, TAG_MODEL_SUMMARY
from ..maps.similarity import SimilarityQuery
from ..model.embed_points import embedding_columns
from ..model.files import LoadedModel
from ..model.inference import text_encoder_for
from ..outputs import check_output_path
from ..text.encoder import TextEmbeddingCache, encode_distinct
from .files import LoadedMMGR, MMGRCard, is_mmgr_folder, load_mmgr
from .tiles import ImageTiles, image_crs, open_image, read_tiles


def mmgr_summary(card: MMGRCard) -> str:
    """One line saying what an MMGR model is and what it learned from."""
    training, imagery = card.training, card.imagery
    return (
        f"MMGR {card.settings.image_encoder} image tower + POI-set tower, {card.settings.embed_dim}-d, "
        f"tiles of {imagery['tile_metres']:g} m ({imagery['tile_pixels']} px, bands {imagery['bands']}) of "
        f"{Path(training.get('image', 'an image')).name}, {training.get('n_tiles', '?')} tiles, "
        f"{training.get('n_pois', '?')} POIs of {training.get('layer', 'a POI layer')} in {card.crs_label}"
    )


def write_region_raster(
    model: LoadedMMGR, tiles: ImageTiles, embeddings: np.ndarray, out: str | Path,
    control: JobControl | None = None, overwrite: bool = False, attribution: str | None = OSM_ATTRIBUTION,
) -> Path:
    """One pixel per tile of ``tiles.grid``: the tile's embedding (rows of ``embeddings`` follow ``tiles.index``)."""
    out = check_output_path(out, overwrite)
    grid = tiles.grid
    dim = embeddings.shape[1]

    def compute(xy: np.ndarray) -> np.ndarray:
        found = tiles.tile_at(xy)
        values = np.full((len(xy), dim), np.nan, dtype=np.float32)
        values[found >= 0] = embeddings[found[found >= 0]]
        return values

    tags = {
        TAG_KIND: "embedding", TAG_MODEL: str(Path(model.folder).absolute()), TAG_MODEL_CREATED: model.card.created,
        TAG_MODEL_SUMMARY: mmgr_summary(model.card), "calliper_embedding_source": "mmgr",
    }
    if attribution:
        tags[TAG_ATTRIBUTION] = attribution
    return write_raster_by_blocks(
        grid, out, dim, compute, nodata=NODATA, band_names=embedding_columns(dim), control=control, tags=tags,
        block_size=64,
    )


def aligned_extent(card: MMGRCard, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """``bounds`` grown to the tile lines of the training grid, so the same place gives the same tile."""
    size = card.imagery["tile_metres"]
    train_left, _, _, train_top = card.training["extent"]
    left = train_left + math.floor((bounds[0] - train_left) / size) * size
    top = train_top + math.ceil((bounds[3] - train_top) / size) * size
    return left, bounds[1], bounds[2], top


def region_raster(
    model: LoadedMMGR, image: str | Path, out: str | Path, control: JobControl | None = None, overwrite: bool = False,
) -> Path:
    """Apply a trained MMGR model to every tile of ``image`` (any extent) and write the region-embedding raster.

    Tiles are cut and normalised as in training (the card's bands, size and band
    statistics) and, in the training CRS, on the training grid's lines.
    """
    from .train import embed_tiles

    control = control or JobControl()
    out = check_output_path(out, overwrite, inputs=(image,))
    settings = model.card.imagery_settings
    with open_image(image) as dataset:
        if dataset.count < max(model.card.imagery["bands"]):
            raise InputDataError(
                f"The image {Path(image).name} has {dataset.count} band(s) but the model reads bands "
                f"{model.card.imagery['bands']}. Choose an image like the one it was trained on."
            )
        crs = image_crs(dataset)
        bounds = tuple(dataset.bounds)
        if crs == parse_crs(model.card.crs_wkt):
            bounds = aligned_extent(model.card, bounds)
        grid = grid_from_extent(bounds, settings.tile_metres, crs)
        tiles, _ = read_tiles(dataset, grid, settings, model.card.statistics, control.part(0.0, 0.3), out.parent)
    embeddings = embed_tiles(model.net, tiles.pixels, control.part(0.3, 0.9))
    return write_region_raster(model, tiles, embeddings, out, control.part(0.9, 1.0), overwrite=True)


@torch.no_grad()
def embed_phrases(model: LoadedMMGR, phrases: list[str]) -> np.ndarray:
    """(N, D) embeddings of phrases, each taken as a set of one POI with that description."""
    device = next(model.net.parameters()).device
    vectors, _ = encode_distinct(list(phrases), text_encoder_for(model), TextEmbeddingCache())
    members = torch.from_numpy(vectors)[:, None, :].to(device)
    mask = torch.ones(len(phrases), 1, dtype=torch.bool, device=device)
    return model.net.encode_poi_sets(members, mask).cpu().numpy()


def mmgr_text_query(model: LoadedMMGR, phrase: str) -> SimilarityQuery:
    """A phrase ("a park", "nightlife") as a one-POI set, comparable with the region raster's tiles."""
    phrase = " ".join(str(phrase).split())
    if not phrase:
        raise InputDataError("The phrase is empty. Type a few words describing a kind of place.")
    return SimilarityQuery(embed_phrases(model, [phrase])[0], f"text '{phrase}' (as a set of POIs)")


def mmgr_cluster_names(model: LoadedMMGR, centres: np.ndarray, names_per_cluster: int) -> list[list[str]]:
    """For each cluster centre, the POI classes of the card whose one-POI set is most similar, best first."""
    classes = list(model.card.training.get("top_classes", {}))
    if not classes:
        return numbered_names(centres, names_per_cluster)
    return closest_names(centres, classes, embed_phrases(model, class_descriptions(classes)), names_per_cluster)


def cluster_namer_for(folder: str | Path) -> ClusterNamer | LoadedModel:
    """What names the clusters of a raster written by the model in ``folder``: an MMGR namer or the CaLLiPer model."""
    if is_mmgr_folder(folder):
        model = load_mmgr(folder)
        return lambda centres, n: mmgr_cluster_names(model, centres, n)
    from ..catalog.loading import load_model_for_maps

    return load_model_for_maps(folder)
