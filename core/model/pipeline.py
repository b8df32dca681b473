"""Train a plain CaLLiPer model from a point table; ``catalog.training`` picks this path or the context one.

POI table -> descriptions -> metric (or lon/lat) coordinates -> scales -> distinct
text embeddings (cached) -> training -> model folder with its card.

A table in memory (a QGIS layer) is described whole; a file given as a
``streaming.PointSource`` is read chunk by chunk and its distinct texts' vectors go to
a memory-mapped file, so a country's POIs train in the memory of their coordinates.
Both give the same text ids, hence the same model.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..crs import LONLAT, choose_metric_crs, crs_label, to_crs
from ..data.poi_io import NOT_CLASS_VALUES, PointTable
from ..data.streaming import PointSource
from ..devices import choose_device
from ..errors import FieldError, InputDataError, SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from ..text.corpus import PoiCorpus, stream_corpus, table_corpus
from ..text.descriptions import PoiTexts, TextFields, TextTemplate
from ..text.encoder import TEXT_VECTOR_DTYPES, TextEmbeddingCache, TextEncoder, encode_distinct, encode_distinct_to_file
from . import NAMED_TEXTS_LIMIT
from .distributed import DistributedRun, start_distributed
from .evidence import Evidence
from .files import ModelCard, model_output_folder, save_model
from .network import CalliperNet
from .scales import auto_scales
from .settings import ModelSettings
from .train import EpochReport, TrainingData, TrainResult, TrainSettings, train


@dataclass
class TrainJob:
    """Everything a training run needs; built by each front end from its own inputs.

    ``points`` is a table in memory, or a file to stream (``PointSource``: the CLI's
    choice, so a file larger than memory trains). ``text_dtype`` float16 halves the
    text-vector matrix.
    """

    points: PointTable | PointSource
    fields: TextFields
    out: Path
    template: TextTemplate = field(default_factory=TextTemplate)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    text_model: str | None = None
    layer_name: str = "the POI layer"
    overwrite: bool = False
    text_dtype: str = "float32"


@dataclass
class TrainOutcome:
    """The saved model folder, its card and the training history."""

    folder: Path
    card: ModelCard
    result: TrainResult
    n_encoded: int
    saved: bool = True
    """False in the processes of a distributed run that leave saving to the first."""


def model_coordinates(points: PointTable, settings: ModelSettings) -> tuple[np.ndarray, np.ndarray, object, object]:
    """(coordinates the encoder reads, metric coordinates, model CRS, metric CRS) for a point table."""
    from .location_encoders import LOCATION_ENCODERS

    metric_crs = choose_metric_crs(points.xy, points.crs)
    metric = to_crs(points.xy, points.crs, metric_crs)
    if not np.isfinite(metric).all():
        raise InputDataError("Some POIs could not be moved into a metric CRS (they lie outside its valid area).")
    if LOCATION_ENCODERS[settings.encoder].coordinate_kind == "lonlat":
        return to_crs(points.xy, points.crs, LONLAT), metric, LONLAT, metric_crs
    return metric, metric, metric_crs, metric_crs


def _described(job: TrainJob, template: TextTemplate, control: JobControl) -> PoiCorpus:
    if isinstance(job.points, PointSource):
        return stream_corpus(job.points, job.fields, template, job.layer_name, control)
    return table_corpus(job.points, job.fields, template, job.layer_name)


def poi_corpus(job: TrainJob, control: JobControl) -> PoiCorpus:
    """The job's described POIs, streamed from a file or taken from the table; refused when nothing can be learnt.

    Names chosen automatically (``include_name`` None) are kept only while the distinct
    descriptions stay under ``NAMED_TEXTS_LIMIT``; ``job.template`` then records the choice.
    """
    corpus = _described(job, job.template, control)
    if job.template.include_name is None and job.template.template is None and job.fields.name_field:
        n_named = len(corpus.texts.texts)
        if n_named > NAMED_TEXTS_LIMIT:
            control.log(
                f"Names were not appended: with them {job.layer_name} has {n_named:,} distinct descriptions, more "
                f"than {NAMED_TEXTS_LIMIT:,} to encode quickly. Ask for names explicitly to use them anyway."
            )
            job.template = replace(job.template, include_name=False)
            corpus = _described(job, job.template, control)
        else:
            control.log(f"Names appended to the descriptions (CaLLiPer+): {n_named:,} distinct descriptions.")
            job.template = replace(job.template, include_name=True)
    texts = corpus.texts
    if texts.n_pois and texts.class_from_category == texts.n_pois:
        category = job.fields.category_field
        raise FieldError(
            f"The class field '{job.fields.class_field}' of {job.layer_name} holds no class in any of its "
            f"{texts.n_pois:,} POIs (every value is empty or one of "
            f"{', '.join(repr(v) for v in sorted(NOT_CLASS_VALUES) if v)}). Choose another class field"
            + (f", or the category field '{category}' as the class." if category else ".")
        )
    if texts.class_from_category:
        control.log(f"{texts.class_from_category:,} POIs of {job.layer_name} have a class value that names no class "
                    f"({', '.join(repr(v) for v in sorted(NOT_CLASS_VALUES) if v)} or empty): their category stands in.")
    if texts.dropped:
        control.log(f"{texts.dropped} POIs of {job.layer_name} have an empty required field and were left out.")
    if texts.n_pois < 2:
        raise InputDataError(f"{job.layer_name} has {texts.n_pois} POI(s) with a description; training needs at least 2.")
    if len(texts.texts) < 2:
        raise InputDataError(
            f"Every POI of {job.layer_name} has the same description ('{texts.texts[0]}'), so there is nothing to "
            f"tell places apart. Choose a class field with several values (field '{job.fields.class_field}')."
        )
    return corpus


def _text_vectors(
    job: TrainJob, texts: list[str], encoder: TextEncoder, control: JobControl, scratch: ExitStack
) -> tuple[np.ndarray, int]:
    """Distinct texts' vectors: in memory for a table, memory-mapped in a scratch folder for a streamed file."""
    if isinstance(job.points, PointSource):
        # Windows cannot delete a file still mapped; the folder is then left to the temp cleaner
        scratch_dir = tempfile.TemporaryDirectory(prefix="calliper-texts-", ignore_cleanup_errors=True)
        folder = Path(scratch.enter_context(scratch_dir))
        return encode_distinct_to_file(texts, encoder, folder / "vectors.npy", job.text_dtype, TextEmbeddingCache(), control)
    vectors, n_encoded = encode_distinct(texts, encoder, TextEmbeddingCache(), control)
    return vectors.astype(job.text_dtype, copy=False), n_encoded


def train_plain_from_points(
    job: TrainJob, control: JobControl | None = None, on_epoch: Callable[[EpochReport], None] | None = None
) -> TrainOutcome:
    """Run the whole training path of a plain CaLLiPer network and write the model folder atomically."""
    control = control or JobControl()
    job.model.validate()
    job.train.validate()
    if job.text_dtype not in TEXT_VECTOR_DTYPES:
        raise SettingsError(f"Text vectors are stored as {' or '.join(TEXT_VECTOR_DTYPES)} (got {job.text_dtype!r}).")
    out = model_output_folder(job.out, job.overwrite, (job.points.source,), control.log)
    run = start_distributed(choose_device(job.train.device).is_cuda) if job.train.distributed else None
    with (output_lock(out) if run is None or run.is_main else nullcontext(out)):
        if run is not None and not run.is_main:
            control = JobControl(is_cancelled=control.is_cancelled)  # one process speaks for the group
        corpus = poi_corpus(job, control.part(0.0, 0.1))
        texts = corpus.texts
        coords, metric, model_crs, metric_crs = model_coordinates(corpus.points, job.model)
        settings = resolved_scales(job.model, metric, control)
        encoder = TextEncoder(job.text_model, device=_encoder_device(job.train.device))
        control.log(f"{texts.n_pois} POIs, {len(texts.texts)} distinct descriptions.")
        with ExitStack() as scratch:
            started = time.perf_counter()
            vectors, n_encoded = _encode_once(job, texts.texts, encoder, control.part(0.1, 0.2), scratch, run)
            control.log(f"Encoded {n_encoded} new descriptions ({len(texts.texts) - n_encoded} from the cache) "
                        f"in {time.perf_counter() - started:.1f} s.")
            torch.manual_seed(job.train.seed)  # the initial weights too: the same job and seed give the same model
            net = CalliperNet(settings, text_dim=vectors.shape[1])
            data = TrainingData(coords=coords, text_index=texts.text_index, text_vectors=vectors)
            result = train(net, data, job.train, control.part(0.2, 1.0), on_epoch)
        if result.device_note:
            control.log(result.device_note)
        card = training_card(job, settings, model_crs, net, encoder, texts, metric, result, corpus.top_classes)
        saved = run is None or run.is_main
        if saved:
            save_model(out, net.cpu(), card, Evidence.from_corpus(corpus, metric, metric_crs))
        if run is not None:
            run.finish()  # the others wait for the model to be written before the group closes
        return TrainOutcome(folder=out, card=card, result=result, n_encoded=n_encoded, saved=saved)


def _encode_once(
    job: TrainJob, texts: list[str], encoder: TextEncoder, control: JobControl, scratch: ExitStack,
    run: DistributedRun | None,
) -> tuple[np.ndarray, int]:
    """Text vectors; in a process group the main process encodes first and the others then read its cache."""
    if run is None:
        return _text_vectors(job, texts, encoder, control, scratch)
    if run.is_main:
        vectors = _text_vectors(job, texts, encoder, control, scratch)
    run.barrier()
    if not run.is_main:
        vectors = _text_vectors(job, texts, encoder, control, scratch)
    return vectors


def resolved_scales(model: ModelSettings, metric: np.ndarray, control: JobControl) -> ModelSettings:
    """A copy of ``model`` with scales left to "auto" chosen from the POIs' metric coordinates."""
    settings = ModelSettings(**asdict(model))
    if settings.min_lambda is None or settings.max_lambda is None:
        auto_min, auto_max = auto_scales(metric)
        settings.min_lambda = settings.min_lambda or auto_min
        settings.max_lambda = settings.max_lambda or auto_max
        control.log(f"Scales chosen from the data: {settings.min_lambda} m to {settings.max_lambda} m.")
    settings.validate()
    return settings


def training_card(
    job: TrainJob, settings: ModelSettings, model_crs: object, net: CalliperNet, encoder: TextEncoder,
    texts: PoiTexts, metric: np.ndarray, result: TrainResult, top_classes: dict,
) -> ModelCard:
    """The card of a model trained by ``job``: how to rebuild it, its CRS and texts, the data and the run."""
    return ModelCard(
        model=settings.as_dict(),
        crs_wkt=model_crs.to_wkt(),
        crs_label=crs_label(model_crs),
        coordinate_kind=net.coordinate_kind,
        text_dim=int(net.text_projection.in_features),
        text_model=encoder.name,
        text_model_id=encoder.model_id,
        text={**asdict(job.template), "fields": asdict(job.fields)},
        training={
            "source": job.points.source,
            "layer": job.layer_name,
            "source_crs": crs_label(job.points.crs),
            "n_pois": texts.n_pois,
            "n_dropped": texts.dropped,
            "n_distinct_texts": len(texts.texts),
            "extent": [float(v) for v in (*metric.min(axis=0), *metric.max(axis=0))],
            "top_classes": top_classes,
            "settings": {**asdict(job.train), "batch_size": result.batch_size},
            "device": result.device,
            "processes": result.world_size,
            "text_dtype": job.text_dtype,
        },
        metrics={
            "best_val_loss": result.best_val_loss,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "final_train_loss": result.history[-1].train_loss,
            "n_train": result.n_train,
            "n_val": result.n_val,
            "seconds": round(result.seconds, 2),
        },
    )


def _encoder_device(requested: str) -> str:
    return choose_device(requested).device
