"""Describe a place in words: its POI classes ranked by the model and by the training POIs nearby.

Every class the model learned from is a description in the same space as the
location embeddings ("A place of cafe"), so a location reads as a ranked list of
them; beside it, the nearest training POIs, so the user sees what evidence is there.

A class's score blends two posteriors p(class | place), both shown to the user:

- the model's: the contrastive logit of a (location, text) pair estimates how much
  more likely the location is for that text than on average, so adding each class's
  log share of the training POIs and normalising over the classes gives a posterior
  (raw cosines ranked rare classes first and lost to the base rates);
- the POIs': each class's heavy-tailed kernel density of its training POIs around the
  place (``class_evidence``: the phrase map's kernel and bandwidth), normalised.

The blend is a weighted geometric mean, p ∝ p_model^(1-w) p_POIs^w, normalised; w is
``EVIDENCE_WEIGHT``, chosen on validation blocks (below). On places the model never saw
its posterior said no more than the city's base rates; the POIs nearby did.
A user's phrase has no POIs of its own: it keeps the model's posterior, as one more
text beside the classes with an average class's prior, listed apart from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..crs import LONLAT, crs_label, parse_crs, to_crs
from ..errors import InputDataError, ModelFileError, SettingsError
from ..model.evidence import Evidence, load_evidence
from ..model.files import LoadedModel
from ..model.inference import embed_locations, model_crs, training_logits
from . import DESCRIBE_EVIDENCE_WEIGHT
from .class_evidence import ClassDensities
from .clusters import class_descriptions

NEAREST_POIS = 5
EVIDENCE_WEIGHT = DESCRIBE_EVIDENCE_WEIGHT  # how it was chosen: core/maps/__init__.py


@dataclass
class Description:
    """One text's score at a place and its parts: the model's and the training POIs' (None for a phrase)."""

    text: str
    poi_class: str | None
    score: float
    model: float
    evidence: float | None


@dataclass
class NearbyPoi:
    poi_class: str
    name: str
    distance_m: float


@dataclass
class PlaceDescription:
    """The classes best describing one location with what each part says, the user's phrases, the nearest POIs."""

    location: tuple[float, float]
    crs: str
    evidence_weight: float
    descriptions: list[Description]
    phrases: list[Description]
    nearest_pois: list[NearbyPoi]

    def as_dict(self) -> dict:
        """The JSON shape of ``calliper describe --json``."""
        return {
            "location": list(self.location), "crs": self.crs, "evidence_weight": self.evidence_weight,
            "descriptions": [{"text": d.text, "class": d.poi_class, "score": d.score, "model": d.model,
                              "evidence": d.evidence} for d in self.descriptions],
            "phrases": [{"text": d.text, "score": d.score} for d in self.phrases],
            "nearest_pois": [{"class": p.poi_class, "name": p.name, "distance_m": p.distance_m}
                             for p in self.nearest_pois],
        }

    def blend_label(self) -> str:
        """How the score is made, in words ("0.7 x the POIs nearby + 0.3 x the model, as log-probabilities")."""
        return blend_label(self.evidence_weight)

    def as_text(self) -> str:
        """Plain text for the clipboard and the terminal."""
        lines = [f"Place at {self.location[0]:.6g}, {self.location[1]:.6g} ({self.crs})", "",
                 f"What is here ({self.blend_label()}):", "   score   model  POIs near"]
        lines += [f"  {d.score:6.1%}  {d.model:6.1%}  {d.evidence:6.1%}  {d.text}" for d in self.descriptions]
        if self.phrases:
            lines += ["", "Your phrases (the model alone, each beside the classes):"]
            lines += [f"  {d.score:6.1%}  {d.text}" for d in self.phrases]
        lines += ["", "Nearest training POIs:"]
        lines += [f"  {p.distance_m:7.0f} m  {p.poi_class}" + (f" ({p.name})" if p.name else "") for p in self.nearest_pois]
        return "\n".join(lines)


def model_evidence(model: LoadedModel, purpose: str = "describe places") -> Evidence:
    """The model's training POIs with their classes; refused, naming ``purpose``, for a model that kept none."""
    evidence = load_evidence(model.folder)
    if evidence is None or not evidence.classes:
        raise ModelFileError(
            f"The model in {model.folder} was trained before Calliper kept its POIs and classes; retrain it to "
            f"{purpose}."
        )
    return evidence


def check_in_crs_area(xy: np.ndarray, crs: object, model: LoadedModel) -> None:
    """Refuse points outside the area the model's CRS is defined for (a UTM zone is a few degrees wide)."""
    area = parse_crs(model.card.crs_wkt).area_of_use
    if area is None:
        return
    lon, lat = to_crs(np.asarray(xy, dtype=np.float64).reshape(-1, 2), parse_crs(crs), LONLAT).T
    outside = ~((lon >= area.west - 1) & (lon <= area.east + 1) & (lat >= area.south - 1) & (lat <= area.north + 1))
    if outside.any():
        raise InputDataError(
            f"The point lies outside the area of the model's CRS ({model.card.crs_label}: longitudes {area.west:g} "
            f"to {area.east:g}, latitudes {area.south:g} to {area.north:g}). "
            "Give a point in the city the model was trained on, and its CRS with --point-crs."
        )


def blend_label(weight: float) -> str:
    """The blend in words, for every front end."""
    if weight >= 1:
        return "the training POIs nearby alone"
    if weight <= 0:
        return "the model alone"
    return f"{weight:g} x the training POIs nearby + {1 - weight:g} x the model, as log-probabilities"


def check_weight(weight: float) -> float:
    """The evidence weight, refused outside 0 (the model alone) to 1 (the POIs alone)."""
    if not 0.0 <= weight <= 1.0:
        raise SettingsError(f"The evidence weight must be between 0 (the model alone) and 1 (the POIs alone); "
                            f"got {weight:g}.")
    return float(weight)


@dataclass
class ClassScores:
    """(L, C) log p(class | location) for ``classes`` (most frequent first), by the model and by the POIs."""

    classes: list[str]
    model_log: np.ndarray
    evidence_log: np.ndarray

    @property
    def model(self) -> np.ndarray:
        return np.exp(self.model_log)

    @property
    def evidence(self) -> np.ndarray:
        return np.exp(self.evidence_log)

    def blend(self, weight: float = EVIDENCE_WEIGHT) -> np.ndarray:
        """p ∝ p_model^(1 - weight) x p_POIs^weight, normalised over the classes."""
        from scipy.special import softmax

        return softmax((1.0 - weight) * self.model_log + weight * self.evidence_log, axis=1)


def best_first(scores: np.ndarray, top: int) -> np.ndarray:
    """(L, top) column indices of the highest scores, best first (ties: the more frequent class)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, : max(int(top), 1)]


def class_logits(model: LoadedModel, evidence: Evidence, locations: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The model's classes, most frequent first, and (L, C) their training logits plus each one's log share of
    the training POIs: log p(class | location) up to a constant per location."""
    counts = evidence.class_counts()
    shares = np.array(list(counts.values()), dtype=np.float64) / sum(counts.values())
    classes = list(counts)
    return classes, training_logits(model, locations, class_descriptions(classes)) + np.log(shares)[None, :]


def class_scores(evidence: Evidence, classes: list[str], logits: np.ndarray, metric_xy: np.ndarray) -> ClassScores:
    """Both parts, from the model's ``class_logits`` and the locations in the evidence's CRS."""
    from scipy.special import log_softmax

    densities = ClassDensities(evidence, classes).log_densities(metric_xy)
    return ClassScores(classes, log_softmax(logits, axis=1), log_softmax(densities, axis=1))


def phrase_scores(model: LoadedModel, locations: np.ndarray, phrases: list[str], logits: np.ndarray) -> np.ndarray:
    """(L, P) the model's p(phrase | location): each phrase added alone to the classes (their ``class_logits``)
    with an average class's prior."""
    from scipy.special import expit, logsumexp

    own = training_logits(model, locations, phrases) + np.log(1.0 / logits.shape[1])
    return expit(own - logsumexp(logits, axis=1)[:, None])


def describe_place(
    model: LoadedModel, xy: tuple[float, float], crs: object | None = None, phrases: list[str] = (), top: int = 10,
    evidence_weight: float = EVIDENCE_WEIGHT,
) -> PlaceDescription:
    """The ``top`` classes at ``xy`` (in ``crs``, default the model's), the user's phrases, the nearest POIs."""
    weight = check_weight(evidence_weight)
    evidence = model_evidence(model)
    crs = parse_crs(crs) if crs is not None else model_crs(model)
    point = np.array([xy], dtype=np.float64)
    check_in_crs_area(point, crs, model)
    location = embed_locations(model, point, crs)
    here = to_crs(point, crs, parse_crs(evidence.crs_wkt))
    classes, logits = class_logits(model, evidence, location)
    scores = class_scores(evidence, classes, logits, here)
    blended, by_model, by_pois = scores.blend(weight)[0], scores.model[0], scores.evidence[0]
    texts = class_descriptions(classes)
    described = [Description(texts[i], classes[i], round(float(blended[i]), 4), round(float(by_model[i]), 4),
                             round(float(by_pois[i]), 4)) for i in best_first(blended[None, :], top)[0]]
    cleaned = [" ".join(p.split()) for p in phrases if p.strip()]
    said = phrase_scores(model, location, cleaned, logits)[0] if cleaned else []
    mine = [Description(text, None, round(float(p), 4), round(float(p), 4), None) for text, p in zip(cleaned, said)]
    k = min(NEAREST_POIS, len(evidence.xy))
    distances, rows = evidence.tree.query(here, k=k)
    nearby = [NearbyPoi(evidence.classes[evidence.class_index[r]], evidence.name(int(r)), round(float(d), 1))
              for d, r in zip(np.atleast_1d(distances[0]), np.atleast_1d(rows[0]))]
    return PlaceDescription((float(xy[0]), float(xy[1])), crs_label(crs), weight, described,
                            sorted(mine, key=lambda d: -d.score), nearby)


@dataclass
class PointDescriptions:
    """For many points, (N, top) each: the best classes (best first), their blended scores and both parts."""

    classes: list[list[str]]
    score: np.ndarray
    model: np.ndarray
    evidence: np.ndarray


def describe_points(model: LoadedModel, xy: np.ndarray, crs: object, top: int = 3,
                    evidence_weight: float = EVIDENCE_WEIGHT) -> PointDescriptions:
    """The ``top`` classes at many points (in ``crs``), as 'Describe places' writes them."""
    weight = check_weight(evidence_weight)
    evidence = model_evidence(model)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    classes, logits = class_logits(model, evidence, embed_locations(model, xy, crs))
    scores = class_scores(evidence, classes, logits, to_crs(xy, parse_crs(crs), parse_crs(evidence.crs_wkt)))
    blended = scores.blend(weight)
    best = best_first(blended, top)
    return PointDescriptions([[classes[j] for j in row] for row in best],
                             *(np.take_along_axis(part, best, axis=1) for part in (blended, scores.model, scores.evidence)))
