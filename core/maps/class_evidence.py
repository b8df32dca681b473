"""What the training POIs say about a place: each class's density of its POIs around it.

Where POIs are sparse or the model never saw the ground (a block held out), the model's
scores say little more than the city's base rates (bench/describe.py). The POIs the
model folder keeps say more: the phrase map's heavy-tailed kernel density
(``phrase_map.EvidenceDensity``, bandwidth ``phrase_map.evidence_bandwidth``) of each
class's training POIs, normalised over the classes, reads as p(class | place) of a
kernel density classifier: a class's density already counts its POIs, so frequent
classes keep their share far from everything and the nearest ones win close by.
"""

from __future__ import annotations

import numpy as np

from ..model.evidence import Evidence
from .phrase_map import KERNEL_NEIGHBOURS, EvidenceDensity, evidence_bandwidth


class ClassDensities:
    """The kernel density of each of ``classes``' training POIs, at locations in the evidence's metric CRS."""

    def __init__(self, evidence: Evidence, classes: list[str], bandwidth: float | None = None,
                 neighbours: int = KERNEL_NEIGHBOURS) -> None:
        self.bandwidth = float(bandwidth or evidence_bandwidth(evidence))
        lookup = {name: i for i, name in enumerate(evidence.classes)}
        self.densities: list[EvidenceDensity | None] = []
        for name in classes:
            rows = np.flatnonzero(evidence.class_index == lookup[name])
            self.densities.append(EvidenceDensity(evidence.xy[rows], np.ones(len(rows)), self.bandwidth, neighbours)
                                  if len(rows) else None)

    def log_densities(self, xy: np.ndarray) -> np.ndarray:
        """(L, C) log of each class's density at the metric locations ``xy``; -inf for a class without POIs."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        columns = [density.log_density(xy) if density is not None else np.full(len(xy), -np.inf)
                   for density in self.densities]
        return np.stack(columns, axis=1) if columns else np.zeros((len(xy), 0))

    def posterior(self, xy: np.ndarray) -> np.ndarray:
        """(L, C) p(class | location) from the POIs alone: each class's density over the sum of all."""
        from scipy.special import softmax

        return softmax(self.log_densities(xy), axis=1)

