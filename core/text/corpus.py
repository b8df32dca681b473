"""The described POIs training uses, from a table in memory or a file read chunk by chunk.

Each chunk is described by ``build_texts`` and its descriptions get global ids in
order of first appearance: the ids and order ``build_texts`` gives the whole table, so
a streamed corpus trains exactly like the table read whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.poi_io import PointTable
from ..data.streaming import PointSource
from ..errors import InputDataError
from ..jobs import JobControl
from .descriptions import PoiTexts, TextFields, TextTemplate, build_texts, empty_field_error

TOP_CLASSES = 20


@dataclass
class PoiCorpus:
    """The POIs training uses: kept positions, their descriptions, and the class counts for the card.

    A streamed file's ``points.attributes`` has no columns: its rows were described and let go.
    """

    points: PointTable
    texts: PoiTexts
    top_classes: dict[str, int]


def class_counts(attributes: pd.DataFrame, fields: TextFields, kept: np.ndarray) -> Counter:
    """How many kept POIs each class value has."""
    return Counter(attributes[fields.class_field].loc[kept].astype(str))


def table_corpus(points: PointTable, fields: TextFields, template: TextTemplate, layer_name: str) -> PoiCorpus:
    """The corpus of a table already in memory (a QGIS layer, a small file)."""
    texts = build_texts(points.attributes, fields, template, layer_name)
    kept = PointTable(points.xy[texts.kept], points.attributes.loc[texts.kept], points.crs, points.source)
    top = class_counts(points.attributes, fields, texts.kept).most_common(TOP_CLASSES)
    return PoiCorpus(kept, texts, dict(top))


def stream_corpus(
    source: PointSource, fields: TextFields, template: TextTemplate, layer_name: str, control: JobControl | None = None
) -> PoiCorpus:
    """The corpus of a file read chunk by chunk: only coordinates, int32 text ids and distinct texts are kept."""
    control = control or JobControl()
    ids: dict[str, int] = {}
    xy_parts, index_parts, kept_parts = [], [], []
    counts: Counter = Counter()
    dropped = rows = 0
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
        dropped += texts.dropped
        rows += len(chunk.xy) + chunk.dropped_no_geometry
        if total:
            control.report(rows / total, f"Read {rows:,} of {total:,} POIs")
    if not sum(len(kept) for kept in kept_parts):
        raise InputDataError(f"{layer_name} has no features with a usable position.")
    if not ids:
        raise empty_field_error(fields.class_field, layer_name)
    control.log(f"Read {rows:,} POIs of {layer_name} in chunks of {source.chunk_rows:,}: {len(ids):,} distinct descriptions.")
    xy = np.concatenate(xy_parts)
    texts = PoiTexts(list(ids), np.concatenate(index_parts), np.concatenate(kept_parts), dropped)
    points = PointTable(xy, pd.DataFrame(index=pd.RangeIndex(len(xy))), source.crs, source.source)
    return PoiCorpus(points, texts, dict(counts.most_common(TOP_CLASSES)))
