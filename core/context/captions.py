"""Captions of a location's spatial context, generated from its context graph.

UrbanGraphEmbeddings (seed 001) trains with text about a place's *surroundings*:
distance, direction, what is around, how the streets connect. Every statement here
is computed from the graph it describes (distances rounded, compass directions from
bearings, counts of classes among the neighbours), so a caption is true by
construction; the facts are kept next to the text so tests and the ranking benchmark
can check and reuse them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..model.settings import ContextSettings
from .graph import ContextIndex, Neighbourhood, StreetNetwork

COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")
FACTS = frozenset({"relation", "nearest", "crowd", "street"})
# A street node this close with three or more segments makes the place "at a junction".
JUNCTION_DISTANCE = 25.0


@dataclass
class Relation:
    """The described place lies ``distance`` metres ``direction`` of a POI of ``other_class``."""

    other: int
    other_class: str
    distance: int
    direction: str


@dataclass
class NearestOfClass:
    """The nearest POI of ``poi_class`` is ``distance`` metres to the ``direction`` of the place."""

    other: int
    poi_class: str
    distance: int
    direction: str


@dataclass
class Crowd:
    """``count`` of the place's graph neighbours are of ``poi_class``."""

    poi_class: str
    count: int


@dataclass
class StreetFact:
    """Distance (rounded) to the nearest street node and how many segments meet there."""

    distance: int
    degree: int


@dataclass
class Caption:
    """A caption and the facts it states."""

    text: str
    relation: Relation | None
    nearest: NearestOfClass | None
    crowd: Crowd | None
    street: StreetFact | None


def compass(bearing: float) -> str:
    """One of eight compass words for a bearing in degrees clockwise from north."""
    return COMPASS[int(((float(bearing) % 360.0) + 22.5) // 45.0) % 8]


def round_distance(metres: float) -> int:
    """Metres as a person would say them: to 10 m below 100 m, to 50 m below 1 km, else to 100 m."""
    step = 10 if metres < 100 else 50 if metres < 1000 else 100
    return int(max(step, step * round(float(metres) / step)))


def with_article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def plural(noun: str) -> str:
    """English plural of a class name's last word (good enough for OSM class values)."""
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    if noun.endswith(("ss", "x", "ch", "sh")):
        return noun + "es"
    return noun if noun.endswith("s") else noun + "s"


def relation_to(neighbourhood: Neighbourhood, row: int, column: int, classes: np.ndarray) -> Relation:
    """Where the place of ``row`` lies seen from its neighbour in ``column`` (the reverse bearing)."""
    other = int(neighbourhood.index[row, column])
    reverse = (neighbourhood.bearing[row, column] + 180.0) % 360.0
    return Relation(other, str(classes[other]), round_distance(neighbourhood.distance[row, column]), compass(reverse))


def nearest_of_class(neighbourhood: Neighbourhood, row: int, poi_class: str, classes: np.ndarray) -> NearestOfClass | None:
    """The nearest neighbour of ``poi_class`` in the place's graph, if any."""
    for column in np.flatnonzero(neighbourhood.valid[row]):
        other = int(neighbourhood.index[row, column])
        if classes[other] == poi_class:
            distance = round_distance(neighbourhood.distance[row, column])
            return NearestOfClass(other, poi_class, distance, compass(neighbourhood.bearing[row, column]))
    return None


def crowd_of(neighbourhood: Neighbourhood, row: int, classes: np.ndarray) -> Crowd | None:
    """The most common class among the place's neighbours when at least two share it (nearest first on ties)."""
    present = classes[neighbourhood.index[row][neighbourhood.valid[row]]]
    if not len(present):
        return None
    poi_class, count = Counter(present.tolist()).most_common(1)[0]
    return Crowd(str(poi_class), int(count)) if count >= 2 else None


def describe_place(
    subject: str | None,
    neighbourhood: Neighbourhood,
    row: int,
    classes: np.ndarray,
    street: tuple[float, float] | None = None,
    about: str | None = None,
    keep: frozenset[str] = FACTS,
) -> Caption:
    """Caption of the place in ``row`` stating the facts named in ``keep`` that it has.

    Facts: ``relation`` (where it lies from its nearest neighbour), ``nearest`` (the
    nearest POI of class ``about``), ``crowd`` (the commonest class around it) and
    ``street`` (its nearest street node, a junction or how far). When none of the
    chosen facts applies here, every fact that does is stated.
    """
    valid = np.flatnonzero(neighbourhood.valid[row])
    relation = relation_to(neighbourhood, row, int(valid[0]), classes) if len(valid) and "relation" in keep else None
    nearest = nearest_of_class(neighbourhood, row, about, classes) if about and "nearest" in keep else None
    crowd = crowd_of(neighbourhood, row, classes) if "crowd" in keep else None
    street_fact = None
    if street is not None and np.isfinite(street[0]) and "street" in keep:
        street_fact = StreetFact(round_distance(street[0]), int(street[1]))
    statements = [relation_statement(relation)] if relation else []
    if nearest:
        statements.append(nearest_phrase(nearest))
    if crowd:
        statements.append(f"among {crowd.count} {plural(crowd.poi_class)}")
    if street_fact:
        statements.append(
            f"at a junction of {street_fact.degree} streets"
            if street[0] <= JUNCTION_DISTANCE and street_fact.degree >= 3
            else f"{street_fact.distance} m from the nearest street"
        )
    if not statements and keep != FACTS:  # none of the chosen facts applies here: state those that do
        return describe_place(subject, neighbourhood, row, classes, street, about)
    text = f"{with_article(subject or 'place')} {', '.join(statements) or 'with no other place within reach'}"
    return Caption(sentence(text), relation, nearest, crowd, street_fact)


def describe_places(
    query_xy: np.ndarray,
    subjects: np.ndarray,
    context_xy: np.ndarray,
    context_classes: np.ndarray,
    settings: ContextSettings,
    streets: StreetNetwork | None = None,
    subject_share: float = 1.0,
    fact_share: float = 1.0,
    seed: int = 0,
) -> list[Caption]:
    """Captions of many places against the same context POIs.

    A share ``1 - subject_share`` of the captions call the place just "a place", so the
    text about its surroundings alone must find it. Each fact is stated with
    probability ``fact_share`` (at least one per caption), so short texts about one
    aspect of the surroundings are learnt as well as full descriptions. The class of
    the "nearest ..." statement is drawn among the neighbours' classes other than the
    nearest one's.
    """
    rng = np.random.default_rng(seed)
    neighbourhood = ContextIndex(context_xy, settings).neighbours(query_xy)
    street_distance, street_degree = (streets or StreetNetwork.empty()).nearest(query_xy)
    facts = sorted(FACTS)
    captions = []
    for row in range(len(query_xy)):
        present = list(dict.fromkeys(context_classes[neighbourhood.index[row][neighbourhood.valid[row]]].tolist()))
        about = present[1 + rng.integers(len(present) - 1)] if len(present) > 1 else None
        subject = subjects[row] if rng.random() < subject_share else None
        street = (street_distance[row], street_degree[row]) if streets is not None and len(streets.xy) else None
        chosen = rng.random(len(facts)) < fact_share
        chosen[rng.integers(len(facts))] = True
        keep = frozenset(fact for fact, kept in zip(facts, chosen) if kept)
        captions.append(describe_place(subject, neighbourhood, row, context_classes, street, about, keep))
    return captions


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def relation_statement(relation: Relation) -> str:
    """'80 m north of a bus station': direction and distance between two places."""
    return f"{relation.distance} m {relation.direction} of {with_article(relation.other_class)}"


def nearest_phrase(fact: NearestOfClass) -> str:
    return f"whose nearest {fact.poi_class} is {fact.distance} m to the {fact.direction}"


def nearest_question(fact: NearestOfClass) -> str:
    """A grounding question about the nearest POI of a type."""
    return f"A place {nearest_phrase(fact)}"


def relation_question(relation: Relation) -> str:
    """A grounding question about direction and distance between two places."""
    return f"A place {relation_statement(relation)}"
