"""Training speed and memory: precomputed distinct-text embeddings vs encoding every batch.

Usage: .venv/bin/python bench/train_speed.py [--sizes 1711,100000] [--million] [--epochs 2]

For each size (the demo POIs, then copies of them shifted over a grid of offsets with
20 m jitter, real texts) prints distinct texts vs POIs, text-encoding seconds, seconds
per epoch, POIs/s and peak RSS (each size in its own process so RSS is its own). Then,
in the same run, times the straightforward loop that calls the text encoder on every
batch, and prints the speed-up per epoch (target >= 10x). ``--million`` adds the
1,000,000-POI memory check (target < 4 GiB peak RSS).
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


def replicated_points(n: int, seed: int = 0):
    """The demo POIs repeated over a grid of 3 km offsets with 20 m jitter, trimmed to ``n``."""
    import numpy as np
    from calliper.core.data.demo_city import build_demo_data
    from calliper.core.data.poi_io import PointTable, read_points

    base = read_points(build_demo_data(Path(tempfile.mkdtemp()) / "demo").pois)
    copies = -(-n // len(base.xy))
    side = int(np.ceil(np.sqrt(copies)))
    rng = np.random.default_rng(seed)
    offsets = np.array([(i % side, i // side) for i in range(copies)], dtype=np.float64) * 3000.0
    xy = (base.xy[None, :, :] + offsets[:, None, :]).reshape(-1, 2)[:n]
    xy = xy + rng.normal(0, 20.0, xy.shape)
    attributes = base.attributes.iloc[np.tile(np.arange(len(base.xy)), copies)[:n]].reset_index(drop=True)
    return PointTable(xy=xy, attributes=attributes, crs=base.crs, source="synthetic")


def measure_size(n: int, epochs: int) -> dict:
    """One training run on ``n`` POIs with a fresh text cache; returns the figures."""
    from calliper.core.catalog.training import train_from_points
    from calliper.core.model.pipeline import TrainJob
    from calliper.core.model.train import TrainSettings
    from calliper.core.text.descriptions import TextFields

    os.environ["CALLIPER_CACHE_DIR"] = tempfile.mkdtemp()
    points = replicated_points(n)
    progress_marks: list[tuple[float, float]] = []
    from calliper.core.jobs import JobControl

    control = JobControl(progress=lambda f, m: progress_marks.append((time.perf_counter(), f)))
    job = TrainJob(points, TextFields("class", "category", "name"), Path(tempfile.mkdtemp()) / "m",
                   train=TrainSettings(epochs=epochs, val_fraction=0.1))
    started = time.perf_counter()
    outcome = train_from_points(job, control)
    total = time.perf_counter() - started
    encode_end = next((t for t, f in progress_marks if f > 0.2), started)
    seconds_per_epoch = outcome.result.seconds / len(outcome.result.history)
    return {
        "pois": outcome.card.training["n_pois"],
        "distinct_texts": outcome.card.training["n_distinct_texts"],
        "encode_seconds": round(encode_end - started, 2),
        "seconds_per_epoch": round(seconds_per_epoch, 3),
        "pois_per_second": round(outcome.result.n_train / seconds_per_epoch),
        "total_seconds": round(total, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def naive_seconds_per_epoch(n: int, batches: int = 3, batch_size: int = 1024) -> float:
    """The straightforward loop: run the frozen text encoder on every batch, then step."""
    import numpy as np
    import torch
    from calliper.core.model.loss import contrastive_loss
    from calliper.core.model.network import CalliperNet
    from calliper.core.model.settings import ModelSettings
    from calliper.core.text.descriptions import TextFields, build_texts
    from calliper.core.text.encoder import TextEncoder

    points = replicated_points(n)
    texts = build_texts(points.attributes, TextFields("class", "category", "name"))
    per_row = [texts.texts[i] for i in texts.text_index]
    encoder = TextEncoder()
    net = CalliperNet(ModelSettings(min_lambda=50.0, max_lambda=2000.0), text_dim=encoder.dim)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    coords = torch.from_numpy(points.xy[texts.kept])
    encoder.encode(per_row[:8])  # load the model outside the timing
    batches = min(batches, len(per_row) // batch_size)
    started = time.perf_counter()
    for b in range(batches):
        rows = np.arange(b * batch_size, min((b + 1) * batch_size, len(per_row)))
        text = torch.from_numpy(encoder.encode([per_row[i] for i in rows]))
        loss = contrastive_loss(net.encode_location(coords[rows]), net.encode_text(text), net.logit_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    per_batch = (time.perf_counter() - started) / batches
    return per_batch * np.ceil(texts.n_pois * 0.9 / batch_size)


def run_child(n: int, epochs: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", str(n), "--epochs", str(epochs)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1711,100000")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 POIs (memory target < 4 GiB)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_size(args.child, args.epochs)))
        return
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    header = f"{'POIs':>9} {'distinct':>8} {'encode s':>9} {'s/epoch':>8} {'POIs/s':>8} {'peak RSS MiB':>12} {'naive s/epoch':>13} {'speed-up':>8}"
    print(header)
    for n in sizes:
        figures = run_child(n, args.epochs)
        naive = naive_seconds_per_epoch(n)
        speedup = naive / figures["seconds_per_epoch"]
        print(f"{figures['pois']:>9} {figures['distinct_texts']:>8} {figures['encode_seconds']:>9} "
              f"{figures['seconds_per_epoch']:>8} {figures['pois_per_second']:>8} {figures['peak_rss_mib']:>12} "
              f"{naive:>13.1f} {speedup:>7.1f}x")
    print("Targets: speed-up >= 10x; peak RSS < 4096 MiB at 1,000,000 POIs.")


if __name__ == "__main__":
    main()
