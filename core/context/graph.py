"""Spatial context graphs: which POIs surround a location, how far, in which direction.

Seed 001 (UrbanGraphEmbeddings) grounds a place in the graph of what is near it.
Here a location's graph is a star plus links: the query node (the location) and its
``neighbours`` nearest context POIs within ``radius`` metres; each POI is also linked
to its ``links`` nearest fellow neighbours. Edges carry log-distance and the sine and
cosine of the bearing (clockwise from grid north of the projected CRS). Street
connectivity, where an OSM extract is given, is a per-node feature: the distance to
the nearest street node and how many street segments meet there.

Context POIs closer than ``min_distance`` to the query are never neighbours, at
training and at inference alike: otherwise a POI would see its own description in
its graph during training (the trivial leak) and the model would learn to copy it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputDataError, SettingsError
from ..model.settings import ContextSettings

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

STREET_FEATURES = 2
EDGE_FEATURES = 3
# Extra candidates fetched from the KD-tree so that dropping co-located POIs still
# leaves ``neighbours`` of them in dense places.
SPARE_CANDIDATES = 8


@dataclass
class Neighbourhood:
    """For Q query locations: their K nearest context POIs (index -1 = none), distances and bearings.

    Bearings are worked out on first use: captions read them, the encoder's hot path does not.
    """

    index: np.ndarray
    distance: np.ndarray
    query_xy: np.ndarray
    context_xy: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.index >= 0

    @cached_property
    def bearing(self) -> np.ndarray:
        if not len(self.context_xy):
            return np.zeros_like(self.distance)
        _, bearing = offsets(self.query_xy[:, None, :], self.context_xy[np.maximum(self.index, 0)])
        return np.where(self.valid, bearing, 0.0)


@dataclass
class StreetNetwork:
    """Street nodes (model CRS) and how many street segments meet at each."""

    xy: np.ndarray
    degree: np.ndarray

    @classmethod
    def empty(cls) -> StreetNetwork:
        return cls(np.zeros((0, 2)), np.zeros(0, dtype=np.float32))

    @cached_property
    def tree(self) -> cKDTree:
        from scipy.spatial import cKDTree

        return cKDTree(self.xy)

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres to the nearest street node and how many segments meet there (inf and 0 without streets)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if not len(self.xy):
            return np.full(len(xy), np.inf), np.zeros(len(xy), dtype=np.float32)
        distance, nearest = self.tree.query(xy)
        return distance, self.degree[nearest]


def offsets(from_xy: np.ndarray, to_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (metres) and bearing (degrees clockwise from north, in [0, 360)) from ``from_xy`` to ``to_xy``."""
    delta = np.asarray(to_xy, dtype=np.float64) - np.asarray(from_xy, dtype=np.float64)
    distance = np.hypot(delta[..., 0], delta[..., 1])
    bearing = np.degrees(np.arctan2(delta[..., 0], delta[..., 1])) % 360.0
    return distance, bearing


class ContextIndex:
    """A KD-tree over the context POIs answering "which POIs surround these locations"."""

    def __init__(self, context_xy: np.ndarray, settings: ContextSettings) -> None:
        from scipy.spatial import cKDTree

        self.xy = np.asarray(context_xy, dtype=np.float64)
        self.settings = settings
        self.tree = cKDTree(self.xy) if len(self.xy) else None

    def neighbours(self, query_xy: np.ndarray) -> Neighbourhood:
        """The ``neighbours`` nearest context POIs within ``radius`` and at least ``min_distance`` away."""
        query_xy = np.asarray(query_xy, dtype=np.float64).reshape(-1, 2)
        k = self.settings.neighbours
        index = np.full((len(query_xy), k), -1, dtype=np.int64)
        distance = np.full((len(query_xy), k), np.inf)
        if self.tree is None or not len(query_xy):
            return Neighbourhood(index, distance, query_xy, self.xy)
        fetch = min(k + SPARE_CANDIDATES, len(self.xy))
        found_d, found_i = self.tree.query(query_xy, k=fetch, distance_upper_bound=self.settings.radius)
        found_d, found_i = found_d.reshape(len(query_xy), fetch), found_i.reshape(len(query_xy), fetch)
        usable = np.isfinite(found_d) & (found_d >= self.settings.min_distance)
        # Stable sort keeps the tree's distance order among the usable candidates.
        order = np.argsort(~usable, axis=1, kind="stable")[:, :k]
        keep = np.take_along_axis(usable, order, axis=1)
        columns = order.shape[1]
        index[:, :columns] = np.where(keep, np.take_along_axis(found_i, order, axis=1), -1)
        distance[:, :columns] = np.where(keep, np.take_along_axis(found_d, order, axis=1), np.inf)
        return Neighbourhood(index, distance, query_xy, self.xy)


def street_features(streets: StreetNetwork, xy: np.ndarray) -> np.ndarray:
    """(N, 2) float32 node features: log(1 + metres to the nearest street node) and its degree; zeros without streets."""
    distance, degree = streets.nearest(xy)
    if not len(streets.xy):
        return np.zeros((len(distance), STREET_FEATURES), dtype=np.float32)
    return np.column_stack([np.log1p(distance), degree]).astype(np.float32)


def pbf_path(source: str) -> str | None:
    """The .osm.pbf file a layer source reads (OGR writes "/x/city.osm.pbf|layername=points"), or None."""
    path = source.split("|", 1)[0].strip()
    return path if path.lower().endswith(".pbf") else None


def streets_option(encoder: str, streets: str | None, poi_source: str | None, field: str) -> tuple[dict, str]:
    """The encoder options for a front end's street file, and a note to log when the POIs' own extract is used.

    Only the context-graph encoder takes streets; with it and no file given, a POI layer
    read from an .osm.pbf gives its own streets. ``field`` names the input in messages.
    """
    from ..model.settings import CONTEXT_ENCODER, ENCODER_LABELS

    streets = (streets or "").strip() or None
    if encoder != CONTEXT_ENCODER:
        if streets:
            raise SettingsError(
                f"Street connectivity needs the {CONTEXT_ENCODER} encoder: choose '{ENCODER_LABELS[CONTEXT_ENCODER]}' "
                f"as the location encoder or leave {field} empty."
            )
        return {}, ""
    if streets is None:
        own = pbf_path(poi_source or "")
        if own is None or not Path(own).is_file():
            return {}, ""
        return {"streets": own}, f"Streets taken from the POI layer's extract {own}."
    if not Path(streets).is_file():
        raise InputDataError(
            f"The street file {streets} in {field} does not exist. Give the .osm.pbf extract the POIs came from, "
            "or leave it empty to train without street features."
        )
    return {"streets": streets}, ""


def read_streets(pbf: str | Path, crs: object) -> StreetNetwork:
    """Street nodes and their degree from the OSM ways of an ``.osm.pbf`` extract, in ``crs``."""
    from ..crs import LONLAT, to_crs
    from ..dependencies import require

    require("pyrosm")
    import pyrosm

    path = Path(pbf)
    if not path.exists():
        raise InputDataError(f"The street file {path} does not exist. Give the .osm.pbf extract the POIs came from.")
    try:
        network = pyrosm.OSM(str(path)).get_network(network_type="all", nodes=True)
    except Exception as exc:  # pyrosm raises several unrelated types for unreadable files
        raise InputDataError(f"Cannot read streets from {path.name} (an .osm.pbf extract is needed).", str(exc)) from exc
    if network is None:
        raise InputDataError(f"The extract {path.name} has no streets (no OSM highway ways).")
    nodes, edges = network
    ends = np.concatenate([edges["u"].to_numpy(np.int64), edges["v"].to_numpy(np.int64)])
    ids, counts = np.unique(ends, return_counts=True)
    node_ids = nodes["id"].to_numpy(np.int64)
    degree = np.zeros(len(node_ids), dtype=np.float32)
    position = np.searchsorted(ids, node_ids)
    found = (position < len(ids)) & (ids[np.minimum(position, len(ids) - 1)] == node_ids)
    degree[found] = counts[position[found]]
    lonlat = np.column_stack([nodes["lon"].to_numpy(np.float64), nodes["lat"].to_numpy(np.float64)])
    on_streets = degree > 0
    return StreetNetwork(to_crs(lonlat[on_streets], LONLAT, crs), degree[on_streets])
