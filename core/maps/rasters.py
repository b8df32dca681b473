"""Embedding rasters: a model's embedding of every pixel, read back for maps made from it.

An embedding raster has one float band per dimension (``emb_000`` ...), NaN as
nodata, and tags naming the model that made it. Similarity and cluster maps read it
instead of running the model again, and an RGB preview makes it visible: its first
three principal components, stretched to colours.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from ..catalog.loading import load_model
from ..crs import LONLAT, is_metric, parse_crs, to_crs, utm_crs_for
from ..data.demo_city import OSM_ATTRIBUTION
from ..errors import InputDataError, SettingsError
from ..jobs import JobControl
from ..model.embed_points import embedding_columns
from ..model.evidence import load_evidence
from ..model.files import LoadedModel, ModelCard
from ..model.batching import fastest_location_batch, frozen_location_encoder
from ..model.inference import embed_locations, model_crs
from ..outputs import check_output_path
from .grid import PixelMask, RasterGrid, grid_from_extent, read_grid, write_raster_by_blocks

EMBEDDING_DTYPES = ("float32", "float16")
NODATA = float("nan")
# Read a whole embedding raster when it is at most this large: a similarity map is
# then one read and one matrix product; larger rasters are read window by window.
WHOLE_READ_BYTES = 1024 * 2**20
DEFAULT_MASK_BUFFER = 200.0

TAG_KIND = "calliper_kind"
TAG_MODEL = "calliper_model"
TAG_MODEL_CREATED = "calliper_model_created"
TAG_MODEL_SUMMARY = "calliper_model_summary"
TAG_SOURCE = "calliper_source"
TAG_ATTRIBUTION = "attribution"
PROVENANCE_TAGS = (TAG_MODEL, TAG_MODEL_CREATED, TAG_MODEL_SUMMARY, TAG_ATTRIBUTION)


def model_summary(card: ModelCard) -> str:
    """One line saying what a model is and what it learned from."""
    settings, training = card.settings, card.training
    loss = card.metrics.get("best_val_loss")
    return (
        f"{settings.encoder} encoder, {settings.embed_dim}-d, "
        f"scales {settings.min_lambda:g}-{settings.max_lambda:g} m, "
        f"trained on {training.get('n_pois', '?')} POIs of {training.get('layer', 'a POI layer')} in {card.crs_label}, "
        f"text model {card.text_model}" + (f", best validation loss {loss:.4f}" if loss is not None else "")
    )


def model_tags(model: LoadedModel, kind: str, attribution: str | None = OSM_ATTRIBUTION) -> dict[str, str]:
    """The tags of a raster a model computed: its kind, the model (folder, age, summary) and the data's credit."""
    tags = {
        TAG_KIND: kind,
        TAG_MODEL: str(Path(model.folder).absolute()),
        TAG_MODEL_CREATED: model.card.created,
        TAG_MODEL_SUMMARY: model_summary(model.card),
    }
    if attribution:
        tags[TAG_ATTRIBUTION] = attribution
    return tags


def embedding_grid(
    model: LoadedModel,
    extent: tuple[float, float, float, float],
    pixel_size: float,
    extent_crs: object | None = None,
    target_crs: object | None = None,
) -> RasterGrid:
    """The grid of an embedding raster: ``target_crs`` if given, else the model's CRS.

    Pixel sizes are metres, so a model working in lon/lat (sphere encoders) gets
    the UTM zone of the extent's centre unless a target CRS is given.
    """
    source = parse_crs(extent_crs, "The extent") if extent_crs is not None else model_crs(model)
    if target_crs is not None:
        target = parse_crs(target_crs, "The target CRS")
    elif is_metric(model_crs(model)):
        target = model_crs(model)
    else:
        centre = np.array([[(extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2]])
        lon, lat = to_crs(centre, source, LONLAT)[0]
        target = utm_crs_for(float(lon), float(lat))
    return grid_from_extent(extent, pixel_size, target, extent_crs=source)


def layer_extent(path: str | Path, layer: str | None = None) -> tuple[tuple[float, float, float, float], object]:
    """The bounding box of a vector layer and its CRS."""
    frame = read_layer(path, layer)
    return tuple(float(v) for v in frame.total_bounds), frame.crs


def read_layer(path: str | Path, layer: str | None = None):
    """A vector layer's features with a geometry, indexed by feature id, in a GeoDataFrame with a CRS."""
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"The file {path} does not exist.")
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio", fid_as_index=True)
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise InputDataError(f"Cannot read {path.name} as a vector layer.", str(exc)) from exc
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise InputDataError(f"The layer {path.name} has no features with a geometry.")
    parse_crs(frame.crs, f"The layer {path.name}")
    return frame


def mask_from_layer(
    path: str | Path, grid: RasterGrid, buffer: float = DEFAULT_MASK_BUFFER, layer: str | None = None
) -> PixelMask:
    """Pixels inside the layer's polygons, or within ``buffer`` metres of its points and lines."""
    import shapely

    if not buffer > 0:
        raise SettingsError(f"The mask buffer must be a positive distance in metres; got {buffer!r}.")
    geometry = read_layer(path, layer).to_crs(grid.crs).geometry
    polygonal = geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    # OSM polygons are often slightly invalid (self-touching rings), which the union refuses.
    area = shapely.union_all(list(geometry[polygonal].make_valid()) + list(geometry[~polygonal].buffer(buffer)))
    shapely.prepare(area)
    return lambda xy: shapely.contains_xy(area, xy[:, 0], xy[:, 1])


def evidence_mask(model: LoadedModel, grid: RasterGrid, distance: float | None = None) -> tuple[PixelMask | None, str]:
    """Pixels within ``distance`` metres of the model's training POIs (default: from their spacing), and its key.

    (None, "no mask") for a model trained before its folder kept the POIs: it maps the whole extent.
    """
    evidence = load_evidence(model.folder)
    if evidence is None:
        return None, "no mask"
    distance = evidence.default_distance() if distance is None else float(distance)
    return evidence.mask(grid.crs, distance), f"within {distance:g} m of the training POIs"


def raster_mask(
    model: LoadedModel, grid: RasterGrid, mask_path: str | Path | None = None, buffer: float = DEFAULT_MASK_BUFFER,
    mask_layer: str | None = None, near_pois: float | None = None, whole_extent: bool = False,
) -> tuple[PixelMask | None, str]:
    """The pixels a raster computes, and the text that names them (its resume key), for every front end.

    A mask layer wins; ``whole_extent`` computes everything; otherwise only pixels near the
    training POIs (``near_pois`` metres, default from their spacing).
    """
    if mask_path:
        return mask_from_layer(mask_path, grid, buffer, mask_layer), mask_resume_key(mask_path, buffer, mask_layer)
    if whole_extent:
        return None, mask_resume_key(None, 0.0)
    return evidence_mask(model, grid, near_pois)


def mask_resume_key(mask_path: str | Path | None, buffer: float, layer: str | None = None) -> str:
    """What decides a mask's pixels, for ``embedding_raster(resume_key=...)``: the file, its age, layer and buffer."""
    if not mask_path:
        return "no mask"
    path = Path(mask_path).absolute()
    modified = path.stat().st_mtime_ns if path.exists() else 0
    return f"mask {path} layer {layer or ''} modified {modified} buffer {buffer:g}"


class PixelEmbedder:
    """``compute(xy)`` for ``write_raster_by_blocks``: embeddings of pixel centres given in the grid's CRS.

    It pickles as its model folder and CRS, not its weights, so each worker process of
    a parallel raster loads its own copy of the model (on the CPU) once.
    """

    def __init__(self, model: LoadedModel, grid_crs: object) -> None:
        self.model: LoadedModel | None = model
        self.folder = Path(model.folder)
        crs = parse_crs(grid_crs)
        self.points_crs = None if crs == model_crs(model) else crs.to_wkt()
        self.on_cpu = next(model.net.parameters()).device.type == "cpu"
        # Measured here, once, and handed to the worker processes: one batch size for every block
        # keeps a raster's values the same whatever the number of workers.
        xmin, ymin, xmax, ymax = model.card.training["extent"]
        sample = np.random.default_rng(0).uniform((xmin, ymin), (xmax, ymax), (4096, 2))
        self.encode = frozen_location_encoder(model.net)
        self.batch = fastest_location_batch(self.encode, model.net, sample)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "model": None, "encode": None, "on_cpu": True}

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        if self.model is None:
            self.model = load_model(self.folder)
        if self.encode is None:
            self.encode = frozen_location_encoder(self.model.net)
        return embed_locations(self.model, xy, crs=self.points_crs, batch_size=self.batch, encode=self.encode)


def embedding_raster(
    model: LoadedModel,
    grid: RasterGrid,
    out: str | Path,
    dtype: str = "float32",
    mask: PixelMask | None = None,
    control: JobControl | None = None,
    overwrite: bool = False,
    attribution: str | None = OSM_ATTRIBUTION,
    workers: int = 1,
    resume_key: str | None = None,
) -> Path:
    """Write the model's embedding of every pixel centre: one band per dimension, NaN outside ``mask``.

    ``attribution`` credits the POI data the model learned from; the default is
    OpenStreetMap's, the source of the demo and of most POI layers. ``workers`` > 1
    computes blocks in that many CPU processes (a model on a GPU uses one process and
    large batches). A ``resume_key`` describing the mask (e.g. its layer and buffer)
    makes the write resumable (``write_raster_by_blocks``); the model is part of the
    raster's tags, so another model restarts it.
    """
    if dtype not in EMBEDDING_DTYPES:
        raise SettingsError(f"Embedding rasters are float32 or float16 (got {dtype!r}).")
    out = check_output_path(out, overwrite)
    dim = model.card.settings.embed_dim
    tags = model_tags(model, "embedding", attribution)

    embedder = PixelEmbedder(model, grid.crs)
    return write_raster_by_blocks(
        grid, out, dim, embedder, dtype=dtype, nodata=NODATA,
        band_names=embedding_columns(dim), mask=mask, control=control, tags=tags,
        workers=workers if embedder.on_cpu else 1, resume_key=resume_key,
    )


class EmbeddingReader:
    """The pixel vectors of an embedding raster, looked up by pixel-centre coordinates.

    Missing pixels (nodata, or outside the raster) come back as NaN rows, so
    callers map them to their own nodata without a second pass.
    """

    def __init__(self, path: str | Path, whole_read_bytes: int = WHOLE_READ_BYTES) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputDataError(f"The embedding raster {self.path} does not exist.")
        try:
            self._dataset = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise InputDataError(f"Cannot read {self.path.name} as a raster.", str(exc)) from exc
        if np.dtype(self._dataset.dtypes[0]).kind != "f" or self._dataset.crs is None:
            self._dataset.close()
            raise InputDataError(
                f"{self.path.name} is not an embedding raster (it needs float bands and a CRS). "
                "Choose a raster written by 'Embedding raster'."
            )
        self.grid = read_grid(self._dataset)
        self.dim = self._dataset.count
        self.tags = self._dataset.tags()
        self._nodata = self._dataset.nodata
        size = self.dim * self.grid.width * self.grid.height * 4
        self._array = self._clean(self._dataset.read()) if size <= whole_read_bytes else None

    def __enter__(self) -> "EmbeddingReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._dataset.close()

    @property
    def model_folder(self) -> Path | None:
        """The folder of the model that wrote the raster, as recorded in its tags."""
        folder = self.tags.get(TAG_MODEL)
        return Path(folder) if folder else None

    def provenance_tags(self) -> dict[str, str]:
        """The model and attribution tags, for rasters derived from this one."""
        return {key: self.tags[key] for key in PROVENANCE_TAGS if key in self.tags} | {TAG_SOURCE: str(self.path)}

    def check_model(self, model: LoadedModel, log: Callable[[str], None]) -> None:
        """Refuse a model whose embeddings cannot be compared with the raster's; note a different one."""
        dim = model.card.settings.embed_dim
        if dim != self.dim:
            raise InputDataError(
                f"The embedding raster {self.path.name} has {self.dim} bands but the model in {model.folder} "
                f"makes {dim}-d embeddings. Choose the model that wrote the raster."
            )
        if self.tags.get(TAG_MODEL_CREATED) not in (None, model.card.created):
            log(f"{self.path.name} was written by another model ({self.tags.get(TAG_MODEL)}); its similarities "
                f"to the model in {model.folder} may mean little.")

    def _clean(self, values: np.ndarray) -> np.ndarray:
        values = values.astype(np.float32, copy=False)
        if self._nodata is not None and not math.isnan(self._nodata):
            values[values == self._nodata] = np.nan
        return values

    def _window(self, window: Window, bands: list[int] | None) -> np.ndarray:
        if self._array is not None:
            return self._array[([b - 1 for b in bands] if bands else slice(None), *window.toslices())]
        return self._clean(self._dataset.read(bands, window=window))

    def vectors_at(self, xy: np.ndarray, bands: list[int] | None = None) -> np.ndarray:
        """(N, D) float32 vectors of the pixels containing ``xy`` (grid CRS); NaN rows where there are none.

        ``bands`` (1-based) reads only those: ``[1]`` tells which pixels have data at 1/128 of the reading.
        """
        rows, cols = self.grid.pixel_of(xy)
        inside = self.grid.contains(rows, cols)
        vectors = np.full((len(rows), len(bands) if bands else self.dim), np.nan, dtype=np.float32)
        if inside.any():
            rows, cols = rows[inside], cols[inside]
            top, left = rows.min(), cols.min()
            block = self._window(Window(left, top, cols.max() - left + 1, rows.max() - top + 1), bands)
            vectors[inside] = block[:, rows - top, cols - left].T
        return vectors

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Up to ``n`` valid vectors spread over the raster (from its overviews when it is not in memory)."""
        if self._array is not None:
            vectors = self._array.reshape(self.dim, -1).T
        else:
            step = max(1.0, math.sqrt(self.grid.width * self.grid.height / (2 * n)))
            shape = (self.dim, max(1, int(self.grid.height / step)), max(1, int(self.grid.width / step)))
            vectors = self._clean(self._dataset.read(out_shape=shape, resampling=Resampling.nearest))
            vectors = vectors.reshape(self.dim, -1).T
        valid = np.flatnonzero(np.isfinite(vectors).all(axis=1))
        if len(valid) == 0:
            raise InputDataError(f"The embedding raster {self.path.name} has no pixels with data.")
        chosen = np.random.default_rng(seed).choice(valid, size=min(n, len(valid)), replace=False)
        return np.ascontiguousarray(vectors[np.sort(chosen)])


def rgb_preview(
    embedding_tif: str | Path,
    out: str | Path,
    sample: int = 50_000,
    seed: int = 0,
    control: JobControl | None = None,
    overwrite: bool = False,
) -> Path:
    """Three uint8 bands: the first three principal components, stretched between their 2nd and 98th percentiles.

    The PCA and the stretch are fitted on a pixel sample, so memory does not grow
    with the raster; 0 is nodata.
    """
    from sklearn.decomposition import PCA

    out = check_output_path(out, overwrite, inputs=(embedding_tif,))
    with EmbeddingReader(embedding_tif) as reader:
        fitted = reader.sample(sample, seed)
        pca = PCA(n_components=3, random_state=seed).fit(fitted)
        low, high = np.percentile(pca.transform(fitted), [2, 98], axis=0)
        span = np.where(high > low, high - low, 1.0)

        def compute(xy: np.ndarray) -> np.ndarray:
            vectors = reader.vectors_at(xy)
            valid = np.isfinite(vectors).all(axis=1)
            colours = np.zeros((len(xy), 3), dtype=np.uint8)
            if valid.any():
                stretched = np.clip((pca.transform(vectors[valid]) - low) / span, 0.0, 1.0)
                colours[valid] = 1 + np.rint(254 * stretched).astype(np.uint8)
            return colours

        return write_raster_by_blocks(
            reader.grid, out, 3, compute, dtype="uint8", nodata=0, band_names=["pca_1", "pca_2", "pca_3"],
            control=control, tags={TAG_KIND: "rgb_preview", **reader.provenance_tags()},
        )

