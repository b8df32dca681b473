"""srai's POI embedders at the units of a land-use benchmark; runs in bench/.venv-srai (bench/srai_env.sh).

The field's anchors for POI embeddings of regions, run as their documentation shows:
H3 cells of resolution 9 over the POIs and units, OSM key=value features joined to
the cells, then CountEmbedder, ContextualCountEmbedder (2 rings of neighbours,
concatenated) and Hex2VecEmbedder (and GeoVexEmbedder, when it runs). Each unit
takes the vector of the cell holding its representative point (zeros for a cell
without one). Writes one array per embedder, rows in the order of the given points.

    bench/.venv-srai/bin/python bench/srai_features.py --pois pois.gpkg --points units.npy --out srai.npz
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import MultiPoint

RESOLUTION = 9


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pois", required=True, help="POI GeoPackage with 'class' (OSM value) and 'category' (OSM key)")
    p.add_argument("--points", required=True, help=".npy of (U, 2) lon, lat of the units' representative points")
    p.add_argument("--out", required=True, help=".npz to write, one (U, D) array per embedder")
    p.add_argument("--epochs", type=int, default=5, help="Hex2Vec and GeoVex training epochs")
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args()


def osm_features(pois_path: str) -> gpd.GeoDataFrame:
    """One column per OSM key holding the POI's value there (srai's features layout), in EPSG:4326."""
    pois = gpd.read_file(pois_path).to_crs("EPSG:4326")
    frame = pd.DataFrame({key: pois["class"].where(pois["category"] == key) for key in sorted(pois["category"].unique())})
    features = gpd.GeoDataFrame(frame, geometry=pois.geometry.values, crs="EPSG:4326")
    features.index = pd.Index([f"poi/{i}" for i in range(len(features))], name="feature_id")
    return features


def at_units(embeddings: pd.DataFrame, cells: list[str]) -> np.ndarray:
    table = embeddings.reindex(cells).fillna(0.0)
    return table.to_numpy(np.float32)


def main() -> None:
    from srai.embedders import ContextualCountEmbedder, CountEmbedder, Hex2VecEmbedder
    from srai.joiners import IntersectionJoiner
    from srai.neighbourhoods import H3Neighbourhood
    from srai.regionalizers import H3Regionalizer

    args = parse_args()
    import torch
    import pytorch_lightning as pl

    torch.set_num_threads(1)
    pl.seed_everything(args.seed, workers=True)
    points = np.load(args.points)
    features = osm_features(args.pois)
    extent = MultiPoint(np.vstack([points, np.column_stack([features.geometry.x, features.geometry.y])]))
    area = gpd.GeoDataFrame(geometry=[extent.convex_hull.buffer(0.003)], crs="EPSG:4326")
    regions = H3Regionalizer(RESOLUTION).transform(area)
    joint = IntersectionJoiner().transform(regions, features)
    neighbourhood = H3Neighbourhood(regions)
    cells = [h3.latlng_to_cell(lat, lon, RESOLUTION) for lon, lat in points]
    print(f"{len(regions)} H3 cells (resolution {RESOLUTION}), {len(features)} POIs, {len(points)} units")
    out, trainer = {}, {"max_epochs": args.epochs, "accelerator": "cpu", "enable_progress_bar": False,
                        "logger": False, "enable_checkpointing": False}
    started = time.perf_counter()
    out["srai_count"] = at_units(CountEmbedder().transform(regions, features, joint), cells)
    out["srai_contextual"] = at_units(ContextualCountEmbedder(neighbourhood, 2, concatenate_vectors=True,
                                                              count_subcategories=True)
                                      .transform(regions, features, joint), cells)
    print(f"counts in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    hex2vec = Hex2VecEmbedder([15, 10])
    out["srai_hex2vec"] = at_units(hex2vec.fit_transform(regions, features, joint, neighbourhood, batch_size=64,
                                                         trainer_kwargs=trainer), cells)
    print(f"Hex2Vec ({args.epochs} epochs) in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    try:
        from srai.embedders import GeoVexEmbedder

        flat = sorted({f"{key}_{value}" for key in features.columns if key != "geometry"
                       for value in features[key].dropna().unique()})
        geovex = GeoVexEmbedder(flat, batch_size=64, neighbourhood_radius=4, embedding_size=32)
        out["srai_geovex"] = at_units(geovex.fit_transform(regions, features, joint, neighbourhood,
                                                           trainer_kwargs=trainer), cells)
        print(f"GeoVex ({args.epochs} epochs) in {time.perf_counter() - started:.0f} s")
    except Exception as error:  # GeoVex is optional: the issue asks for it only where it runs
        print(f"GeoVex did not run: {type(error).__name__}: {error}")
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
