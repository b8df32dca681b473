"""Scale of a places file: 2,000,000 Overture-shaped places trained one epoch through the chunked reader.

Usage: .venv/bin/python bench/places_scale.py [--places 2000000] [--kind overture|foursquare] [--threads N]
                                              [--second-city FILE.osm.pbf]

A country's places file is made from the cities we have, tiled side by side as
``bench/scale.py`` does: the demo city's POIs (Helsinki) and, with ``--second-city``,
the second city's (Liechtenstein), placed next to each other and repeated over a grid
with 20 m jitter, then written as an Overture-shaped (or Foursquare-shaped) Parquet file
by the tests' writer (``tests/places_files.py``: nested names, taxonomy lists, closed
places, low confidence). The training runs in its own process, so its peak RSS (target
< 4 GiB) is its own. Prints the log's counts (places left out, distinct descriptions,
their encoding time), seconds per epoch and peak RSS, then encodes the same
descriptions again to show they come from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from scale import TARGET_RSS_MIB, load, peak_rss_mib  # noqa: E402 - after the path to bench/

WRITE_ROWS = 200_000


def city_tiles(n: int, second_city: Path | None, seed: int = 0):
    """(lon/lat, attributes) of ``n`` places: the cities side by side, repeated over a grid, 20 m jitter."""
    import numpy as np
    import pandas as pd
    from calliper.core.crs import LONLAT, to_crs
    from calliper.core.data.demo_city import build_demo_data
    from calliper.core.data.poi_io import read_points

    folder = Path(tempfile.mkdtemp())
    helsinki = read_points(build_demo_data(folder / "helsinki").pois)
    xy, attributes = [helsinki.xy], [helsinki.attributes]
    if second_city is not None:
        other = read_points(build_demo_data(folder / "second", pbf=second_city).pois)
        # the second city in the first one's metric CRS, shifted to sit east of it with 1 km between
        moved = to_crs(to_crs(other.xy, other.crs, LONLAT), LONLAT, helsinki.crs)
        moved += np.array([helsinki.xy[:, 0].max() + 1000 - moved[:, 0].min(), helsinki.xy[:, 1].min() - moved[:, 1].min()])
        xy.append(moved)
        attributes.append(other.attributes)
    base_xy, base_attributes = np.concatenate(xy), pd.concat(attributes, ignore_index=True)
    pitch = base_xy.max(axis=0) - base_xy.min(axis=0) + 1000.0
    copies = -(-n // len(base_xy))
    side = int(np.ceil(np.sqrt(copies)))
    offsets = np.array([(i % side, i // side) for i in range(copies)], dtype=np.float64) * pitch
    rng = np.random.default_rng(seed)
    tiled = (base_xy[None, :, :] + offsets[:, None, :]).reshape(-1, 2)[:n] + rng.normal(0, 20.0, (n, 2))
    rows = np.tile(np.arange(len(base_xy)), copies)[:n]
    return to_crs(tiled, helsinki.crs, LONLAT), base_attributes, rows, len(base_xy)


def write_file(n: int, kind: str, path: Path, second_city: Path | None) -> dict:
    from places_files import write_places

    lonlat, attributes, rows, n_base = city_tiles(n, second_city)
    parts = ((lonlat[s:s + WRITE_ROWS], attributes.iloc[rows[s:s + WRITE_ROWS]].reset_index(drop=True))
             for s in range(0, n, WRITE_ROWS))
    write_places(kind, parts, path)
    return {"base_pois": n_base}


def measure_train(path: str, out: str) -> dict:
    """Child: ``calliper train --pois places.parquet`` as the CLI runs it (no field options), one epoch on the CPU."""
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.streaming import PointSource
    from calliper.core.jobs import JobControl
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import places_description

    logged: list[str] = []
    fields, template = places_description()
    job = TrainJob(PointSource(Path(path)), fields, Path(out), template=template,
                   train=TrainSettings(epochs=1, device="cpu"), layer_name="the places file")
    started = time.perf_counter()
    outcome = train_from_points(job, JobControl(log=logged.append))
    result = outcome.result
    return {"pois": outcome.card.training["n_pois"], "distinct": outcome.card.training["n_distinct_texts"],
            "s_per_epoch": round(result.seconds / len(result.history), 1), "total_s": round(time.perf_counter() - started, 1),
            "peak_rss_mib": peak_rss_mib(), "log": [line for line in logged if not line.startswith("Epoch")]}


def measure_encode_again(path: str) -> dict:
    """Child: the same file's distinct descriptions encoded again: all from the cache."""
    from calliper.core.data.streaming import PointSource
    from calliper.core.jobs import JobControl
    from calliper.core.model.pipeline import TrainJob, poi_corpus
    from calliper.core.text.descriptions import places_description
    from calliper.core.text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct_to_file

    fields, template = places_description()
    corpus = poi_corpus(TrainJob(PointSource(Path(path)), fields, Path(path).with_suffix(".unused"), template=template,
                                 layer_name="the places file"), JobControl())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        _, encoded = encode_distinct_to_file(corpus.texts.texts, TextEncoder(), Path(folder) / "v.npy", "float32",
                                             TextEmbeddingCache())
    return {"distinct": len(corpus.texts.texts), "encoded": encoded, "seconds": round(time.perf_counter() - started, 1)}


CHILDREN = {"train": measure_train, "again": measure_encode_again}


def child(name: str, *args) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", name, json.dumps(args)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--places", type=int, default=2_000_000)
    parser.add_argument("--kind", choices=("overture", "foursquare"), default="overture")
    parser.add_argument("--second-city", type=Path,
                        help="a second city's OSM extract (e.g. Liechtenstein from download.geofabrik.de)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's, all cores)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](*json.loads(args.args))))
        return
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="places-bench-") as work_dir:
        work = Path(work_dir)
        os.environ["CALLIPER_CACHE_DIR"] = str(work / "cache")  # a fresh cache, shared by both children
        path = work / f"{args.kind}.parquet"
        started = time.perf_counter()
        written = write_file(args.places, args.kind, path, args.second_city)
        print(f"{args.kind} file: {args.places:,} places from {written['base_pois']:,} POIs of "
              f"{'two cities' if args.second_city else 'the demo city'}, {path.stat().st_size / 1e6:.0f} MB, "
              f"written in {time.perf_counter() - started:.0f} s   [load {load()}]")
        figures = child("train", str(path), str(work / "model"))
        for line in figures["log"]:
            print(f"  log: {line}")
        print(f"trained: {figures['pois']:,} places, {figures['distinct']:,} distinct descriptions, "
              f"{figures['s_per_epoch']} s per epoch, {figures['total_s']} s in all, peak RSS {figures['peak_rss_mib']:,} MiB "
              f"(target < {TARGET_RSS_MIB} MiB: {'met' if figures['peak_rss_mib'] < TARGET_RSS_MIB else 'NOT met'})"
              f"   [load {load()}]")
        again = child("again", str(path))
        print(f"encoded again: {again['distinct']:,} distinct descriptions, {again['encoded']} new "
              f"(the rest from the cache) in {again['seconds']} s   [load {load()}]")


if __name__ == "__main__":
    main()
