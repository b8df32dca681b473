"""Speed inside real QGIS against the command line, on the same machine, in one run.

Usage (with the Python QGIS runs: /usr/bin/python3 on Debian; it needs Xvfb and qgis):
  python3 bench/qgis_speed.py --zip calliper.zip [--work DIR] [--texts 500] [--raster 400]

Puts the plugin ZIP (scripts/package.py) into a QGIS profile under DIR, its packages installed by the
plugin's own installer (kept in DIR: a second run installs nothing, and a new ZIP only replaces the
plugin), then runs the same workloads on the demo POIs twice:
  * in a plain python3 process with the profile's packages: the command line (before and after QGIS,
    each figure the better of the two: a shared machine's load changes within minutes);
  * in QGIS on Xvfb with no PYTHONPATH, the plugin loaded from the profile as QGIS loads it: on QGIS's
    main thread, and the encoding again in a QgsTask's thread, where the dock trains.
Each process measures a 512 x 512 float32 matrix product (GFLOP/s, one thread, best of 5),
description encoding with the packaged all-MiniLM-L6-v2 (texts/s), one training epoch (seconds, the
training loop alone), one raster x raster embedding raster at 10 m (pixels/s, writing included), and
the seconds of a small workload of each other native library the plugin loads (after a first,
untimed run; best of 3): pyarrow (a million rows to Parquet and back, grouped), rasterio (a 4-band
1000 x 1000 GeoTIFF written and read), pyogrio (20,000 points to a GeoPackage and back, through
shapely) and scikit-learn's OpenMP (KMeans, 20,000 x 8).
Prints both figures and QGIS / command line for each (target: 0.8 or more; for seconds, the
inverse). Inside QGIS the figures come back through a JSON file (bench/in_qgis.py writes it).
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

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
TEXT_FIELDS = ("class", "category", "name")
PIXEL_SIZE = 10.0
TARGET_RATIO = 0.8
NATIVE_REPEATS = 3


def matmul_gflops(size: int = 512, repeats: int = 5) -> float:
    """The best of a few float32 products on one thread: the BLAS's speed, whatever else the machine runs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    torch.set_num_threads(threads)
    return 2 * size**3 / best / 1e9


def demo_points(work: Path):
    """The demo POIs, written once under the run's folder by the command line's process and read by both."""
    from calliper.core.data.demo_city import build_demo_data
    from calliper.core.data.poi_io import read_points

    pois = work.parent / "demo" / "data" / "pois.gpkg"
    return read_points(pois if pois.exists() else build_demo_data(pois.parent).pois)


def encoding_sample(work: Path, count: int) -> list[str]:
    """``count`` descriptions of the demo POIs (their distinct texts, repeated when there are fewer)."""
    from calliper.core.text.descriptions import TextFields, build_texts

    texts = build_texts(demo_points(work).attributes, TextFields(*TEXT_FIELDS)).texts
    return [texts[i % len(texts)] for i in range(count)]


def texts_per_second(work: Path, count: int) -> float:
    from calliper.core.text.encoder import TextEncoder

    sample = encoding_sample(work, count)
    encoder = TextEncoder()
    encoder.encode(sample[:8])  # the model loads outside the timing
    started = time.perf_counter()
    encoder.encode(sample)
    return count / (time.perf_counter() - started)


def epoch_and_raster(work: Path, raster: int) -> dict:
    """One training epoch (its seconds, text encoding left out) and the embedding raster of that model."""
    from calliper.core.catalog.loading import load_model
    from calliper.core.catalog.training import train_from_points
    from calliper.core.maps.grid import grid_from_extent
    from calliper.core.maps.rasters import embedding_raster
    from calliper.core.model.inference import model_crs
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    job = TrainJob(demo_points(work), TextFields(*TEXT_FIELDS), work / "model", train=TrainSettings(epochs=1))
    outcome = train_from_points(job)
    model = load_model(outcome.folder)
    xmin, ymin, xmax, ymax = model.card.training["extent"]
    half, cx, cy = raster * PIXEL_SIZE / 2, (xmin + xmax) / 2, (ymin + ymax) / 2
    grid = grid_from_extent((cx - half, cy - half, cx + half, cy + half), PIXEL_SIZE, model_crs(model))
    started = time.perf_counter()
    embedding_raster(model, grid, work / "embedding.tif")
    return {"epoch_s": outcome.result.seconds / len(outcome.result.history),
            "raster_pixels_per_s": raster * raster / (time.perf_counter() - started)}


def native_seconds(work: Path) -> dict:
    """Small workloads of the other native libraries the plugin loads: seconds each, or the error they raised."""
    import numpy as np

    def arrow() -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"x": np.arange(1_000_000, dtype=np.float64), "k": np.arange(1_000_000) % 97})
        pq.write_table(table, work / "table.parquet", row_group_size=100_000)
        pq.read_table(work / "table.parquet").group_by("k").aggregate([("x", "sum")])

    def gdal_raster() -> None:
        import rasterio
        from rasterio.transform import from_origin

        data = np.random.default_rng(0).random((4, 1000, 1000), dtype=np.float32)
        with rasterio.open(work / "native.tif", "w", driver="GTiff", width=1000, height=1000, count=4,
                           dtype="float32", crs="EPSG:3067", transform=from_origin(0, 0, 10, 10),
                           compress="deflate", tiled=True) as out:
            out.write(data)
        with rasterio.open(work / "native.tif") as source:
            source.read()

    def geopackage() -> None:
        import geopandas as gpd
        import pyogrio

        xy = np.random.default_rng(0).random((20_000, 2)) * 1000
        frame = gpd.GeoDataFrame({"value": np.arange(20_000)}, geometry=gpd.points_from_xy(*xy.T), crs="EPSG:3067")
        pyogrio.write_dataframe(frame, work / "points.gpkg", layer="points")
        pyogrio.read_dataframe(work / "points.gpkg")

    def kmeans() -> None:
        from sklearn.cluster import KMeans

        KMeans(8, n_init=1, random_state=0).fit(np.random.default_rng(0).random((20_000, 8)))

    figures = {}
    for name, workload in (("pyarrow_s", arrow), ("rasterio_s", gdal_raster), ("pyogrio_s", geopackage),
                           ("sklearn_s", kmeans)):
        try:
            workload()  # imports and first-call set-up, which differ between the processes, stay out
            figures[name] = min(timed(workload) for _ in range(NATIVE_REPEATS))
        except Exception as error:  # a library that fails inside QGIS is a finding, not the end of the run
            figures[name] = f"{type(error).__name__}: {error}"[:120]
    return figures


def timed(workload) -> float:
    started = time.perf_counter()
    workload()
    return time.perf_counter() - started


def measure(work: Path, texts: int, raster: int) -> dict:
    """All figures of this process, its outputs under ``work``; the text cache is the run's (see below)."""
    work.mkdir(parents=True, exist_ok=True)
    # Shared by the command line and QGIS: the second training encodes nothing, and the slow path's
    # encoding (minutes) is measured once, by texts_per_second, not again inside the epoch figure.
    os.environ["CALLIPER_CACHE_DIR"] = str(work.parent / "text-cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    figures = {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul_gflops": matmul_gflops(),
               "texts_per_s": texts_per_second(work, texts)}
    return figures | epoch_and_raster(work, raster) | native_seconds(work)


def install(zip_path: Path, xdg: Path) -> Path:
    """The plugin and its packages in the profile, as scripts/install_plugin.py puts them; the profile folder."""
    env = dict(os.environ, XDG_DATA_HOME=str(xdg))
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, str(REPOSITORY / "scripts" / "install_plugin.py"), "--zip", str(zip_path)],
                   env=env, check=True)
    profile = xdg / "QGIS" / "QGIS3" / "profiles" / "default"
    ini = profile / "QGIS" / "QGIS3.ini"
    if "checkVersion=false" not in ini.read_text(encoding="utf-8"):
        with ini.open("a", encoding="utf-8") as settings:
            settings.write("\n[qgis]\ncheckVersion=false\nshowTips322=false\n")
    return profile


def command_line_figures(profile: Path, work: Path, texts: int, raster: int) -> dict:
    """``measure`` in a plain python3 with the profile's packages and plugin on its path."""
    python = profile / "python"
    env = dict(os.environ, PYTHONPATH=f"{python / 'dependencies' / 'calliper'}:{python / 'plugins'}",
               HF_HUB_OFFLINE="1")
    output = subprocess.run([sys.executable, __file__, "--measure", str(work), "--texts", str(texts),
                             "--raster", str(raster)], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def qgis_figures(xdg: Path, work: Path, texts: int, raster: int, display: str) -> dict:
    """``measure`` inside QGIS on Xvfb (bench/in_qgis.py), and the encoding in a QgsTask."""
    work.mkdir(parents=True, exist_ok=True)
    result = work / "figures.json"
    screen = subprocess.Popen(["Xvfb", display, "-screen", "0", "1366x768x24"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        env = dict(os.environ, DISPLAY=display, XDG_DATA_HOME=str(xdg), HF_HUB_OFFLINE="1",
                   CALLIPER_BENCH_OUT=str(result), CALLIPER_BENCH_WORK=str(work.parent),
                   CALLIPER_BENCH_TEXTS=str(texts), CALLIPER_BENCH_RASTER=str(raster), CALLIPER_BENCH_DIR=str(BENCH))
        env.pop("PYTHONPATH", None)
        with (work / "qgis.log").open("w") as log:
            done = subprocess.run(["qgis", "--noversioncheck", "--nologo", "--code", str(BENCH / "in_qgis.py")],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, timeout=3600)
    finally:
        screen.terminate()
    if not result.exists():
        raise SystemExit(f"QGIS wrote no figures: see {work / 'qgis.log'}")
    return json.loads(result.read_text()) | {"exit_code": done.returncode}


ROWS = (  # figure, label, higher is better
    ("matmul_gflops", "matmul GFLOP/s, 1 thread", True),
    ("texts_per_s", "encoding texts/s", True),
    ("epoch_s", "training epoch s", False),
    ("raster_pixels_per_s", "embedding raster pixels/s", True),
    ("pyarrow_s", "pyarrow Parquet s", False),
    ("rasterio_s", "rasterio GeoTIFF s", False),
    ("pyogrio_s", "pyogrio GeoPackage s", False),
    ("sklearn_s", "scikit-learn KMeans s", False),
)


def best_of(first: dict, second: dict) -> dict:
    """Each figure at the better of two command-line runs (a shared machine's load changes within minutes)."""
    best = dict(first)
    for key, _, higher in ROWS:
        if not isinstance(first[key], str) and not isinstance(second[key], str):
            best[key] = max(first[key], second[key]) if higher else min(first[key], second[key])
    return best


def table(cli: dict, qgis: dict) -> str:
    lines = [f"torch {cli['torch']}, {cli['threads']} threads (command line), {qgis['threads']} (QGIS); "
             f"QGIS exited with {qgis['exit_code']}",
             f"{'figure':<28}{'command line':>14}{'QGIS main':>12}{'ratio':>8}{'QGIS task':>12}{'ratio':>8}"]
    for key, label, higher in ROWS:
        if isinstance(cli[key], str) or isinstance(qgis[key], str):  # a workload failed: its error instead
            lines.append(f"{label:<28}{str(cli[key])[:14]:>14} QGIS: {qgis[key]}")
            continue
        row = f"{label:<28}{cli[key]:>14.2f}{qgis[key]:>12.2f}{ratio(cli[key], qgis[key], higher):>8.2f}"
        if key in qgis.get("task", {}):
            row += f"{qgis['task'][key]:>12.2f}{ratio(cli[key], qgis['task'][key], higher):>8.2f}"
        lines.append(row)
    lines.append(f"ratio: QGIS's speed / the command line's (target >= {TARGET_RATIO})")
    return "\n".join(lines)


def ratio(cli: float, qgis: float, higher_is_better: bool) -> float:
    return qgis / cli if higher_is_better else cli / qgis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, help="the plugin ZIP (scripts/package.py)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "calliper-qgis-speed",
                        help="the profile (kept between runs) and the outputs")
    parser.add_argument("--texts", type=int, default=500, help="descriptions to encode")
    parser.add_argument("--raster", type=int, default=400, help="the embedding raster's side in pixels")
    parser.add_argument("--display", default=":95", help="the Xvfb display QGIS runs on")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.texts, args.raster)))
        return
    if args.zip is None:
        parser.error("--zip is required")
    profile = install(args.zip.resolve(), args.work / "xdg")
    run = Path(tempfile.mkdtemp(prefix="run-", dir=args.work))
    before = command_line_figures(profile, run / "cli", args.texts, args.raster)
    qgis = qgis_figures(args.work / "xdg", run / "qgis", args.texts, args.raster, args.display)
    after = command_line_figures(profile, run / "cli-again", args.texts, args.raster)
    (run / "figures.json").write_text(json.dumps({"command_line": [before, after], "qgis": qgis}, indent=1))
    print(table(best_of(before, after), qgis))


if __name__ == "__main__":
    main()
