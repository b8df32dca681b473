"""Applying a trained model: locations and texts into the shared embedding space.

Every later feature (rasters, similarity, probes) goes through these two functions.
Both return L2-normalised float32 vectors, so a dot product is a cosine similarity.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import torch

from ..crs import parse_crs, to_crs
from ..errors import InputDataError
from ..jobs import JobControl
from ..text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct
from .files import LoadedModel
from .loss import MAX_LOGIT_SCALE


class TrainedModel(Protocol):
    """Any loaded model of ours (CaLLiPer or MMGR): a network and a card naming its text model."""

    net: torch.nn.Module
    card: object

LOCATION_BATCH = 65_536


def model_crs(model: LoadedModel):
    """The CRS of the coordinates the model's encoder reads."""
    return parse_crs(model.card.crs_wkt, f"The model in {model.folder}")


def to_model_coordinates(model: LoadedModel, xy: np.ndarray, crs: object | None) -> np.ndarray:
    """Coordinates in the model's CRS (``crs=None`` means they already are)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if crs is not None:
        xy = to_crs(xy, parse_crs(crs, "The points"), model_crs(model))
    if not np.isfinite(xy).all():
        raise InputDataError("Some locations have no finite coordinates (NaN or infinite) in the model's CRS.")
    return xy


@torch.inference_mode()
def embed_locations(
    model: LoadedModel,
    xy: np.ndarray,
    crs: object | None = None,
    batch_size: int = LOCATION_BATCH,
    control: JobControl | None = None,
    encode: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """(N, D) normalised location embeddings for points ``xy`` given in ``crs``.

    ``encode`` replaces ``model.net.encode_location`` (rasters use ``batching.frozen_location_encoder``).
    """
    control = control or JobControl()
    encode = encode or model.net.encode_location
    coords = to_model_coordinates(model, xy, crs)
    device = next(model.net.parameters()).device
    out = np.empty((len(coords), model.card.settings.embed_dim), dtype=np.float32)
    for start in range(0, len(coords), batch_size):
        control.check("Embedding locations")
        batch = torch.from_numpy(coords[start : start + batch_size]).to(device)
        out[start : start + len(batch)] = encode(batch).float().cpu().numpy()
        control.report((start + len(batch)) / max(len(coords), 1))
    return out


@torch.no_grad()
def embed_texts(model: LoadedModel, texts: list[str], encoder: TextEncoder | None = None,
                normalise: bool = True) -> np.ndarray:
    """(N, D) projections of ``texts`` through the frozen encoder and the model's text projection.

    Normalised by default, so a dot product with a location is a cosine; ``normalise=False``
    gives the vectors the training loss saw (see ``training_logits``).
    """
    encoder = encoder or text_encoder_for(model)
    vectors, _ = encode_distinct(list(texts), encoder, TextEmbeddingCache())
    device = next(model.net.parameters()).device
    projected = model.net.encode_text(torch.from_numpy(vectors).to(device))
    return (torch.nn.functional.normalize(projected, dim=-1) if normalise else projected).cpu().numpy()


def logit_scale(model: LoadedModel) -> float:
    """The learnt inverse temperature of the contrastive loss (as the loss clamps it)."""
    return float(model.net.logit_scale.detach().clamp(max=MAX_LOGIT_SCALE).exp())


@torch.no_grad()
def training_logits(model: LoadedModel, locations: np.ndarray, texts: list[str]) -> np.ndarray:
    """(L, T) logits of the contrastive loss: the learnt scale times location . projected text.

    InfoNCE makes these estimate log p(location | text) / p(location) up to a constant per
    location, so adding a text's log prior gives a posterior over texts (``describe``).
    """
    return logit_scale(model) * np.asarray(locations, dtype=np.float32) @ embed_texts(model, texts, normalise=False).T


def embed_phrase(model: LoadedModel, phrase: str) -> np.ndarray:
    """(D,) normalised projection of a user's phrase, e.g. "nightlife"; an empty phrase is refused."""
    phrase = " ".join(str(phrase).split())
    if not phrase:
        raise InputDataError("The phrase is empty. Type a few words describing a kind of place.")
    return embed_texts(model, [phrase])[0]


def text_encoder_for(model: TrainedModel) -> TextEncoder:
    """The text encoder a model (CaLLiPer or MMGR) was trained with (from its card), on the model's device."""
    return TextEncoder(model.card.text_model, device=str(next(model.net.parameters()).device))

