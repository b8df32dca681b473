"""The described POIs training uses, from a table in memory or a file read chunk by chunk.

Each chunk is described by ``build_texts`` and its descriptions get global ids in
order of first appearance: the ids and order ``build_texts`` gives the whole table, so
a streamed corpus trains exactly like the table read whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.poi_io import PointTable
from ..data.places_schemas import PlacesSettings
from ..data.streaming import DEFAULT_CHUNK_ROWS, PointSource
from ..errors import FieldError, InputDataError
from ..jobs import JobControl
from .descriptions import (
    PoiTexts,
    TextFields,
    TextTemplate,
    build_texts,
    clean_value,
    empty_field_error,
    places_description,
    poi_classes,
)

TOP_CLASSES = 20


@dataclass
class PoiCorpus:
    """The POIs training uses: kept positions, their descriptions, and the class counts for the card.

    A streamed file's ``points.attributes`` has no columns: its rows were described and let go.
    """

    points: PointTable
    texts: PoiTexts
    top_classes: dict[str, int]
    class_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    """Per kept POI, the index of its class value in ``class_names``."""
    class_names: list[str] = field(default_factory=list)
    poi_names: list[str] | None = None
    """Per kept POI, its name (when a name field is set): what 'describe' shows of the POIs near a place."""


class _Vocabulary:
    """Class values numbered in order of first appearance, and the kept POIs' names, gathered chunk by chunk."""

    def __init__(self, fields: TextFields) -> None:
        self.fields = fields
        self.codes: dict[str, int] = {}
        self.index_parts: list[np.ndarray] = []
        self.names: list[str] | None = [] if fields.name_field else None

    def add(self, attributes: pd.DataFrame, kept: np.ndarray) -> None:
        values = poi_classes(attributes, self.fields)[0].loc[kept].astype(str)
        self.index_parts.append(np.fromiter((self.codes.setdefault(v, len(self.codes)) for v in values), np.int32,
                                            len(values)))
        if self.names is not None:
            self.names += [clean_value(v) for v in attributes[self.fields.name_field].loc[kept]]

    def finish(self, corpus: PoiCorpus) -> PoiCorpus:
        corpus.class_index = np.concatenate(self.index_parts) if self.index_parts else np.zeros(0, dtype=np.int32)
        corpus.class_names = list(self.codes)
        corpus.poi_names = self.names
        return corpus


def class_counts(attributes: pd.DataFrame, fields: TextFields, kept: np.ndarray) -> Counter:
    """How many kept POIs each class value has."""
    return Counter(poi_classes(attributes, fields)[0].loc[kept].astype(str))


def table_corpus(points: PointTable, fields: TextFields, template: TextTemplate, layer_name: str) -> PoiCorpus:
    """The corpus of a table already in memory (a QGIS layer, a small file)."""
    texts = build_texts(points.attributes, fields, template, layer_name)
    kept = PointTable(points.xy[texts.kept], points.attributes.loc[texts.kept], points.crs, points.source)
    top = class_counts(points.attributes, fields, texts.kept).most_common(TOP_CLASSES)
    vocabulary = _Vocabulary(fields)
    vocabulary.add(points.attributes, texts.kept)
    return vocabulary.finish(PoiCorpus(kept, texts, dict(top)))


def places_inputs(
    path: Path, places: PlacesSettings, template: str | None = None, include_name: bool | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[PointSource, TextFields, TextTemplate]:
    """An Overture or Foursquare places file as training reads it: streamed, with its known fields and wording."""
    places.validate()
    source = PointSource(Path(path), chunk_rows=chunk_rows, places=places)
    if source.places_schema is None:
        raise FieldError(f"Choose the field that holds the POI class: {Path(path).name} is not an Overture Maps Places "
                         "or Foursquare Open Source Places file, whose fields are known.")
    return (source, *places_description(template, include_name))


def stream_corpus(
    source: PointSource, fields: TextFields, template: TextTemplate, layer_name: str, control: JobControl | None = None
) -> PoiCorpus:
    """The corpus of a file read chunk by chunk: only coordinates, int32 text ids and distinct texts are kept."""
    control = control or JobControl()
    ids: dict[str, int] = {}
    xy_parts, index_parts, kept_parts = [], [], []
    counts: Counter = Counter()
    vocabulary = _Vocabulary(fields)
    dropped = rows = from_category = 0
    left_out: Counter = Counter()
    total = source.feature_count
    for chunk in source.chunks():
        control.check("Reading POIs")
        texts = build_texts(chunk.attributes, fields, template, layer_name, require_values=False)
        # ids in order of first appearance, as pandas.factorize numbers the whole table's texts
        global_ids = np.fromiter((ids.setdefault(text, len(ids)) for text in texts.texts), np.int32, len(texts.texts))
        index_parts.append(global_ids[texts.text_index])
        xy_parts.append(chunk.xy[texts.kept])
        kept_parts.append(texts.kept)
        counts.update(class_counts(chunk.attributes, fields, texts.kept))
        vocabulary.add(chunk.attributes, texts.kept)
        dropped += texts.dropped
        from_category += texts.class_from_category
        left_out.update(chunk.left_out)
        rows += len(chunk.xy) + chunk.dropped_no_geometry + sum(chunk.left_out.values())
        if total:
            control.report(rows / total, f"Read {rows:,} of {total:,} POIs")
    reasons = ", ".join(f"{count:,} {reason}" for reason, count in left_out.items() if count) or "none"
    if not sum(len(kept) for kept in kept_parts):
        if sum(left_out.values()):
            raise InputDataError(f"{layer_name} has no place left to learn from (left out: {reasons}). "
                                 "Lower the minimum confidence if the places are open.")
        raise InputDataError(f"{layer_name} has no features with a usable position.")
    if not ids:
        raise empty_field_error(fields.class_field, layer_name)
    control.log(f"Read {rows:,} POIs of {layer_name} in chunks of {source.chunk_rows:,}: {len(ids):,} distinct descriptions.")
    if source.places_schema is not None:
        control.log(f"Read as {source.places_schema.label}; places left out: {reasons}.")
    xy = np.concatenate(xy_parts)
    texts = PoiTexts(list(ids), np.concatenate(index_parts), np.concatenate(kept_parts), dropped, from_category)
    points = PointTable(xy, pd.DataFrame(index=pd.RangeIndex(len(xy))), source.crs, source.source)
    return vocabulary.finish(PoiCorpus(points, texts, dict(counts.most_common(TOP_CLASSES))))
