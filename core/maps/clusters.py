"""Cluster maps: k-means regions of an embedding raster, each named by the POI classes it resembles.

Pixels are grouped by their embeddings (k-means fitted on a pixel sample, so memory
does not grow with the raster). Because location and text share one space, each
cluster's centre can be compared with the descriptions of the classes the model
was trained on: its legend reads "restaurant / cafe / bar", not "cluster 3".
Any model that embeds class descriptions can name them (a ``ClusterNamer``: an MMGR
model embeds each as a one-POI set); without one, clusters are "cluster N".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Union
from xml.sax.saxutils import quoteattr

import numpy as np

from ..atomic import atomic_path
from ..errors import InputDataError, ModelFileError, SettingsError
from ..jobs import JobControl
from ..model.files import LoadedModel
from ..model.inference import embed_texts
from ..outputs import check_output_path
from ..text.descriptions import CLASS_ONLY_TEMPLATE, clean_value, fill_template
from .grid import category_colormap, write_raster_by_blocks
from .rasters import TAG_KIND, EmbeddingReader

CLUSTER_NODATA = 255
MAX_CLUSTERS = 254

ClusterNamer = Callable[[np.ndarray, int], list[list[str]]]
"""``names(centres (k, D), names_per_cluster)`` -> for each centre, its names, best first."""


@dataclass
class ClusterSettings:
    """How many clusters, how many pixels the k-means sees, and how many class names each legend entry shows."""

    k: int = 6
    sample: int = 50_000
    seed: int = 0
    names_per_cluster: int = 3

    def validate(self) -> None:
        if not 2 <= self.k <= MAX_CLUSTERS:
            raise SettingsError(f"The number of clusters must be between 2 and {MAX_CLUSTERS} (got {self.k}).")
        if self.sample < self.k:
            raise SettingsError(f"The pixel sample ({self.sample}) must be at least the number of clusters ({self.k}).")
        if self.names_per_cluster < 1:
            raise SettingsError(f"Each cluster needs at least one name (got {self.names_per_cluster}).")


@dataclass
class LegendEntry:
    """One cluster: its raster value, colour, closest POI classes (best first) and share of the sampled pixels."""

    value: int
    colour: str
    names: list[str]
    share: float

    @property
    def label(self) -> str:
        return " / ".join(self.names)


@dataclass
class ClusterResult:
    """The paletted raster, its legend and the sidecars that carry the legend into QGIS and scripts."""

    raster: Path
    legend_file: Path
    style_file: Path
    legend: list[LegendEntry] = field(default_factory=list)


def class_names(model: LoadedModel) -> list[str]:
    """The POI classes recorded in the model card, most frequent first."""
    names = list(model.card.training.get("top_classes", {}))
    if not names:
        raise ModelFileError(
            f"The model card in {model.folder} lists no POI classes, so clusters cannot be named. Retrain the model."
        )
    return names


def naming_model_folder(embedding_tif: str | Path, folder: str | Path | None = None) -> Path:
    """The model that names the clusters: ``folder`` when given, else the one that wrote the raster (its tags)."""
    if folder:
        return Path(folder)
    with EmbeddingReader(embedding_tif, whole_read_bytes=0) as header:
        recorded = header.model_folder
    if recorded is None:
        raise InputDataError(
            f"{Path(embedding_tif).name} does not record the model that wrote it; give that model's folder."
        )
    return recorded


def class_descriptions(names: list[str]) -> list[str]:
    """The description of each class alone ("A place of cafe"), as clusters are named by them."""
    return [fill_template(CLASS_ONLY_TEMPLATE, {"class": clean_value(name)}) for name in names]


def closest_names(centres: np.ndarray, names: list[str], vectors: np.ndarray, names_per_cluster: int) -> list[list[str]]:
    """For each centre, the ``names`` whose ``vectors`` (normalised) are most similar to its direction, best first."""
    directions = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    scores = directions @ vectors.T
    return [[names[j] for j in np.argsort(-row)[:names_per_cluster]] for row in scores]


def name_clusters(model: LoadedModel, centres: np.ndarray, names_per_cluster: int) -> list[list[str]]:
    """For each centre, the POI classes whose description ("A place of cafe") is most similar to it, best first."""
    names = class_names(model)
    return closest_names(centres, names, embed_texts(model, class_descriptions(names)), names_per_cluster)


def numbered_names(centres: np.ndarray, names_per_cluster: int) -> list[list[str]]:
    """"cluster 0", "cluster 1", ...: the names when no model can describe the clusters."""
    return [[f"cluster {value}"] for value in range(len(centres))]


def cluster_namer(model: "LoadedModel | ClusterNamer | None") -> ClusterNamer:
    """The namer of a CaLLiPer model, a namer given as it is, or numbered names."""
    if isinstance(model, LoadedModel):
        return lambda centres, n: name_clusters(model, centres, n)
    return model if callable(model) else numbered_names


def nearest_centre(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the closest centre (Euclidean, as k-means assigns) for every row."""
    distances = (centres**2).sum(axis=1) - 2.0 * vectors @ centres.T
    return distances.argmin(axis=1)


def _fit_centres(reader: EmbeddingReader, settings: ClusterSettings) -> tuple[np.ndarray, np.ndarray]:
    """Centres sorted by cluster size (largest first) and their shares of the sample."""
    from sklearn.cluster import KMeans

    sample = reader.sample(settings.sample, settings.seed)
    if len(sample) < settings.k:
        raise SettingsError(
            f"The embedding raster {reader.path.name} has {len(sample)} pixels with data, fewer than "
            f"{settings.k} clusters. Choose fewer clusters or a larger raster."
        )
    kmeans = KMeans(n_clusters=settings.k, n_init=4, random_state=settings.seed).fit(sample)
    counts = np.bincount(kmeans.labels_, minlength=settings.k)
    order = np.argsort(-counts, kind="stable")
    return kmeans.cluster_centers_[order].astype(np.float32), counts[order] / counts.sum()


def qgis_style(legend: list[LegendEntry]) -> str:
    """A QGIS layer style (.qml) with a paletted renderer: QGIS loads it with the raster and shows the names."""
    entries = "\n".join(
        f"        <paletteEntry value=\"{entry.value}\" color=\"{entry.colour}\" alpha=\"255\" "
        f"label={quoteattr(entry.label)}/>"
        for entry in legend
    )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22" styleCategories="Symbology">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <colorPalette>
{entries}
      </colorPalette>
    </rasterrenderer>
  </pipe>
</qgis>
"""


def _legend(namer: ClusterNamer, centres: np.ndarray, shares: np.ndarray, names_per_cluster: int) -> list[LegendEntry]:
    colours = category_colormap(len(centres))
    return [
        LegendEntry(value, "#{:02x}{:02x}{:02x}".format(*colours[value][:3]), names, round(float(shares[value]), 4))
        for value, names in enumerate(namer(centres, names_per_cluster))
    ]


def _write_clusters(
    reader: EmbeddingReader, centres: np.ndarray, legend: list[LegendEntry], out: Path, control: JobControl
) -> Path:
    """Each pixel's nearest centre, paletted, with the legend in the tags (as the land-use class raster has it)."""

    def compute(xy: np.ndarray) -> np.ndarray:
        vectors = reader.vectors_at(xy)
        valid = np.isfinite(vectors).all(axis=1)
        values = np.full(len(xy), CLUSTER_NODATA, dtype=np.uint8)
        values[valid] = nearest_centre(vectors[valid], centres)
        return values[:, None]

    labels = {entry.value: entry.label for entry in legend}
    tags = {TAG_KIND: "clusters", "classes": json.dumps(labels, ensure_ascii=False),
            **{f"class_{value}": label for value, label in labels.items()}, **reader.provenance_tags()}
    return write_raster_by_blocks(
        reader.grid, out, 1, compute, dtype="uint8", nodata=CLUSTER_NODATA, band_names=["cluster"], control=control,
        colormap=category_colormap(len(centres)), tags=tags,
    )


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def cluster_raster(
    embedding_tif: str | Path,
    out: str | Path,
    model: Union[LoadedModel, ClusterNamer, None],
    settings: ClusterSettings | None = None,
    control: JobControl | None = None,
    overwrite: bool = False,
) -> ClusterResult:
    """Write a paletted uint8 cluster raster (255 = nodata) plus ``.json`` legend and ``.qml`` style beside it.

    ``model`` names the clusters: a CaLLiPer model (checked against the raster), any ``ClusterNamer``
    (e.g. an MMGR model's), or None for "cluster N".
    """
    settings = settings or ClusterSettings()
    control = control or JobControl()
    settings.validate()
    out = check_output_path(out, overwrite, inputs=(embedding_tif,))
    legend_file = check_output_path(out.with_suffix(".json"), overwrite, inputs=(embedding_tif,))
    style_file = check_output_path(out.with_suffix(".qml"), overwrite, inputs=(embedding_tif,))
    with EmbeddingReader(embedding_tif) as reader:
        if isinstance(model, LoadedModel):
            reader.check_model(model, control.log)
        control.report(0.0, "fitting k-means on a pixel sample")
        centres, shares = _fit_centres(reader, settings)
        legend = _legend(cluster_namer(model), centres, shares, settings.names_per_cluster)
        naming = model.folder if isinstance(model, LoadedModel) else reader.model_folder
        _write_clusters(reader, centres, legend, out, control.part(0.1, 1.0))
    document = {
        "raster": str(out), "source": str(embedding_tif), "model": str(naming) if naming else None, "k": settings.k,
        "seed": settings.seed, "legend": [asdict(entry) | {"label": entry.label} for entry in legend],
    }
    _write_text(legend_file, json.dumps(document, indent=2, ensure_ascii=False))
    _write_text(style_file, qgis_style(legend))
    return ClusterResult(out, legend_file, style_file, legend)
