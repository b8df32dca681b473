"""The output rule: nothing Calliper did not write is replaced, moved or deleted, whatever path a user gives."""

from __future__ import annotations

import json
import os
import stat

import pytest
from calliper.core.atomic import COMMIT_MARKER, atomic_group, atomic_path, finish_interrupted_groups
from calliper.core.errors import OutputPathError
from calliper.core.outputs import (
    FOLDER_MARKER, check_output_folder, check_output_path, mark_folder, read_small_json, written_by_calliper,
)

USER_FILES = {"thesis.docx": b"PK\x03\x04 four years of work", "notes.txt": b"call the supervisor"}


def _user_folder(path):
    path.mkdir(parents=True, exist_ok=True)
    for name, data in USER_FILES.items():
        (path / name).write_bytes(data)
    return path


def _assert_user_files_intact(path):
    for name, data in USER_FILES.items():
        assert (path / name).read_bytes() == data, f"{name} was changed or lost"


def test_a_folder_output_in_a_users_folder_goes_into_a_new_subfolder_and_says_so(tmp_path):
    folder = _user_folder(tmp_path / "thesis")
    chosen = check_output_folder(folder, overwrite=True, subfolder="calliper-model")
    assert chosen.path == folder / "calliper-model" and str(folder) in chosen.note and "calliper-model" in chosen.note
    (folder / "calliper-model").mkdir()
    assert check_output_folder(folder, overwrite=True, subfolder="calliper-model").path == folder / "calliper-model-2"


def test_a_folder_output_replaces_an_empty_folder_or_calliper_s_own(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output_folder(empty, overwrite=False).path == empty
    model = tmp_path / "model"
    model.mkdir()
    (model / "card.json").write_text(json.dumps({"format": "calliper-model"}))
    (model / "model.safetensors").write_bytes(b"weights")
    assert check_output_folder(model, overwrite=True, owned=("card.json", "*.safetensors")).path == model
    with pytest.raises(OutputPathError, match="already exists"):
        check_output_folder(model, overwrite=False, owned=("card.json", "*.safetensors"))


def test_a_calliper_folder_holding_a_users_file_is_not_replaced_whole(tmp_path):
    model = _user_folder(tmp_path / "model")
    (model / "card.json").write_text(json.dumps({"format": "calliper-model"}))
    chosen = check_output_folder(model, overwrite=True, subfolder="calliper-model", owned=("card.json", "*.safetensors"))
    assert chosen.path == model / "calliper-model" and "notes.txt" not in chosen.path.name


def test_a_folder_output_refuses_a_file_and_a_file_output_refuses_a_folder(tmp_path):
    folder = _user_folder(tmp_path / "thesis")
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_folder(folder / "thesis.docx", overwrite=True)
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(folder, overwrite=True)
    _assert_user_files_intact(folder)


def test_the_atomic_writers_never_replace_a_users_folder_even_when_called_directly(tmp_path):
    folder = _user_folder(tmp_path / "thesis")
    with pytest.raises(OutputPathError), atomic_path(folder) as temporary:
        temporary.write_bytes(b"a raster")
    with pytest.raises(OutputPathError), atomic_path(folder, directory=True) as temporary:
        (temporary / "card.json").write_text("{}")
    _assert_user_files_intact(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_a_model_folder_gets_the_users_usual_permissions(tmp_path):
    with atomic_path(tmp_path / "model", directory=True) as temporary:
        (temporary / "card.json").write_text("{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o777 & ~mask


def test_a_group_leaves_its_marker_and_the_folder_is_then_calliper_s(tmp_path):
    targets = {"metrics": tmp_path / "metrics.json"}
    assert not written_by_calliper(tmp_path)
    with atomic_group(targets, print, marker="landuse") as paths:
        paths["metrics"].write_text("{}")
    assert (tmp_path / FOLDER_MARKER).is_file() and written_by_calliper(tmp_path)


def test_mark_folder_makes_a_folder_calliper_s(tmp_path):
    mark_folder(tmp_path, "demo")
    assert written_by_calliper(tmp_path) and [p.name for p in tmp_path.iterdir()] == [FOLDER_MARKER]


@pytest.mark.parametrize("target", ["../escaped.txt", "/tmp/escaped.txt", "sub/escaped.txt", "..", "C:escaped.txt"])
def test_a_planted_commit_marker_cannot_move_a_file_out_of_its_folder(tmp_path, target):
    folder = tmp_path / "out"
    staging = folder / ".calliper-abc.partial"
    staging.mkdir(parents=True)
    (staging / "payload").write_text("planted")
    (staging / COMMIT_MARKER).write_text(json.dumps({"token": "abc", "files": [target]}))
    left_alone = finish_interrupted_groups(folder)
    assert len(left_alone) == 1 and str(staging) in left_alone[0]
    assert (staging / "payload").read_text() == "planted"  # left as it is, reported
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not (tmp_path / "escaped.txt").exists()


def test_an_old_style_marker_or_another_runs_token_is_left_alone(tmp_path):
    staging = tmp_path / ".calliper-abc.partial"
    staging.mkdir()
    (staging / "metrics.json").write_text("new")
    (staging / COMMIT_MARKER).write_text(json.dumps({"metrics.json": str(tmp_path.parent / "metrics.json")}))
    assert finish_interrupted_groups(tmp_path) and (staging / "metrics.json").exists()
    (staging / COMMIT_MARKER).write_text(json.dumps({"token": "xyz", "files": ["metrics.json"]}))
    assert finish_interrupted_groups(tmp_path) and not (tmp_path / "metrics.json").exists()


def test_small_json_refuses_devices_and_oversized_files(tmp_path):
    with pytest.raises(OSError, match="not a regular file"):
        read_small_json("/dev/zero")
    link = tmp_path / "card.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(OSError):
        read_small_json(link)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"x": "y" * 2000}))
    with pytest.raises(OSError, match="more than"):
        read_small_json(big, limit=1000)
    assert read_small_json(big)["x"] == "y" * 2000


def test_a_card_asking_for_a_huge_network_is_refused_before_it_is_built(trained, tmp_path):
    import shutil

    from calliper.core.catalog.loading import load_model
    from calliper.core.errors import ModelFileError

    folder = tmp_path / "model"
    shutil.copytree(trained.folder, folder)
    card = json.loads((folder / "card.json").read_text())
    card["model"]["hidden"] = 2_000_000  # 16 TB for one 2e6 x 2e6 layer, were it built
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="do not match the network its card describes"):
        load_model(folder)


def test_a_card_that_is_not_a_regular_file_is_refused(trained, tmp_path):
    import shutil

    from calliper.core.catalog.loading import load_model
    from calliper.core.errors import ModelFileError

    folder = tmp_path / "model"
    shutil.copytree(trained.folder, folder)
    (folder / "card.json").unlink()
    (folder / "card.json").symlink_to("/dev/zero")
    with pytest.raises(ModelFileError, match="cannot be read as a card"):
        load_model(folder)
