"""Scale: a 1,000,000-POI GeoPackage through the streaming path, one process vs two, rasters with 1 and 2 workers.

Usage: .venv/bin/python bench/scale.py [--pois 1000000] [--epochs 2] [--distributed-pois 200000]
                                       [--raster-size 1024] [--precision-epochs 20] [--threads N] [--streaming-only]

The synthetic layer is the demo city's POIs replicated over a grid of 3 km offsets
(real texts, shifted coordinates: bench/train_speed.py's ``replicated_points``),
written to a GeoPackage in a temporary folder. Each measurement runs in its own
process so its peak RSS is its own. Prints:
* streaming read (chunks of 100,000) and text encoding into a memory-mapped file;
* training from the file: seconds per epoch, POIs/s, peak RSS (target < 4 GiB on a
  CPU), on the CPU and, when CUDA is present, on the GPU (named); the CPU also on the
  smaller file, and how much the peak RSS grew against the coordinates and indices;
* float16 vs float32 text vectors: best validation loss of the same job;
* one process vs ``torchrun --nproc_per_node=2 ... --distributed`` (gloo) on a smaller
  file: POIs/s of each and their ratio;
* embedding-raster pixels/s with 1 and 2 worker processes.
Machine load (``uptime``) is printed next to the figures: they are noisy on a shared machine.
``--threads`` sets torch's CPU threads in every single-process measurement: on a
loaded machine two OpenMP threads can run many times slower than one.
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
sys.path.insert(0, str(Path(__file__).parent))

FIELDS = ("class", "category", "name")
WRITE_ROWS = 200_000
TARGET_RSS_MIB = 4096


def peak_rss_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def load() -> str:
    """The 1, 5 and 15 minute load averages, as uptime prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_layer(n: int, path: Path) -> Path:
    """The demo POIs replicated to ``n`` rows, written ``WRITE_ROWS`` at a time to a GeoPackage."""
    import geopandas as gpd
    import pyogrio
    from train_speed import replicated_points

    points = replicated_points(n)
    for start in range(0, n, WRITE_ROWS):
        rows = slice(start, start + WRITE_ROWS)
        frame = gpd.GeoDataFrame(points.attributes.iloc[rows].reset_index(drop=True),
                                 geometry=gpd.points_from_xy(*points.xy[rows].T), crs=points.crs)
        pyogrio.write_dataframe(frame, path, layer="pois", append=start > 0, VERSION="1.2")
    return path


def measure_stream(path: str) -> dict:
    """Child: read the file in chunks into a corpus, then encode its distinct texts into a memory-mapped file."""
    from calliper.core.data.streaming import PointSource
    from calliper.core.text.corpus import stream_corpus
    from calliper.core.text.descriptions import TextFields, TextTemplate
    from calliper.core.text.encoder import TextEmbeddingCache, TextEncoder, encode_distinct_to_file

    started = time.perf_counter()
    corpus = stream_corpus(PointSource(Path(path)), TextFields(*FIELDS), TextTemplate(), "the synthetic layer")
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        vectors, encoded = encode_distinct_to_file(corpus.texts.texts, TextEncoder(), Path(folder) / "v.npy", "float16",
                                                   TextEmbeddingCache(Path(folder)))
    return {"pois": corpus.texts.n_pois, "distinct": len(corpus.texts.texts), "read_s": round(read_seconds, 1),
            "pois_per_s_read": round(corpus.texts.n_pois / read_seconds), "encode_s": round(time.perf_counter() - started, 1),
            "encoded": encoded, "peak_rss_mib": peak_rss_mib()}


def measure_train(
    path: str, out: str, epochs: int, device: str, text_dtype: str = "float32", include_name: bool = False
) -> dict:
    """Child: the whole training path from the file (streamed) into the model folder ``out``, with a fresh text cache."""
    from calliper.core.catalog.training import train_from_points
    from calliper.core.data.streaming import PointSource
    from calliper.core.devices import cuda_status
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields, TextTemplate

    os.environ["CALLIPER_CACHE_DIR"] = f"{out}-cache"
    job = TrainJob(PointSource(Path(path)), TextFields(*FIELDS), Path(out),
                   template=TextTemplate(include_name=include_name), train=TrainSettings(epochs=epochs, device=device),
                   text_dtype=text_dtype, layer_name="the synthetic layer")
    started = time.perf_counter()
    outcome = train_from_points(job)
    result = outcome.result
    per_epoch = result.seconds / len(result.history)
    return {"device": result.device if result.device == "cpu" else f"{result.device} ({cuda_status()[1]})",
            "pois": outcome.card.training["n_pois"], "batch": result.batch_size, "s_per_epoch": round(per_epoch, 2),
            "pois_per_s": round(result.n_train / per_epoch), "total_s": round(time.perf_counter() - started, 1),
            "best_val_loss": result.best_val_loss, "peak_rss_mib": peak_rss_mib(), "model": str(outcome.folder)}


def measure_raster(model: str, size: int, workers: int) -> dict:
    """Child: a size x size embedding raster of 10 m pixels over the model's training extent."""
    from calliper.core.catalog.loading import load_model
    from calliper.core.maps.grid import grid_from_extent
    from calliper.core.maps.rasters import embedding_raster
    from calliper.core.model.inference import model_crs

    loaded = load_model(model)
    xmin, ymin, _, _ = loaded.card.training["extent"]
    grid = grid_from_extent((xmin, ymin, xmin + size * 10.0, ymin + size * 10.0), 10.0, model_crs(loaded))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        embedding_raster(loaded, grid, Path(folder) / "e.tif", workers=workers)
        seconds = time.perf_counter() - started
    return {"workers": workers, "pixels": size * size, "seconds": round(seconds, 1), "pixels_per_s": round(size * size / seconds)}


CHILDREN = {"stream": measure_stream, "train": measure_train, "raster": measure_raster}


def child(name: str, *args) -> dict:
    command = [sys.executable, __file__, "--child", name, json.dumps(args)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def cli_train_seconds(path: Path, out: Path, processes: int, epochs: int) -> dict:
    """``calliper train`` on the CPU in one process (the bench's threads) or under torchrun in ``processes`` (one thread each)."""
    args = ["train", "--pois", str(path), "--class-field", "class", "--category-field", "category", "--epochs", str(epochs),
            "--device", "cpu", "--batch-size", "1024", "--out", str(out)]
    env = {**os.environ, "CALLIPER_CACHE_DIR": str(out.parent / "cache")}
    if processes == 1:
        command = [sys.executable, "-m", "calliper.cli", *args]
    else:
        torchrun = Path(sys.executable).with_name("torchrun")
        command = [str(torchrun), f"--nproc_per_node={processes}", "-m", "calliper.cli", *args, "--distributed"]
        env["OMP_NUM_THREADS"] = "1"
    subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    card = json.loads((out / "card.json").read_text())
    per_epoch = card["metrics"]["seconds"] / card["metrics"]["epochs_run"]
    return {"s_per_epoch": round(per_epoch, 2), "pois_per_s": round(card["metrics"]["n_train"] / per_epoch),
            "best_val_loss": card["metrics"]["best_val_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pois", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--distributed-pois", type=int, default=200_000)
    parser.add_argument("--raster-size", type=int, default=1024)
    parser.add_argument("--precision-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch CPU threads per process (default: torch's, all cores)")
    parser.add_argument("--streaming-only", action="store_true",
                        help="only the streamed read and the training runs (skip float16, gloo and rasters)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](*json.loads(args.args))))
        return
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by every child and the CLI runs
    import torch
    from calliper.core.devices import cuda_status

    cuda, gpu = cuda_status()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {gpu if cuda else 'none (' + gpu + ')'}")
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as work_dir:
        work = Path(work_dir)
        started = time.perf_counter()
        big = write_layer(args.pois, work / "pois.gpkg")
        print(f"synthetic layer: {args.pois:,} POIs, {big.stat().st_size / 1e6:.0f} MB, written in "
              f"{time.perf_counter() - started:.0f} s   [load {load()}]")

        stream = child("stream", str(big))
        print(f"streamed read: {stream['read_s']} s ({stream['pois_per_s_read']:,} POIs/s), {stream['distinct']} distinct "
              f"texts encoded in {stream['encode_s']} s, peak RSS {stream['peak_rss_mib']} MiB   [load {load()}]")

        small = write_layer(args.distributed_pois, work / "small.gpkg")
        runs = [("cpu", small), ("cpu", big)] + ([("cuda", big)] if cuda else [])
        trained = {}
        print(f"{'device':>28} {'POIs':>9} {'batch':>6} {'s/epoch':>8} {'POIs/s':>8} {'total s':>8} {'peak RSS MiB':>12}")
        for device, layer in runs:
            figures = child("train", str(layer), str(work / f"model-{device}-{layer.stem}"), args.epochs, device)
            trained[device, layer.stem] = figures
            print(f"{figures['device']:>28} {figures['pois']:>9,} {figures['batch']:>6} {figures['s_per_epoch']:>8} "
                  f"{figures['pois_per_s']:>8,} {figures['total_s']:>8} {figures['peak_rss_mib']:>12,}   [load {load()}]")
        low, high = trained["cpu", small.stem], trained["cpu", big.stem]
        # per POI: float64 x/y, int32 text id, int64 row in the split and in each epoch's shuffle
        arrays_mib = (high["pois"] - low["pois"]) * (16 + 4 + 8 + 8) / 2**20
        print(f"peak RSS growth {low['pois']:,} -> {high['pois']:,} POIs: {high['peak_rss_mib'] - low['peak_rss_mib']} MiB "
              f"(coordinates and indices: {arrays_mib:.0f} MiB); target < {TARGET_RSS_MIB} MiB on the CPU -> "
              f"{'met' if high['peak_rss_mib'] < TARGET_RSS_MIB else 'NOT met'}")
        if args.streaming_only:
            return

        demo = write_layer(1711, work / "demo.gpkg")
        losses = {dtype: child("train", str(demo), str(work / dtype), args.precision_epochs, "cpu", dtype, True)["best_val_loss"]
                  for dtype in ("float32", "float16")}
        print(f"text vectors, demo POIs with names, {args.precision_epochs} epochs: best val loss float32 "
              f"{losses['float32']:.4f}, float16 {losses['float16']:.4f} (difference {losses['float16'] - losses['float32']:+.4f})")

        single = cli_train_seconds(small, work / "one", 1, args.epochs)
        group = cli_train_seconds(small, work / "two", 2, args.epochs)
        print(f"{args.distributed_pois:,} POIs, global batch 1024: 1 process ({torch.get_num_threads()} threads) "
              f"{single['pois_per_s']:,} POIs/s "
              f"({single['s_per_epoch']} s/epoch), 2 gloo processes {group['pois_per_s']:,} POIs/s "
              f"({group['s_per_epoch']} s/epoch): ratio {group['pois_per_s'] / single['pois_per_s']:.2f}   [load {load()}]")

        for workers in (1, 2):
            figures = child("raster", trained["cpu", big.stem]["model"], args.raster_size, workers)
            print(f"raster {args.raster_size} x {args.raster_size}, {workers} worker(s): {figures['seconds']} s, "
                  f"{figures['pixels_per_s']:,} pixels/s   [load {load()}]")


if __name__ == "__main__":
    main()
