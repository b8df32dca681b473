"""Where a model has evidence: the training POIs' positions and text ids, kept in its folder.

A grid encoder extrapolates happily where it saw no POI (the sea, farmland), painting
plaid stripes there. Maps are therefore computed, by default, only within a distance
of the training POIs, chosen from their spacing. The same positions and text ids let a
phrase map weigh the POIs whose descriptions match it. Stored as safetensors
(float64 metric x/y, int32 text ids: about 20 MB per million POIs), never pickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from ..crs import parse_crs, to_crs
from ..errors import ModelFileError, SettingsError
from ..text.corpus import PoiCorpus

EVIDENCE_FILE = "evidence.safetensors"
SPACING_NEIGHBOURS = 10
SPACING_QUANTILE = 0.9
SPACING_SAMPLE = 50_000
MIN_DISTANCE, MAX_DISTANCE, DISTANCE_STEP = 100.0, 2000.0, 50.0


@dataclass
class Evidence:
    """Training POIs in a metric CRS: positions, text ids, class ids (into ``classes``) and, optionally, names."""

    xy: np.ndarray
    text_index: np.ndarray
    crs_wkt: str
    class_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    classes: list[str] = field(default_factory=list)
    names: list[str] | None = None

    @classmethod
    def from_corpus(cls, corpus: PoiCorpus, metric: np.ndarray, crs: object) -> Evidence:
        return cls(metric, corpus.texts.text_index, crs.to_wkt(), corpus.class_index, corpus.class_names,
                   corpus.poi_names)

    def save(self, folder: Path) -> Path:
        from safetensors.numpy import save_file

        tensors = {"xy": np.ascontiguousarray(self.xy, dtype=np.float64),
                   "text_index": np.ascontiguousarray(self.text_index, dtype=np.int32),
                   "class_index": np.ascontiguousarray(self.class_index, dtype=np.int32)}
        if self.names is not None:  # UTF-8 bytes and offsets: no pickle, no per-string overhead
            encoded = [name.encode("utf-8") for name in self.names]
            tensors["names_utf8"] = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8).copy()
            tensors["names_offsets"] = np.cumsum([0] + [len(e) for e in encoded], dtype=np.int64)
        path = Path(folder) / EVIDENCE_FILE
        save_file(tensors, str(path), metadata={"crs_wkt": self.crs_wkt, "classes": json.dumps(self.classes)})
        return path

    def class_counts(self) -> dict[str, int]:
        """Training POIs per class, most frequent first."""
        counts = np.bincount(self.class_index, minlength=len(self.classes))
        return {self.classes[i]: int(counts[i]) for i in np.argsort(-counts, kind="stable")}

    def name(self, row: int) -> str:
        return self.names[row] if self.names is not None else ""

    @cached_property
    def tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.xy)

    def default_distance(self) -> float:
        """The mask distance for these POIs: the 90th percentile of the distance to the 10th-nearest POI.

        Dense city centres get the minimum (100 m), scattered villages a few hundred metres;
        rounded up to 50 m so that the dock shows a plain number.
        """
        if len(self.xy) <= SPACING_NEIGHBOURS:
            return MAX_DISTANCE
        sample = self.xy[np.random.default_rng(0).permutation(len(self.xy))[:SPACING_SAMPLE]]
        distance, _ = self.tree.query(sample, k=SPACING_NEIGHBOURS + 1)
        spread = float(np.quantile(distance[:, -1], SPACING_QUANTILE))
        return float(min(max(math.ceil(spread / DISTANCE_STEP) * DISTANCE_STEP, MIN_DISTANCE), MAX_DISTANCE))

    def mask(self, grid_crs: object, distance: float):
        """``mask(xy)`` for the raster writer: True for pixel centres (in ``grid_crs``) within ``distance`` of a POI."""
        if not distance > 0:
            raise SettingsError(f"The distance around the training POIs must be positive metres (got {distance!r}).")
        source, own = parse_crs(grid_crs), parse_crs(self.crs_wkt)
        tree = self.tree

        def keep(xy: np.ndarray) -> np.ndarray:
            points = xy if source == own else to_crs(xy, source, own)
            found, _ = tree.query(points, k=1, distance_upper_bound=distance)
            return np.isfinite(found)

        return keep


def load_evidence(folder: str | Path) -> Evidence | None:
    """The model folder's evidence, or None for a model trained before it was kept.

    Read once per file version: each click of 'Describe' and each map would otherwise read
    the file and build its KD-tree again (a second for a million POIs). Callers only read it.
    """
    path = (Path(folder) / EVIDENCE_FILE).absolute()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return _read_evidence(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read_evidence(path: Path, mtime_ns: int, size: int) -> Evidence:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as stored:
            keys, metadata = set(stored.keys()), stored.metadata()
            names = None
            if "names_offsets" in keys:
                blob, offsets = stored.get_tensor("names_utf8").tobytes(), stored.get_tensor("names_offsets")
                names = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
            return Evidence(stored.get_tensor("xy"), stored.get_tensor("text_index"), metadata["crs_wkt"],
                            stored.get_tensor("class_index"), json.loads(metadata["classes"]), names)
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"The evidence file {path} is corrupt; retrain the model or delete the file.", str(exc)) from exc
