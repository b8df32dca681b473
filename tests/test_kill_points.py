"""Crash safety: kill -9 at seeded random moments of real runs; the output is always the old one or a whole new one.

Each command first runs to the end (which also times it and leaves a complete
output), then runs again with --overwrite and is SIGKILLed at 20 random points
spread over that time. After every kill, what is at the output path must open as a
complete output: nothing half-written ever takes its name, and nothing that existed
before is lost. A last run without a kill must succeed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import rasterio
from test_mmgr import image  # noqa: F401 - the rendered image fixture

KILLS = 20


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def kill_at_random_points(args: list[str], is_complete, seed: int) -> list[float]:
    """Run ``args`` once whole, then kill it KILLS times; ``is_complete()`` must hold after each kill."""
    started = time.perf_counter()
    whole = start(args)
    assert whole.wait(timeout=600) == 0, whole.stderr.read().decode()[-2000:]
    duration = time.perf_counter() - started
    assert is_complete(), "the whole run left no complete output"
    rng, points = random.Random(seed), []
    for _ in range(KILLS):
        delay = rng.uniform(0.05, duration)
        process = start(args)
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        points.append(round(delay, 2))
        assert is_complete(), f"after a kill at {delay:.2f} s of {duration:.2f} s the output is not whole"
    last = start(args)
    assert last.wait(timeout=600) == 0, last.stderr.read().decode()[-2000:]
    assert is_complete()
    return points


def python_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "calliper.cli", *args]


def test_train_killed_anywhere_leaves_the_previous_model_or_the_new_one(demo_data, tmp_path):
    from calliper.core.catalog.loading import load_model

    out = tmp_path / "model"
    args = python_cli("train", "--pois", str(demo_data.pois), "--class-field", "class", "--epochs", "3",
                      "--overwrite", "--out", str(out))

    def complete() -> bool:
        return load_model(out).card.metrics["epochs_run"] >= 1

    points = kill_at_random_points(args, complete, seed=1)
    assert len(points) == KILLS and not [p for p in tmp_path.iterdir() if p.name != "model"]


def test_raster_killed_anywhere_leaves_a_whole_geotiff(demo_model, tmp_path):
    out = tmp_path / "emb.tif"
    args = python_cli("raster", "--model", str(demo_model.folder), "--extent", "385000,6671000,387000,6673000",
                      "--pixel-size", "10", "--whole-extent", "--overwrite", "--out", str(out))

    def complete() -> bool:
        with rasterio.open(out) as src:
            return src.count == 128 and bool(np.isfinite(src.read(128)).all())

    kill_at_random_points(args, complete, seed=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb.tif"]  # the last run took up the journal


def test_classify_killed_anywhere_leaves_whole_study_files(demo_model, demo_data, tmp_path):
    import geopandas as gpd

    out = tmp_path / "landuse"
    args = python_cli("classify", "--model", str(demo_model.folder), "--labels", str(demo_data.landuse),
                      "--label-field", "landuse", "--seeds", "1", "--overwrite", "--out-dir", str(out))

    def complete() -> bool:
        metrics = json.loads((out / "metrics.json").read_text())
        return "calliper" in metrics["methods"] and len(gpd.read_file(out / "predictions.gpkg")) > 100 and \
            (out / "report.html").read_text().rstrip().endswith("</html>")

    kill_at_random_points(args, complete, seed=3)
    assert sorted(p.name for p in out.iterdir()) == [
        ".calliper-output.json", "metrics.json", "predictions.gpkg", "report.html"]


def test_the_package_install_killed_anywhere_leaves_the_previous_install_or_the_new_one(tmp_path):
    from calliper.core.install.folder import dependency_folder, folder_state
    from fake_wheels import make_wheel

    wheels = tmp_path / "wheels"
    make_wheel(wheels, "calliper-fake-a", "1.0", requires=("calliper-fake-b>=1",), payload_bytes=2_000_000)
    make_wheel(wheels, "calliper-fake-b", "1.0", payload_bytes=2_000_000)
    folder = dependency_folder(tmp_path / "profile")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_installer import fake_plan
        from calliper.core.install.plan import install, resolve
        plan = fake_plan(Path({str(folder)!r}), Path({str(wheels)!r}), ["calliper-fake-a==1.0"])
        install(plan, resolve(plan))
    """)
    digest = {}

    def complete() -> bool:
        from test_installer import fake_plan

        digest.setdefault("value", fake_plan(folder, wheels, ["calliper-fake-a==1.0"]).digest)
        whole = folder_state(folder, digest["value"]).status == "complete"
        return whole and (folder / "calliper_fake_b" / "payload.bin").stat().st_size == 2_000_000

    kill_at_random_points([sys.executable, "-c", script], complete, seed=4)
    leftovers = [p.name for p in folder.parent.iterdir() if p.name != "calliper"]
    assert all(name.startswith(".calliper-") for name in leftovers)  # hidden, and removed at the next plugin start



def test_mmgr_train_killed_anywhere_leaves_the_previous_model_and_raster_or_the_new_ones(image, demo_data, tmp_path):  # noqa: F811
    from calliper.core.imagery.files import load_mmgr

    out, raster = tmp_path / "mmgr", tmp_path / "region.tif"
    args = python_cli("mmgr-train", "--image", str(image.path), "--pois", str(demo_data.pois), "--class-field", "class",
                      "--tile-metres", "64", "--tile-pixels", "16", "--epochs", "2", "--threads", "1",
                      "--overwrite", "--out", str(out), "--raster", str(raster))

    def complete() -> bool:
        model = load_mmgr(out)
        with rasterio.open(raster) as src:
            whole = src.count == model.card.settings.embed_dim and np.isfinite(src.read(1)).any()
        return whole and model.card.metrics["final_loss"] > 0

    kill_at_random_points(args, complete, seed=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mmgr", "region.tif"]
