"""Describe a place in words: the model's class descriptions (and a user's phrases) ranked for a location.

Every class the model learned from is a description in the same space as the
location embeddings ("A place of cafe"), so a location reads as a ranked list of
them; beside it, the nearest training POIs, so the user sees what evidence is there.

Scores are posteriors, not raw cosines: the contrastive logit of a (location, text)
pair estimates how much more likely the location is for that text than on average,
so adding each class's log share of the training POIs and normalising over the
vocabulary gives p(class | location). A user's phrase gets the prior of an average
class. Raw cosines ranked rare classes first and lost to "the 5 most frequent
classes" on held-out POIs (bench/describe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..crs import LONLAT, crs_label, parse_crs, to_crs
from ..errors import InputDataError, ModelFileError
from ..model.evidence import Evidence, load_evidence
from ..model.files import LoadedModel
from ..model.inference import embed_locations, model_crs, training_logits
from .clusters import class_descriptions

NEAREST_POIS = 5


@dataclass
class Description:
    text: str
    poi_class: str | None
    score: float


@dataclass
class NearbyPoi:
    poi_class: str
    name: str
    distance_m: float


@dataclass
class PlaceDescription:
    """What the model says about one location, best first, and the training POIs nearest to it."""

    location: tuple[float, float]
    crs: str
    descriptions: list[Description]
    nearest_pois: list[NearbyPoi]

    def as_dict(self) -> dict:
        """The JSON shape of ``calliper describe --json``."""
        return {
            "location": list(self.location), "crs": self.crs,
            "descriptions": [{"text": d.text, "class": d.poi_class, "score": d.score} for d in self.descriptions],
            "nearest_pois": [{"class": p.poi_class, "name": p.name, "distance_m": p.distance_m}
                             for p in self.nearest_pois],
        }

    def as_text(self) -> str:
        """Plain text for the clipboard and the terminal."""
        lines = [f"Place at {self.location[0]:.6g}, {self.location[1]:.6g} ({self.crs})", "", "The model says:"]
        lines += [f"  {d.score:6.1%}  {d.text}" for d in self.descriptions]
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


def vocabulary(evidence: Evidence, phrases: list[str] = ()) -> tuple[list[str], list[str | None], np.ndarray]:
    """The texts a place is described with (each class's description, then the user's phrases, class None),
    and their log priors: a class's share of the training POIs, an average class's for a phrase."""
    counts = evidence.class_counts()
    classes = list(counts)
    cleaned = [" ".join(p.split()) for p in phrases if p.strip()]
    shares = np.array(list(counts.values()), dtype=np.float64) / sum(counts.values())
    priors = np.concatenate([np.log(shares), np.full(len(cleaned), np.log(1.0 / len(classes)))])
    return class_descriptions(classes) + cleaned, classes + [None] * len(cleaned), priors


def posterior(model: LoadedModel, locations: np.ndarray, texts: list[str], priors: np.ndarray) -> np.ndarray:
    """(L, T) p(text | location) over the vocabulary: softmax of the training logits plus the log priors."""
    logits = training_logits(model, locations, texts) + priors[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def describe_place(
    model: LoadedModel, xy: tuple[float, float], crs: object | None = None, phrases: list[str] = (), top: int = 10,
) -> PlaceDescription:
    """The ``top`` descriptions of the location ``xy`` (in ``crs``, default the model's) and its nearest POIs."""
    evidence = model_evidence(model)
    crs = parse_crs(crs) if crs is not None else model_crs(model)
    check_in_crs_area(np.array([xy]), crs, model)
    texts, classes, priors = vocabulary(evidence, phrases)
    scores = posterior(model, embed_locations(model, np.array([xy], dtype=np.float64), crs), texts, priors)[0]
    best = np.argsort(-scores, kind="stable")[: max(int(top), 1)]
    here = to_crs(np.array([xy], dtype=np.float64), crs, parse_crs(evidence.crs_wkt))
    k = min(NEAREST_POIS, len(evidence.xy))
    distances, rows = evidence.tree.query(here, k=k)
    nearby = [NearbyPoi(evidence.classes[evidence.class_index[r]], evidence.name(int(r)), round(float(d), 1))
              for d, r in zip(np.atleast_1d(distances[0]), np.atleast_1d(rows[0]))]
    return PlaceDescription(
        (float(xy[0]), float(xy[1])), crs_label(crs),
        [Description(texts[i], classes[i], round(float(scores[i]), 4)) for i in best], nearby,
    )


def describe_points(model: LoadedModel, xy: np.ndarray, crs: object, top: int = 3) -> tuple[list[list[str]], np.ndarray]:
    """For many points: the ``top`` classes (best first) and their scores, as 'Describe places' writes them."""
    evidence = model_evidence(model)
    texts, classes, priors = vocabulary(evidence)
    scores = posterior(model, embed_locations(model, xy, crs), texts, priors)
    best = np.argsort(-scores, axis=1, kind="stable")[:, : max(int(top), 1)]
    return [[classes[j] for j in row] for row in best], np.take_along_axis(scores, best, axis=1)

