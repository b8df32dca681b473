"""Phrase maps that use the evidence: the training POIs the phrase matches, with the model's similarity as an option.

Asked "where is nightlife", a GIS user would map the distance to bars and pubs; on
places the model never saw, that simple map beat the model's own (bench/retrieval.py).
The default phrase map therefore starts from the evidence the model folder keeps:

- the phrase is matched to the model's classes with the frozen text encoder (cosine
  of the phrase with each class description), keeping the ``MATCHED_CLASSES`` best,
  weighted by a softmax at ``MATCH_TEMPERATURE``;
- the evidence at a location is the log of a heavy-tailed (Cauchy) kernel density of
  the ``KERNEL_NEIGHBOURS`` nearest training POIs of those classes, weighted by their
  class's match: near matching POIs it counts them like a density, far from any it
  still falls with the distance to the nearest (a Gaussian kernel ties there);
- the model's similarity can be added with ``model_weight``; each part is calibrated
  on the training POIs' own positions (z-scores over a fixed sample), so the sum does
  not depend on the raster's extent and stays block-wise. On the validation blocks
  of both shared cities every weight tried (0.05 to 0.5) lost Hit@10% against the
  evidence alone (the model extrapolates badly into unseen blocks and its scores
  there leave the calibrated range), so the default weight is 0: the "model" map
  stays a choice of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..crs import parse_crs, to_crs
from ..errors import ModelFileError
from ..model.evidence import Evidence
from ..model.files import LoadedModel
from ..model.inference import embed_locations, embed_phrase, text_encoder_for
from .clusters import class_descriptions

MATCHED_CLASSES = 3
MATCH_TEMPERATURE = 0.05
KERNEL_NEIGHBOURS = 64
MODEL_WEIGHT = 0.0  # chosen on validation blocks (bench/retrieval.py): any weight tried lost there
CALIBRATION_SAMPLE = 4096
MIN_BANDWIDTH = 100.0


@dataclass
class ClassMatch:
    """The classes a phrase stands for and the weight of each (summing to 1)."""

    classes: list[str]
    weights: np.ndarray

    def describe(self) -> str:
        """The classes with a visible weight ("pub (73%), bar (27%)"); negligible ones are only counted."""
        shown = [f"{name} ({weight:.0%})" for name, weight in zip(self.classes, self.weights) if weight >= 0.005]
        hidden = len(self.classes) - len(shown)
        return ", ".join(shown) + (f" and {hidden} more below 1%" if hidden else "")


def match_classes(similarities: np.ndarray, classes: list[str], k: int = MATCHED_CLASSES,
                  temperature: float = MATCH_TEMPERATURE) -> ClassMatch:
    """The ``k`` classes with the highest similarity to the phrase, weighted by a softmax at ``temperature``."""
    best = np.argsort(-similarities, kind="stable")[: max(1, min(k, len(classes)))]
    logits = similarities[best] / temperature
    weights = np.exp(logits - logits.max())
    return ClassMatch([classes[i] for i in best], weights / weights.sum())


def phrase_class_match(model: LoadedModel, evidence: Evidence, phrase: str) -> ClassMatch:
    """The model's classes the phrase is about, by the frozen text encoder (the space every model shares)."""
    encoder = text_encoder_for(model)
    vectors = encoder.encode([" ".join(str(phrase).split())] + class_descriptions(evidence.classes))
    return match_classes(vectors[1:] @ vectors[0], evidence.classes)


def evidence_bandwidth(evidence: Evidence) -> float:
    """The kernel's bandwidth for these POIs: the mask distance (their spacing), at least ``MIN_BANDWIDTH``."""
    return float(max(evidence.default_distance(), MIN_BANDWIDTH))


@dataclass
class EvidenceDensity:
    """A weighted Cauchy kernel density of points (metric CRS) over each location's ``neighbours`` nearest points."""

    xy: np.ndarray
    weights: np.ndarray
    bandwidth: float
    neighbours: int = KERNEL_NEIGHBOURS

    def __post_init__(self) -> None:
        from scipy.spatial import cKDTree

        self.tree = cKDTree(self.xy) if len(self.xy) else None

    def log_density(self, xy: np.ndarray) -> np.ndarray:
        """log(sum_i w_i / (1 + (d_i / h)^2)) over the nearest points; 0 everywhere when there are none."""
        if self.tree is None or not len(xy):
            return np.zeros(len(xy))
        k = min(self.neighbours, len(self.xy))
        distance, rows = self.tree.query(xy, k=k)
        distance, rows = distance.reshape(len(xy), k), rows.reshape(len(xy), k)
        return np.log((self.weights[rows] / (1.0 + (distance / self.bandwidth) ** 2)).sum(axis=1))


@dataclass
class Calibration:
    """Mean and spread of a score over the training POIs' positions."""

    mean: float
    spread: float

    @classmethod
    def of(cls, values: np.ndarray) -> Calibration:
        values = np.asarray(values, np.float64)
        return cls(float(values.mean()), float(max(values.std(), 1e-6)))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, np.float64) - self.mean) / self.spread


def fuse(model_scores: np.ndarray, log_density: np.ndarray, model: Calibration, evidence: Calibration,
         model_weight: float = MODEL_WEIGHT) -> np.ndarray:
    """The default phrase score: calibrated evidence plus ``model_weight`` x calibrated model similarity."""
    return (evidence(log_density) + model_weight * model(model_scores)).astype(np.float32)


class PhraseScorer:
    """One phrase's scores at locations: the evidence of the matched POIs, plus ``model_weight`` x the model's.

    Locations come as their embeddings (read from an embedding raster, or computed) and
    their coordinates in ``crs``; the model's part is skipped when its weight is 0.
    """

    def __init__(self, model: LoadedModel, evidence: Evidence, phrase: str, model_weight: float = MODEL_WEIGHT,
                 bandwidth: float | None = None, neighbours: int = KERNEL_NEIGHBOURS) -> None:
        if not evidence.classes:
            raise ModelFileError(
                f"The model in {model.folder} keeps no POI classes, so its phrase maps cannot use the evidence; "
                "retrain it, or make a model-only phrase map."
            )
        self.model_weight = model_weight
        self.vector = embed_phrase(model, phrase)
        self.match = phrase_class_match(model, evidence, phrase)
        lookup = {name: i for i, name in enumerate(evidence.classes)}
        class_weight = np.zeros(len(evidence.classes))
        class_weight[[lookup[name] for name in self.match.classes]] = self.match.weights
        chosen = class_weight[evidence.class_index] > 0
        self.bandwidth = float(bandwidth or evidence_bandwidth(evidence))
        self.density = EvidenceDensity(evidence.xy[chosen], class_weight[evidence.class_index[chosen]], self.bandwidth,
                                       neighbours)
        self.evidence_crs = parse_crs(evidence.crs_wkt)
        reference = evidence.xy[np.random.default_rng(0).permutation(len(evidence.xy))[:CALIBRATION_SAMPLE]]
        self.evidence_calibration = Calibration.of(self.density.log_density(reference))
        self.model_calibration = Calibration(0.0, 1.0)
        if model_weight:
            self.model_calibration = Calibration.of(embed_locations(model, reference, self.evidence_crs) @ self.vector)

    def describe(self) -> str:
        """What the map shows, for its tags and the log."""
        return f"matched POI classes {self.match.describe()}; model weight {self.model_weight:g}"

    def model_similarity(self, vectors: np.ndarray) -> np.ndarray:
        """The cosine of each location embedding with the phrase (the model alone)."""
        return (np.asarray(vectors, np.float32) @ self.vector).astype(np.float32)

    def scores(self, vectors: np.ndarray, xy: np.ndarray, crs: object) -> np.ndarray:
        """The default map's values at locations ``xy`` (in ``crs``) whose embeddings are ``vectors``."""
        crs = parse_crs(crs)
        metric = xy if crs == self.evidence_crs else to_crs(np.asarray(xy, np.float64), crs, self.evidence_crs)
        similarity = self.model_similarity(vectors) if self.model_weight else np.zeros(len(xy))
        return fuse(similarity, self.density.log_density(metric), self.model_calibration, self.evidence_calibration,
                    self.model_weight)
