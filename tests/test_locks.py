"""One run per output: a second run writing the same output is refused with the first one named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from calliper.core.errors import OutputPathError
from calliper.core.locks import lock_path, output_lock


def test_a_second_holder_is_refused_with_the_first_named_and_the_lock_goes_with_the_first(tmp_path):
    out = tmp_path / "emb.tif"
    with output_lock(out):
        holder = json.loads(lock_path(out).read_text())
        assert holder["pid"] == os.getpid() and holder["host"]
        with pytest.raises(OutputPathError, match=f"being written by another run \\(pid {os.getpid()} on "):
            with output_lock(out):  # a second dock task on the same output, in the same process
                pass
        with output_lock(tmp_path / "other.tif"):  # another output runs side by side
            pass
    assert not lock_path(out).exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_a_foreign_hosts_lock_is_trusted(tmp_path):
    out = tmp_path / "model"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(out).write_text(json.dumps({"pid": dead.pid, "host": __import__("socket").gethostname()}))
    with output_lock(out):
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
    lock_path(out).write_text("{half a lock")  # a run killed while writing its lock
    with output_lock(out):
        pass
    lock_path(out).write_text(json.dumps({"pid": 1, "host": "another-machine", "started": "today"}))
    with pytest.raises(OutputPathError, match="pid 1 on another-machine"):
        with output_lock(out):
            pass


def test_two_real_raster_runs_to_one_output_the_second_refused_then_the_first_killed_leaves_it_free(
        demo_model, tmp_path):
    out = tmp_path / "emb.tif"

    def raster(pixel_size: str) -> list[str]:
        return [sys.executable, "-m", "calliper.cli", "raster", "--model", str(demo_model.folder), "--extent",
                "384000,6670000,388000,6674000", "--pixel-size", pixel_size, "--whole-extent", "--out", str(out)]

    command = raster("2")  # 4 million pixels: minutes of work, killed long before
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not lock_path(out).exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert lock_path(out).exists(), first.communicate()
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"being written by another run (pid {first.pid} on " in second.stderr and "raster" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not out.exists() and lock_path(out).exists()  # killed: its lock is stale, its output never appeared
    third = subprocess.run(raster("200"), env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    assert out.exists() and not lock_path(out).exists()
