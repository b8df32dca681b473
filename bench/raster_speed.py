"""Embedding-raster speed and memory on this machine's CPU.

Usage: .venv/bin/python bench/raster_speed.py [--model FOLDER] [--sizes 1000,4000] [--workers 1,2]
       [--dtypes float32,float16] [--similarity-size 500]

Prints, in one run:
* FLOPs per pixel of the model: its matrix products (counted by torch's
  FlopCounterMode) plus the positional encoding (one multiply and one sine or
  cosine per feature); bias adds, ReLUs and the normalisation are left out;
* this machine's fp32 matmul rate, measured with torch now (the FLOP limit);
* the model's pixels/s on pixel centres (the raster's compute step) and its share
  of the FLOP limit (target >= 70 %);
* for each raster size, worker count and output type, in its own process: the
  whole write's pixels/s (compression, overviews and all) and its share of the FLOP
  limit (target >= 50 %), and the peak RSS (target: flat across sizes);
* the time of a similarity map from a click on a 500 x 500 x 128 raster (target < 1 s).

Without --model, a demo model is trained for 2 epochs first (speed does not
depend on how well a model is trained).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PIXEL_SIZE = 10.0


def train_demo_model(folder: Path) -> Path:
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.demo_city import build_demo_data
    from calliper.core.data.poi_io import read_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    os.environ["CALLIPER_CACHE_DIR"] = str(folder / "cache")
    points = read_points(build_demo_data(folder / "data").pois)
    job = TrainJob(points, TextFields("class", "category", "name"), folder / "model", train=TrainSettings(epochs=2))
    return train_from_points(job).folder


def square_grid(model, size: int):
    """A size x size grid of 10 m pixels centred on the model's training extent."""
    from calliper.core.maps.grid import grid_from_extent
    from calliper.core.model.inference import model_crs

    xmin, ymin, xmax, ymax = model.card.training["extent"]
    half = size * PIXEL_SIZE / 2
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    return grid_from_extent((cx - half, cy - half, cx + half, cy + half), PIXEL_SIZE, model_crs(model))


def best_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def flops_per_pixel(model) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    n = 1024
    encoding = model.net.location.posenc
    features = encoding(torch.zeros(n, 2, dtype=torch.float64))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.net.location.nnet(features)
    return counter.get_total_flops() / n + 2 * encoding.out_dim


def matmul_gflops(size: int = 4096) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    return 2 * size**3 / best_seconds(lambda: a @ b, 3) / 1e9


def model_pixels_per_second(model) -> float:
    from calliper.core.maps.rasters import PixelEmbedder
    from rasterio.windows import Window

    grid = square_grid(model, 512)
    xy = grid.pixel_centres(Window(0, 0, grid.width, grid.height))
    compute = PixelEmbedder(model, grid.crs)
    compute(xy[:8192])
    return len(xy) / best_seconds(lambda: compute(xy), 1)


def best_rates(model, rounds: int) -> tuple[float, float]:
    """Best matmul GFLOP/s and model pixels/s over interleaved rounds, so both see the same machine load."""
    matmul, pixels = 0.0, 0.0
    for _ in range(rounds):
        matmul = max(matmul, matmul_gflops())
        pixels = max(pixels, model_pixels_per_second(model))
    return matmul, pixels


def measure_raster(model_folder: str, size: int, workers: int, dtype: str) -> dict:
    """Child process: write one size x size embedding raster; its time, file size and this process's peak RSS."""
    from calliper.core.catalog.loading import load_model
    from calliper.core.maps.rasters import embedding_raster

    model = load_model(model_folder)
    grid = square_grid(model, size)
    with tempfile.TemporaryDirectory(prefix="raster-bench-") as folder:
        started = time.perf_counter()
        out = embedding_raster(model, grid, Path(folder) / "embedding.tif", dtype=dtype, workers=workers)
        seconds = time.perf_counter() - started
        size_mb = out.stat().st_size / 1e6
    return {
        "size": size,
        "seconds": round(seconds, 1),
        "pixels_per_s": round(size * size / seconds),
        "file_mb": round(size_mb),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def run_child(model_folder: Path, size: int, workers: int, dtype: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--model", str(model_folder), "--child", str(size),
                             "--workers", str(workers), "--dtypes", dtype], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def similarity_seconds(model, size: int, folder: Path, dtype: str) -> float:
    """A click's similarity map on a size x size raster of ``dtype``: read the raster, one product per pixel, write."""
    from calliper.core.maps.rasters import embedding_raster
    from calliper.core.maps.similarity import location_query, similarity_raster

    grid = square_grid(model, size)
    embedding = embedding_raster(model, grid, folder / f"similarity_source_{dtype}.tif", dtype=dtype)
    xmin, ymin, xmax, ymax = grid.bounds
    click = ((xmin + xmax) / 2, (ymin + ymax) / 2)

    def from_click() -> None:
        query = location_query(model, click, grid.crs)
        similarity_raster(model, embedding, query, folder / "similarity.tif", overwrite=True)

    return best_seconds(from_click, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: train a demo model for 2 epochs)")
    parser.add_argument("--sizes", default="1000,4000", help="raster sides in pixels")
    parser.add_argument("--workers", default="1,2", help="worker process counts")
    parser.add_argument("--dtypes", default="float32,float16", help="output types")
    parser.add_argument("--similarity-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved speed rounds (best kept: load varies)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_raster(args.model, args.child, int(args.workers), args.dtypes)))
        return
    import torch
    from calliper.core.catalog.loading import load_model

    with tempfile.TemporaryDirectory(prefix="raster-bench-") as work_dir:
        work = Path(work_dir)
        model_folder = Path(args.model) if args.model else train_demo_model(work)
        model = load_model(model_folder)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, model {model_folder}")
        flops = flops_per_pixel(model)
        rate, pixels = best_rates(model, args.rounds)
        achieved = pixels * flops / 1e9
        print(f"FLOPs per pixel:          {flops / 1e6:.3f} M")
        print(f"fp32 matmul (4096^2):     {rate:.1f} GFLOP/s  (best of {args.rounds} rounds, as the pixels/s)")
        print(f"model pixels/s:           {pixels:,.0f}  ({achieved:.1f} GFLOP/s, {achieved / rate:.0%} of the "
              "matmul rate; target >= 70 %)")
        for dtype in ("float32", "float16"):
            print(f"similarity from a click on {args.similarity_size}^2 x {model.card.settings.embed_dim} {dtype}: "
                  f"{similarity_seconds(model, args.similarity_size, work, dtype):.2f} s  (target < 1 s)")
        print(f"{'raster':>11} {'workers':>7} {'type':>7} {'seconds':>8} {'pixels/s':>9} {'share':>6} {'file MB':>8} "
              f"{'peak RSS MiB':>12}")
        for size in (int(s) for s in args.sizes.split(",")):
            for workers in (int(w) for w in args.workers.split(",")):
                for dtype in args.dtypes.split(","):
                    figures = run_child(model_folder, size, workers, dtype)
                    share = figures["pixels_per_s"] * flops / 1e9 / rate
                    print(f"{size:>5} x {size:<5d} {workers:>7} {dtype:>7} {figures['seconds']:>8} "
                          f"{figures['pixels_per_s']:>9,} {share:>6.0%} {figures['file_mb']:>8,} "
                          f"{figures['peak_rss_mib']:>12,}")
    print("Targets: end to end >= 50 % of the matmul rate; peak RSS flat across sizes.")


if __name__ == "__main__":
    main()
