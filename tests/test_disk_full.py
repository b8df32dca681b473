"""A full disk (here a file-size limit, RLIMIT_FSIZE) while writing: one clear line, nothing half-written left."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest


def limited(limit_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return apply


def run_limited(args: list[str], limit_bytes: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "calliper.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, preexec_fn=limited(limit_bytes))


@pytest.mark.parametrize("kind", ["raster", "train"])
def test_a_full_disk_gives_one_line_exit_2_and_no_output(kind, demo_model, demo_data, tmp_path):
    out = tmp_path / ("big.tif" if kind == "raster" else "model")
    if kind == "raster":
        args = ["raster", "--model", str(demo_model.folder), "--extent", "384000,6670000,388000,6674000",
                "--pixel-size", "40", "--whole-extent", "--out", str(out)]
    else:
        args = ["train", "--pois", str(demo_data.pois), "--class-field", "class", "--epochs", "1", "--out", str(out)]
    done = run_limited(args, 100_000)
    assert done.returncode == 2, done.stderr[-1500:]
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("calliper: error: The disk is full") and "Traceback" not in done.stderr
    assert not out.exists()
    leftovers = {p.name for p in tmp_path.iterdir()}
    assert leftovers <= {f".{out.name}.blocks"}  # at most a raster's finished blocks, kept to resume
    assert not any(name.endswith(".partial") or ".partial." in name for name in leftovers)
