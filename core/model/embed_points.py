"""Embed a point layer: a copy of its features with one float column per dimension."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.poi_io import read_points
from ..data.vector_io import write_geopackage
from ..jobs import JobControl
from ..outputs import check_output_path
from .files import LoadedModel
from .inference import embed_locations


def embedding_columns(dim: int) -> list[str]:
    """Column names emb_000, emb_001, ... for a D-dimensional embedding."""
    return [f"emb_{i:03d}" for i in range(dim)]


def embed_points_file(
    model: LoadedModel,
    points_path: str | Path,
    out: str | Path,
    layer: str | None = None,
    overwrite: bool = False,
    control: JobControl | None = None,
) -> Path:
    """Write ``out`` (GeoPackage): the input's attributes plus emb_* columns, in the input's CRS."""
    import geopandas as gpd

    out = check_output_path(out, overwrite, inputs=(points_path,))
    table = read_points(points_path, layer)
    vectors = embed_locations(model, table.xy, table.crs, control=control)
    frame = gpd.GeoDataFrame(
        table.attributes.reset_index(drop=True),
        geometry=gpd.points_from_xy(table.xy[:, 0], table.xy[:, 1]),
        crs=table.crs,
    )
    emb = gpd.pd.DataFrame(vectors.astype(np.float64), columns=embedding_columns(vectors.shape[1]))
    frame = gpd.GeoDataFrame(gpd.pd.concat([frame, emb], axis=1), geometry="geometry", crs=table.crs)
    return write_geopackage(frame, out, Path(out).stem)
