"""Atomic outputs at the moments a kill can hit between two renames: the next run finishes or undoes them."""

from __future__ import annotations

import json

import pytest
from calliper.core.atomic import COMMIT_MARKER, atomic_group, atomic_path, finish_interrupted_groups


def _group(tmp_path, committed: bool):
    """A staging folder as a run killed after writing both files (and, if ``committed``, its marker) leaves it."""
    staging = tmp_path / ".calliper-abc.partial"
    staging.mkdir()
    for name in ("metrics.json", "report.html"):
        (staging / name).write_text(f"new {name}")
    if committed:
        (staging / COMMIT_MARKER).write_text(json.dumps({"token": "abc", "files": ["metrics.json", "report.html"]}))
    return staging


def test_a_committed_group_killed_among_its_renames_is_finished_by_the_next_run(tmp_path):
    staging = _group(tmp_path, committed=True)
    (staging / "metrics.json").replace(tmp_path / "metrics.json")  # the kill came after the first rename
    (tmp_path / "report.html").write_text("old report.html")
    finish_interrupted_groups(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.html"]
    assert (tmp_path / "report.html").read_text() == "new report.html"


def test_an_uncommitted_group_is_dropped_and_the_old_files_stay(tmp_path):
    _group(tmp_path, committed=False)
    (tmp_path / "report.html").write_text("old report.html")
    finish_interrupted_groups(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert (tmp_path / "report.html").read_text() == "old report.html"


def test_a_group_moves_all_its_files_or_none(tmp_path):
    targets = {"a": tmp_path / "a.txt", "b": tmp_path / "b.txt"}
    targets["a"].write_text("old")
    with pytest.raises(RuntimeError), atomic_group(targets, print) as paths:
        paths["a"].write_text("new")
        raise RuntimeError("the job failed before writing b")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"] and targets["a"].read_text() == "old"
    with atomic_group(targets, print) as paths:
        for key, path in paths.items():
            path.write_text(f"new {key}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"] and targets["b"].read_text() == "new b"


def test_a_folder_output_killed_between_its_two_renames_is_put_back(tmp_path):
    model = tmp_path / "model"
    backup = tmp_path / ".model.old-4242"  # the old folder moved aside; the kill came before the new one moved in
    backup.mkdir()
    (backup / "card.json").write_text("old card")
    with pytest.raises(RuntimeError), atomic_path(model, directory=True) as temporary:
        assert (model / "card.json").read_text() == "old card"  # restored before the new write starts
        (temporary / "card.json").write_text("half")
        raise RuntimeError("this run fails too")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and (model / "card.json").read_text() == "old card"


def test_the_next_write_removes_temporaries_of_killed_runs_but_not_of_live_ones(tmp_path):
    import os
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now names no process
    killed = tmp_path / f".region.{dead.pid}-x1y2.partial.tif"
    killed_folder = tmp_path / f".model.{dead.pid}-q9.partial"
    alive = tmp_path / f".region.{os.getppid()}-z3.partial.tif"  # another run, still going
    for path in (killed, alive):
        path.write_bytes(b"half a GeoTIFF")
    killed_folder.mkdir()
    with atomic_path(tmp_path / "region.tif") as temporary:
        temporary.write_bytes(b"whole")
    with atomic_path(tmp_path / "model", directory=True) as temporary:
        (temporary / "card.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "model", "region.tif"])
