"""A model's profile of locations over a vocabulary, and how alike two profiles are.

The profile is a softmax over the vocabulary of the model's contrastive logits (its
learnt scale times the cosine of the location with each text), with equal priors.
InfoNCE makes a logit estimate log p(location | text) / p(location) up to a constant
per location, so this softmax is p(text | location) had every text been equally
common in training: how much each word is *over-represented* at a place. The class
priors of ``describe`` are left out on purpose: they are one city's base rates, and
two cities' profiles would then differ by their POI mix rather than by place.

Two profiles are compared by the correlation of their log-profiles (Pearson over the
vocabulary). The log-profile is the logits less a constant, so this is the
correlation of the two locations' cosines with the words: it ignores the per-location
constant and each model's own temperature, which differ between models.
"""

from __future__ import annotations

import numpy as np

from ..model.files import LoadedModel
from ..model.inference import embed_texts, logit_scale
from .vocabulary import Vocabulary

MIN_SPREAD = 1e-9


class Profiler:
    """``profiles(vectors)``: (N, V) float32 profiles of location embeddings (NaN rows stay NaN)."""

    def __init__(self, model: LoadedModel, vocabulary: Vocabulary) -> None:
        if not len(vocabulary):
            raise ValueError("a profile needs at least one word")
        self.vocabulary = vocabulary
        self.texts = embed_texts(model, vocabulary.texts).astype(np.float32)
        self.scale = logit_scale(model)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return self.scale * (np.asarray(vectors, np.float32) @ self.texts.T)

    def profiles(self, vectors: np.ndarray) -> np.ndarray:
        logits = self.logits(vectors)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)

    def log_profiles(self, vectors: np.ndarray) -> np.ndarray:
        """log p over the vocabulary, computed without underflow (features for probes)."""
        logits = self.logits(vectors).astype(np.float64)
        top = logits.max(axis=1, keepdims=True)
        return (logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))).astype(np.float32)


def centred(log_profiles: np.ndarray) -> np.ndarray:
    """Each row less its mean and scaled to unit length: a dot product of two rows is their correlation."""
    rows = np.asarray(log_profiles, np.float64)
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), MIN_SPREAD)


def affinity(query_log_profile: np.ndarray, log_profiles: np.ndarray) -> np.ndarray:
    """(N,) correlation of each log-profile with the query's, in [-1, 1]."""
    return (centred(log_profiles) @ centred(np.atleast_2d(query_log_profile))[0]).astype(np.float32)
