"""Training MMGR region embeddings from an image and a POI layer: the one path every front end uses.

image -> tiles on the common extent (nodata tiles skipped) -> each tile's POIs ->
their descriptions' frozen text vectors (encoded once, cached, as for CaLLiPer) ->
contrastive training (two augmented views, tile vs POI set, optionally tile vs
CaLLiPer) -> model folder with its card -> the embedding of every tile.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..crs import crs_label, to_crs
from ..data.poi_io import PointTable
from ..devices import choose_device, cpu_threads
from ..errors import SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from ..model.files import MODEL_FOLDER_FILES, model_output_folder
from ..model.pipeline import poi_corpus
from ..text.descriptions import TextFields, TextTemplate
from ..text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct
from .augment import AugmentSettings, augment
from .files import LoadedMMGR, MMGRCard, save_mmgr
from .loss import LossWeights, mmgr_loss
from .model import MMGRNet, MMGRSettings
from .tiles import ImagerySettings, ImageTiles, chosen_bands, image_crs, open_image, read_tiles, tile_grid

EMBED_BATCH = 256


@dataclass
class MMGRTrainSettings:
    """Optimisation (MMGR: Adam, batch 128), loss, augmentations, the POIs a tile shows at most, device and seed."""

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    loss: LossWeights = field(default_factory=LossWeights)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    max_pois_per_tile: int = 32
    device: str = "auto"
    seed: int = 42
    cpu_threads: int | None = None
    """Torch CPU threads while training (None: torch's default). Small tiles on a busy machine train several
    times faster on one thread: thread hand-offs then cost more than the maths."""

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.max_pois_per_tile < 1:
            raise SettingsError(
                f"Training needs at least 1 epoch, batches of at least 2 tiles and 1 POI per tile "
                f"(got {self.epochs}, {self.batch_size}, {self.max_pois_per_tile})."
            )
        if not self.learning_rate > 0:
            raise SettingsError(f"The learning rate must be positive (got {self.learning_rate}).")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise SettingsError(f"CPU threads must be at least 1 (got {self.cpu_threads}).")
        self.loss.validate()


@dataclass
class MMGRJob:
    """Everything a run needs. ``calliper_model`` (a CaLLiPer folder) enables the tie term when its weight is set."""

    image: Path
    points: PointTable
    fields: TextFields
    out: Path
    imagery: ImagerySettings = field(default_factory=ImagerySettings)
    train: MMGRTrainSettings = field(default_factory=MMGRTrainSettings)
    template: TextTemplate = field(default_factory=TextTemplate)
    embed_dim: int = 128
    width: int = 32
    image_encoder: str = "small_cnn"
    backbone: dict = field(default_factory=dict)
    calliper_model: Path | None = None
    text_model: str | None = None
    layer_name: str = "the POI layer"
    overwrite: bool = False


@dataclass
class PoiSets:
    """Each kept tile's POIs as rows of ``vectors`` (frozen text embeddings), in CSR form."""

    offsets: np.ndarray
    members: np.ndarray
    vectors: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def batch(self, tiles: np.ndarray, limit: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, D) padded member vectors and (B, M) mask; a set larger than ``limit`` is subsampled."""
        chosen = []
        for tile in tiles:
            members = self.members[self.offsets[tile] : self.offsets[tile + 1]]
            chosen.append(rng.choice(members, limit, replace=False) if len(members) > limit else members)
        width = max(1, max(len(m) for m in chosen))
        vectors = np.zeros((len(tiles), width, self.vectors.shape[1]), dtype=np.float32)
        mask = np.zeros((len(tiles), width), dtype=bool)
        for row, members in enumerate(chosen):
            vectors[row, : len(members)] = self.vectors[members]
            mask[row, : len(members)] = True
        return torch.from_numpy(vectors), torch.from_numpy(mask)


@dataclass
class MMGROutcome:
    """The model folder, its card, the tiles and their embeddings (rows follow ``tiles.index``)."""

    folder: Path
    card: MMGRCard
    net: MMGRNet
    tiles: ImageTiles
    embeddings: np.ndarray
    poi_sets: PoiSets

    @property
    def model(self) -> LoadedMMGR:
        """The trained network (eval mode) with its card, as ``load_mmgr`` would return it."""
        return LoadedMMGR(self.net.eval(), self.card, self.folder)


def poi_sets(tiles: ImageTiles, xy: np.ndarray, text_index: np.ndarray, vectors: np.ndarray) -> PoiSets:
    """Group POIs (``xy`` in the tile grid's CRS, ``text_index`` into ``vectors``) by the kept tile containing them."""
    owner = tiles.tile_at(xy)
    keep = owner >= 0
    order = np.argsort(owner[keep], kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=len(tiles.index)))])
    return PoiSets(offsets, text_index[keep][order], vectors)


@torch.no_grad()
def embed_tiles(net: MMGRNet, pixels: np.ndarray, control: JobControl | None = None) -> np.ndarray:
    """(N, D) normalised embeddings of (N, bands, P, P) tiles, in eval mode."""
    control = control or JobControl()
    device = next(net.parameters()).device
    net.eval()
    out = np.empty((len(pixels), net.settings.embed_dim), dtype=np.float32)
    for start in range(0, len(pixels), EMBED_BATCH):
        control.check("Embedding tiles")
        batch = torch.from_numpy(pixels[start : start + EMBED_BATCH].astype(np.float32)).to(device)
        out[start : start + len(batch)] = net.encode_tiles(batch).cpu().numpy()
        control.report((start + len(batch)) / len(pixels))
    return out


@torch.no_grad()
def embed_poi_sets(net: MMGRNet, sets: PoiSets, tiles: np.ndarray, limit: int) -> np.ndarray:
    """(N, D) normalised embeddings of the POI sets of ``tiles`` (a set over ``limit`` is subsampled, seeded)."""
    device = next(net.parameters()).device
    net.eval()
    out = []
    rng = np.random.default_rng(0)
    for start in range(0, len(tiles), EMBED_BATCH):
        vectors, mask = sets.batch(tiles[start : start + EMBED_BATCH], limit, rng)
        out.append(net.encode_poi_sets(vectors.to(device), mask.to(device)).cpu().numpy())
    return np.concatenate(out)


def poi_match(tile_embeddings: np.ndarray, set_embeddings: np.ndarray) -> dict[str, float]:
    """How well tiles find their own POI set among all sets: top-1 share, mean rank, and chance top-1."""
    similarity = tile_embeddings @ set_embeddings.T
    own = np.diag(similarity)
    rank = 1 + (similarity > own[:, None]).sum(axis=1)
    others = (similarity.sum(axis=1) - own) / max(1, len(own) - 1)
    return {
        "top1": float((rank == 1).mean()), "mean_rank": float(rank.mean()), "chance_top1": 1.0 / len(own),
        "own_similarity": float(own.mean()), "other_similarity": float(others.mean()),
    }


def _tie_targets(job: MMGRJob, tiles: ImageTiles, control: JobControl) -> np.ndarray | None:
    """CaLLiPer embeddings of the tile centres, when the tie term is on."""
    if not (job.train.loss.tie and job.calliper_model):
        if job.train.loss.tie:
            raise SettingsError("The CaLLiPer tie term needs a CaLLiPer model folder.")
        return None
    from ..catalog.loading import load_model
    from ..model.inference import embed_locations

    calliper = load_model(job.calliper_model)
    if calliper.card.settings.embed_dim != job.embed_dim:
        raise SettingsError(
            f"The tie term compares embeddings: the CaLLiPer model makes {calliper.card.settings.embed_dim}-d ones, "
            f"so the MMGR embedding size must be {calliper.card.settings.embed_dim} (got {job.embed_dim})."
        )
    control.log(f"Tying tile embeddings to the CaLLiPer model in {job.calliper_model}.")
    return embed_locations(calliper, tiles.centres, crs=tiles.grid.crs)


def _train(
    net: MMGRNet, tiles: ImageTiles, sets: PoiSets, tie: np.ndarray | None, settings: MMGRTrainSettings,
    device: str, control: JobControl,
) -> list[dict]:
    """The training loop; one history row per epoch (mean loss terms and seconds)."""
    generator = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    has_pois = torch.from_numpy(sets.sizes > 0)
    n = len(tiles.index)
    batch_size = min(settings.batch_size, n)
    history = []
    for epoch in range(settings.epochs):
        started, sums, steps = time.perf_counter(), {}, 0
        net.train()
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):  # full batches only: BatchNorm needs company
            control.check("MMGR training")
            rows = order[start : start + batch_size]
            pixels = torch.from_numpy(tiles.pixels[rows].astype(np.float32))
            view_a = net.encode_tiles(augment(pixels, settings.augment, generator).to(device))
            view_b = net.encode_tiles(augment(pixels, settings.augment, generator).to(device))
            vectors, mask = sets.batch(rows, settings.max_pois_per_tile, rng)
            poi = net.encode_poi_sets(vectors.to(device), mask.to(device))
            targets = torch.from_numpy(tie[rows]).to(device) if tie is not None else None
            loss, terms = mmgr_loss(view_a, view_b, poi, has_pois[rows].to(device), settings.loss, targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps += 1
            for name, value in {"loss": float(loss.detach()), **terms}.items():
                sums[name] = sums.get(name, 0.0) + value
        row = {name: value / max(steps, 1) for name, value in sums.items()}
        history.append({"epoch": epoch + 1, **row, "seconds": time.perf_counter() - started})
        control.report((epoch + 1) / settings.epochs, f"epoch {epoch + 1}: loss {row.get('loss', float('nan')):.4f}")
    return history


def train_mmgr(job: MMGRJob, control: JobControl | None = None) -> MMGROutcome:
    """Train on ``job`` and write its model folder atomically; return the tiles' embeddings too."""
    control = control or JobControl()
    job.imagery.validate()
    job.train.validate()
    # The dock writes the region rasters into the model folder: they are Calliper's too.
    out = model_output_folder(job.out, job.overwrite, (job.image, job.points.source), control.log,
                              MODEL_FOLDER_FILES + ("region*",))
    with output_lock(out):
        corpus = poi_corpus(job, control)
        with open_image(job.image) as dataset:
            crs = image_crs(dataset)
            xy = to_crs(corpus.points.xy, corpus.points.crs, crs)  # once: the tile grid and the POI sets share it
            grid = tile_grid(dataset, xy, crs, job.imagery.tile_metres)
            tiles, statistics = read_tiles(dataset, grid, job.imagery, control=control.part(0.0, 0.15),
                                           scratch_dir=out.parent)
            bands = chosen_bands(dataset, job.imagery.bands)
        control.log(f"{len(tiles.index)} tiles of {job.imagery.tile_metres:g} m ({job.imagery.tile_pixels} px) kept, "
                    f"{tiles.skipped} without enough data skipped.")
        device = choose_device(job.train.device)
        if device.note:
            control.log(device.note)
        encoder = TextEncoder(job.text_model, device=device.device)
        vectors, n_encoded = encode_distinct(corpus.texts.texts, encoder, TextEmbeddingCache(), control.part(0.15, 0.2))
        sets = poi_sets(tiles, xy, corpus.texts.text_index, vectors)
        control.log(f"{int((sets.sizes > 0).sum())} tiles hold POIs ({len(sets.members)} POIs in tiles).")
        tie = _tie_targets(job, tiles, control)
        settings = MMGRSettings(
            bands=len(bands), tile_pixels=job.imagery.tile_pixels, text_dim=vectors.shape[1], embed_dim=job.embed_dim,
            width=job.width, image_encoder=job.image_encoder, backbone=dict(job.backbone),
        )
        torch.manual_seed(job.train.seed)
        net = MMGRNet(settings).to(device.device)
        with cpu_threads(job.train.cpu_threads):
            history = _train(net, tiles, sets, tie, job.train, device.device, control.part(0.2, 0.95))
            embeddings = embed_tiles(net, tiles.pixels, control.part(0.95, 1.0))
            with_pois = np.flatnonzero(sets.sizes > 0)
            match = poi_match(embeddings[with_pois], embed_poi_sets(net, sets, with_pois, job.train.max_pois_per_tile))
        card = MMGRCard(
            model=settings.to_dict(),
            imagery={**asdict(job.imagery), "bands": bands, "mean": statistics.mean.tolist(), "std": statistics.std.tolist()},
            crs_wkt=grid.crs.to_wkt(),
            crs_label=crs_label(grid.crs),
            text_model=encoder.name,
            text_model_id=encoder.model_id,
            text={**asdict(job.template), "fields": asdict(job.fields)},
            training={
                "image": str(Path(job.image).absolute()), "source": job.points.source, "layer": job.layer_name,
                "n_pois": corpus.texts.n_pois, "n_tiles": int(len(tiles.index)), "n_skipped_tiles": int(tiles.skipped),
                "n_tiles_with_pois": int(len(with_pois)), "extent": [float(v) for v in grid.bounds],
                "top_classes": corpus.top_classes, "settings": asdict(job.train), "device": device.device,
                "calliper_model": str(job.calliper_model) if job.calliper_model else None, "n_encoded_texts": n_encoded,
            },
            metrics={
                "history": history, "final_loss": history[-1].get("loss"),
                "seconds_per_epoch": float(np.mean([row["seconds"] for row in history])), "poi_match": match,
            },
        )
        save_mmgr(out, net.cpu(), card)
        return MMGROutcome(out, card, net, tiles, embeddings, sets)
