"""Train CaLLiPer + context graph from a point table (``encoder="grid_context"``).

The same path as :func:`pipeline.train_plain_from_points` with two
additions: every POI becomes a context POI stored with the model, and every POI gets
a second training row pairing its location with a caption of its surroundings
(:mod:`captions`), so text about what is *around* a place also finds it. Training is
``train.train`` unchanged: rows ``0..n-1`` pair locations with POI descriptions,
rows ``n..2n-1`` the same locations with their captions. Their random split may put a
POI's description and its caption on different sides, which makes the validation
loss a little optimistic; the ranking benchmark holds out whole POIs instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from ..data.streaming import PointSource
from ..errors import SettingsError
from ..jobs import JobControl
from ..locks import output_lock
from ..model.evidence import Evidence
from ..model.files import model_output_folder, save_model
from ..model.network import CalliperNet
from ..model.pipeline import (
    TrainJob,
    TrainOutcome,
    _encoder_device,
    model_coordinates,
    poi_corpus,
    resolved_scales,
    training_card,
)
from ..model.settings import ContextSettings
from ..model.train import EpochReport, TrainingData, train
from ..text.corpus import PoiCorpus
from ..text.descriptions import clean_value
from ..text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct
from .captions import describe_places
from .graph import StreetNetwork, read_streets
from .network import ContextNet, ContextStore

# Share of training captions that name the place's own class; the others say "a place".
CAPTION_SUBJECT_SHARE = 0.5
# Chance that a training caption states each fact of the place's graph (at least one is stated).
CAPTION_FACT_SHARE = 0.5


@dataclass
class ContextCorpus:
    """The described POIs in the model CRS, the streets and one caption per POI."""

    pois: PoiCorpus
    coords: np.ndarray
    metric: np.ndarray
    crs: object
    streets: StreetNetwork
    captions: list[str]


def context_corpus(job: TrainJob, control: JobControl) -> ContextCorpus:
    """Describe and caption the job's POIs; the streets come from ``streets`` in the encoder options.

    Captions need every POI's class at once, so a file given to stream is read whole.
    """
    if isinstance(job.points, PointSource):
        job = replace(job, points=job.points.whole())
    pois = poi_corpus(job, control)
    coords, metric, crs, _ = model_coordinates(pois.points, replace(job.model, encoder="grid"))
    context = ContextSettings(**job.model.encoder_options)
    streets = read_streets(context.streets, crs) if context.streets else StreetNetwork.empty()
    if context.streets:
        control.log(f"{len(streets.xy)} street nodes read from {context.streets}.")
    classes = pois.points.attributes[job.fields.class_field].map(clean_value).to_numpy(dtype=object)
    captions = describe_places(
        coords, classes, coords, classes, context, streets, CAPTION_SUBJECT_SHARE, CAPTION_FACT_SHARE, job.train.seed
    )
    return ContextCorpus(pois, coords, metric, crs, streets, [caption.text for caption in captions])


def train_context_from_points(
    job: TrainJob,
    control: JobControl | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    use_graph: bool = True,
) -> TrainOutcome:
    """Train a context-graph model on the job's POIs and write its folder (weights include the context POIs).

    ``use_graph=False`` trains a plain CaLLiPer network on the same descriptions and
    captions: the ablation that tells the graph's share of a gain from the captions'.
    """
    control = control or JobControl()
    job.model.validate()
    job.train.validate()
    if job.train.distributed:
        raise SettingsError(
            "The grid + context graph encoder trains in one process (its graphs are built per batch); "
            "train it without --distributed."
        )
    out = model_output_folder(job.out, job.overwrite, (job.points.source,), control.log)
    with output_lock(out):
        corpus = context_corpus(job, control)
        settings = resolved_scales(job.model, corpus.metric, control)
        encoder = TextEncoder(job.text_model, device=_encoder_device(job.train.device))
        texts = corpus.pois.texts
        n_texts = len(texts.texts)
        control.log(f"{texts.n_pois} POIs, {n_texts} distinct descriptions, {len(corpus.captions)} captions.")
        vectors, n_encoded = encode_distinct(
            texts.texts + corpus.captions, encoder, TextEmbeddingCache(), control.part(0.0, 0.2)
        )
        store = ContextStore(corpus.coords, texts.text_index, vectors[:n_texts], corpus.streets)
        torch.manual_seed(job.train.seed)  # the initial weights too: the same job and seed give the same model
        if use_graph:
            net = ContextNet(settings, vectors.shape[1], store)
        else:
            settings = replace(settings, encoder="grid", encoder_options={})
            net = CalliperNet(settings, vectors.shape[1])
        n = texts.n_pois
        data = TrainingData(
            coords=np.concatenate([corpus.coords, corpus.coords]),
            text_index=np.concatenate([texts.text_index, n_texts + np.arange(n)]),
            text_vectors=vectors,
        )
        result = train(net, data, job.train, control.part(0.2, 1.0), on_epoch)
        if result.device_note:
            control.log(result.device_note)
        card = training_card(job, settings, corpus.crs, net, encoder, texts, corpus.metric, result, corpus.pois.top_classes)
        card.training.update(n_context_pois=n, n_captions=n, n_street_nodes=len(corpus.streets.xy))
        save_model(out, net.cpu(), card, Evidence.from_corpus(corpus.pois, corpus.metric, corpus.crs))
        return TrainOutcome(folder=out, card=card, result=result, n_encoded=n_encoded)
