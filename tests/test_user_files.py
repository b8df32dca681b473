"""Every front end that writes, pointed at a user's folder or file, leaves the user's files as they were.

Issue 34: Processing's folder picker selects an existing folder without asking, and Train then
replaced a folder holding thesis.docx and notes.txt. Here each Processing algorithm and each
command that writes runs with each of its outputs pointed at a folder holding a user's files
(a folder output also at a user's file). Whether it writes into a new subfolder (said in the
log) or refuses with a message, the user's files stay where they were, byte for byte, and
the folder is the same folder. The tables are checked against the provider and the parser:
an algorithm, an output or a command without a case fails here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from test_qgis_process import qgis_process_env  # noqa: F401 - the throwaway QGIS profile with the plugin

USER_FILES = {"thesis.docx": b"PK\x03\x04 four years of work", "notes.txt": b"call the supervisor\n"}
# xmin, ymin, xmax, ymax in EPSG:32635 (the demo data's CRS): 1 km of central Helsinki, 100 m pixels.
BOX = (385500.0, 6671700.0, 386500.0, 6672700.0)
PIXEL = "100"
TWO_SEEDS = "42,24"
RASTER, VECTOR = ".tif", ".gpkg"


@dataclass(frozen=True)
class Folder:
    """A folder output, and the new subfolder it takes inside a user's folder."""

    subfolder: str


@dataclass(frozen=True)
class UserFolder:
    """A folder of the user's, as it was before a run: what must still hold afterwards."""

    path: Path
    identity: tuple[int, int, int]  # device, inode, mode: the same folder, not a replacement

    @classmethod
    def make(cls, path: Path) -> UserFolder:
        path.mkdir(parents=True)
        for name, data in USER_FILES.items():
            (path / name).write_bytes(data)
        info = path.stat()
        return cls(path, (info.st_dev, info.st_ino, info.st_mode))

    def assert_intact(self) -> None:
        assert self.path.is_dir() and not self.path.is_symlink(), f"{self.path} is gone or no longer a folder"
        info = self.path.stat()
        assert (info.st_dev, info.st_ino, info.st_mode) == self.identity, f"{self.path} was replaced or moved"
        for name, data in USER_FILES.items():
            assert (self.path / name).is_file(), f"{name} was lost"
            assert (self.path / name).read_bytes() == data, f"{name} was changed"

    def new_entries(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name not in USER_FILES)


def _targets(outputs: dict[str, object]) -> list[tuple[str, str]]:
    """Each output at a user's folder; a file output also at a folder named like its file; a folder output at a file."""
    return [(output, target) for output, kind in outputs.items()
            for target in (("folder", "file") if isinstance(kind, Folder) else ("folder", "named folder"))]


def _pointed(user: UserFolder, kind: object, target: str) -> Path:
    if target == "folder":
        return user.path
    if target == "file":
        return user.path / "thesis.docx"
    named = user.path.with_name(f"{user.path.name}{kind}")  # QGIS adds no extension to it: our check must refuse it
    user.path.rename(named)
    return named


# --- inputs, made once ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pois(demo_data):
    return str(demo_data.pois)


@pytest.fixture(scope="module")
def landuse(demo_data):
    return str(demo_data.landuse)


@pytest.fixture(scope="module")
def model(trained):
    return str(trained.folder)


@pytest.fixture(scope="module")
def numeric_labels(demo_data, tmp_path_factory):
    import geopandas as gpd
    import numpy as np

    frame = gpd.read_file(demo_data.landuse)
    frame["log_area"] = np.log1p(frame.area)
    path = tmp_path_factory.mktemp("numeric") / "areas.gpkg"
    frame.to_file(path, driver="GPKG")
    return str(path)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The demo city's OSM drawn at 4 m: tiles of 16 pixels are 64 m."""
    from calliper.core.imagery.osm_render import render_osm_image

    return str(render_osm_image(tmp_path_factory.mktemp("imagery") / "osm.tif", pixel_size=4.0).path)


@pytest.fixture(scope="module")
def mmgr_model(image, demo_points, tmp_path_factory):
    from calliper.core.imagery.tiles import ImagerySettings
    from calliper.core.imagery.train import MMGRJob, MMGRTrainSettings, train_mmgr
    from calliper.core.text.descriptions import TextFields

    job = MMGRJob(
        image=Path(image), points=demo_points, fields=TextFields("class", "category"),
        out=tmp_path_factory.mktemp("mmgr") / "model", imagery=ImagerySettings(tile_metres=64, tile_pixels=16),
        train=MMGRTrainSettings(epochs=1, batch_size=64, seed=3, cpu_threads=1), embed_dim=32, width=8,
    )
    return str(train_mmgr(job).folder)


@pytest.fixture(scope="module")
def embedding(trained, tmp_path_factory):
    from calliper.core.maps.rasters import embedding_grid, embedding_raster

    from calliper.core.catalog.loading import load_model

    model = load_model(trained.folder)
    grid = embedding_grid(model, BOX, float(PIXEL))
    return str(embedding_raster(model, grid, tmp_path_factory.mktemp("embedding") / "embedding.tif"))


# --- Processing ---------------------------------------------------------------------------------------------

EXTENT = f"{BOX[0]},{BOX[2]},{BOX[1]},{BOX[3]} [EPSG:32635]"
STUDY = {"LABEL_FIELD": "landuse", "SEEDS": TWO_SEEDS, "MIN_CLASS_SIZE": 10}

# Algorithm id -> its inputs (from the fixtures named) and its outputs.
ALGORITHMS: dict[str, tuple[Callable[[Callable], dict], dict[str, object]]] = {
    "train": (lambda get: {"INPUT": get("pois"), "CLASS_FIELD": "class", "EPOCHS": 1},
              {"OUTPUT": Folder("calliper-model")}),
    "mmgrtrain": (lambda get: {"IMAGE": get("image"), "POIS": get("pois"), "CLASS_FIELD": "class", "TILE_METRES": 64,
                               "TILE_PIXELS": 16, "EPOCHS": 1},
                  {"OUTPUT_MODEL": Folder("calliper-model"), "OUTPUT": RASTER, "RGB_OUTPUT": RASTER}),
    "embedpoints": (lambda get: {"MODEL": get("model"), "INPUT": get("pois")}, {"OUTPUT": VECTOR}),
    "describe": (lambda get: {"MODEL": get("model"), "INPUT": get("landuse"), "TOP": 1}, {"OUTPUT": VECTOR}),
    "rank": (lambda get: {"MODEL": get("model"), "INPUT": get("pois"), "TEXT": "a cafe"}, {"OUTPUT": VECTOR}),
    "embeddingraster": (lambda get: {"MODEL": get("model"), "EXTENT": EXTENT, "PIXEL_SIZE": PIXEL},
                        {"OUTPUT": RASTER, "RGB_OUTPUT": RASTER}),
    "similarity": (lambda get: {"MODEL": get("model"), "EMBEDDING": get("embedding"), "TEXT": "nightlife"},
                   {"OUTPUT": RASTER}),
    "cluster": (lambda get: {"EMBEDDING": get("embedding"), "K": 2}, {"OUTPUT": RASTER}),
    "profile": (lambda get: {"MODEL": get("model"), "INPUT": get("landuse")}, {"OUTPUT": VECTOR}),
    "profileraster": (lambda get: {"MODEL": get("model"), "EXTENT": EXTENT, "PIXEL_SIZE": PIXEL}, {"OUTPUT": RASTER}),
    "mmgrregionraster": (lambda get: {"MODEL": get("mmgr_model"), "IMAGE": get("image"), "PHRASE": "a park"},
                         {"OUTPUT": RASTER, "SIMILARITY": RASTER}),
    "classify": (lambda get: {"MODEL": get("model"), "LABELS": get("landuse"), "POIS": get("pois"), **STUDY},
                 {"OUTPUT_FOLDER": Folder("calliper-landuse")}),
    "predict": (lambda get: {"MODEL": get("model"), "LABELS": get("numeric_labels"), "FIELDS": ["log_area"],
                             "SEEDS": TWO_SEEDS, "POIS": get("pois")},
                {"OUTPUT_FOLDER": Folder("calliper-landuse")}),
    "transfer": (lambda get: {"SOURCE_MODEL": get("model"), "SOURCE_LABELS": get("landuse"), "LABEL_FIELD": "landuse",
                              "TARGET_MODEL": get("model"), "TARGET_LABELS": get("landuse"), "SEEDS": TWO_SEEDS},
                 {"OUTPUT_FOLDER": Folder("calliper-transfer")}),
}
PROCESSING_CASES = [(algorithm, output, target) for algorithm, (_, outputs) in ALGORITHMS.items()
                    for output, target in _targets(outputs)]


def _output_kind(parameter) -> object:
    from qgis.core import (
        QgsProcessingParameterFeatureSink,
        QgsProcessingParameterFolderDestination,
        QgsProcessingParameterRasterDestination,
        QgsProcessingParameterVectorDestination,
    )

    if isinstance(parameter, QgsProcessingParameterFolderDestination):
        return Folder
    if isinstance(parameter, QgsProcessingParameterRasterDestination):
        return RASTER
    if isinstance(parameter, (QgsProcessingParameterFeatureSink, QgsProcessingParameterVectorDestination)):
        return VECTOR
    return type(parameter).__name__  # a kind of output this file does not know yet: it fails below


def test_every_algorithm_and_each_of_its_outputs_has_a_case(processing):
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("calliper")
    found = {}
    for algorithm in provider.algorithms():
        found[algorithm.name()] = {p.name(): _output_kind(p) for p in algorithm.destinationParameterDefinitions()}
    table = {name: {output: Folder if isinstance(kind, Folder) else kind for output, kind in outputs.items()}
             for name, (_, outputs) in ALGORITHMS.items()}
    assert found == table, "an algorithm or an output has no case in ALGORITHMS: add it"


class Log:
    """A Processing feedback that keeps the log lines."""

    def __new__(cls):
        from qgis.core import QgsProcessingFeedback

        class Feedback(QgsProcessingFeedback):
            def __init__(self):
                super().__init__()
                self.lines: list[str] = []

            def pushInfo(self, info):  # noqa: N802 - QGIS API
                self.lines.append(info)
                super().pushInfo(info)

        return Feedback()


@pytest.mark.parametrize("algorithm, output, target", PROCESSING_CASES)
def test_processing_output_at_a_users_folder_or_file_leaves_the_users_files(processing, request, tmp_path,
                                                                            algorithm, output, target):
    from qgis.core import QgsProcessingException

    inputs, outputs = ALGORITHMS[algorithm]
    parameters = inputs(request.getfixturevalue)
    elsewhere = tmp_path / "elsewhere"
    for name, kind in outputs.items():  # the other outputs go where nothing is
        parameters[name] = str(elsewhere / (name.lower() + ("" if isinstance(kind, Folder) else kind)))
    user = UserFolder.make(tmp_path / "my project")
    pointed = _pointed(user, outputs[output], target)
    if target == "named folder":
        user = UserFolder(pointed, user.identity)
    parameters[output] = str(pointed)
    feedback = Log()
    try:
        result, error = processing.run(f"calliper:{algorithm}", parameters, feedback=feedback), None
    except QgsProcessingException as exc:
        result, error = None, str(exc)
    user.assert_intact()
    if target == "file":  # a folder output never replaces a file
        assert error and "not a folder" in error, error
    elif isinstance(outputs[output], Folder):  # a user's folder gets a new subfolder, and the user is told
        written = user.path / outputs[output].subfolder
        assert error is None, error
        assert result[output] == str(written) and user.new_entries() == [written.name]
        assert any(str(written) in line for line in feedback.lines), "the new subfolder is not said in the log"
    elif error is None:  # a file output at a folder: written beside it (QGIS added an extension), never into it
        assert result[output] != str(user.path) and user.new_entries() == []
    else:
        assert user.new_entries() == [], f"{algorithm} refused ({error}) but left files in the user's folder"


def test_qgis_process_trains_into_a_new_subfolder_of_a_users_folder(
    qgis_process_env, pois, tmp_path  # noqa: F811
):
    """The issue's own case: qgis_process run calliper:train ... OUTPUT=<a folder holding thesis.docx>."""
    from test_qgis_process import run

    user = UserFolder.make(tmp_path / "my project")
    result = run(qgis_process_env, "run", "calliper:train", "--", f"INPUT={pois}", "CLASS_FIELD=class", "EPOCHS=1",
                 f"OUTPUT={user.path}")
    user.assert_intact()
    written = user.path / "calliper-model"
    assert result.returncode == 0, result.stderr[-2000:]
    assert user.new_entries() == [written.name] and (written / "card.json").is_file()
    assert f"the new folder {written}" in result.stdout, result.stdout[-2000:]


# --- the command line ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A command line's arguments besides its outputs, its output options, and whether it has --overwrite."""

    command: str
    arguments: Callable[[Callable], list[str]]
    outputs: dict[str, object]
    overwrite: bool = True


MMGR_TINY = ["--tile-metres", "64", "--tile-pixels", "16", "--epochs", "1", "--threads", "1"]
MAPS = {"--rgb": RASTER, "--clusters": RASTER, "--similarity": RASTER}
COMMANDS: dict[str, Command] = {case.command if label is None else label: case for label, case in [
    (None, Command("train", lambda get: ["--pois", get("pois"), "--class-field", "class", "--epochs", "1"],
                   {"--out": Folder("calliper-model")})),
    (None, Command("embed-points", lambda get: ["--model", get("model"), "--points", get("pois")], {"--out": VECTOR})),
    (None, Command("demo", lambda get: ["--epochs", "1"], {"--out": Folder("calliper-demo")}, overwrite=False)),
    (None, Command("classify", lambda get: ["--model", get("model"), "--labels", get("landuse"), "--label-field",
                                            "landuse", "--min-class-size", "10", "--seeds", TWO_SEEDS,
                                            "--pois", get("pois")],
                   {"--out-dir": Folder("calliper-landuse")})),
    (None, Command("predict", lambda get: ["--model", get("model"), "--labels", get("numeric_labels"), "--fields",
                                           "log_area", "--seeds", TWO_SEEDS, "--pois", get("pois")],
                   {"--out-dir": Folder("calliper-landuse")})),
    (None, Command("raster", lambda get: ["--model", get("model"), "--extent", ",".join(map(str, BOX)),
                                          "--pixel-size", PIXEL],
                   {"--out": RASTER, "--rgb": RASTER})),
    (None, Command("similarity", lambda get: ["--model", get("model"), "--embedding", get("embedding"),
                                              "--text", "nightlife"], {"--out": RASTER})),
    (None, Command("cluster", lambda get: ["--embedding", get("embedding"), "--k", "2"], {"--out": RASTER})),
    (None, Command("render-osm", lambda get: ["--pixel-size", "50"], {"--out": RASTER})),
    (None, Command("mmgr-train", lambda get: ["--image", get("image"), "--pois", get("pois"), "--class-field", "class",
                                              *MMGR_TINY, "--phrase", "a park"],
                   {"--out": Folder("calliper-model"), "--raster": RASTER, **MAPS})),
    (None, Command("region-raster", lambda get: ["--model", get("mmgr_model"), "--image", get("image"),
                                                 "--phrase", "a park"], {"--out": RASTER, **MAPS})),
    (None, Command("rank", lambda get: ["--model", get("model"), "--points", get("pois"), "--text", "a cafe",
                                        "--top", "1"], {"--out": VECTOR})),
    (None, Command("describe", lambda get: [], {}, overwrite=False)),  # prints only
    (None, Command("profile", lambda get: ["--model", get("model"), "--points", get("landuse")], {"--out": VECTOR})),
    ("profile raster", Command("profile", lambda get: ["--model", get("model"), "--extent", ",".join(map(str, BOX)),
                                                       "--pixel-size", PIXEL], {"--out": RASTER})),
    (None, Command("transfer", lambda get: ["--source-model", get("model"), "--source-labels", get("landuse"),
                                            "--target-model", get("model"), "--target-labels", get("landuse"),
                                            "--label-field", "landuse", "--seeds", TWO_SEEDS],
                   {"--out-dir": Folder("calliper-transfer")})),
]}


def _cli_targets(case: Command) -> list[tuple[str, str, bool]]:
    """Output, where it points, and --overwrite: a user's folder with and without it, a named folder with it, and
    a user's file (a folder output with --overwrite, a file output without: replacing a chosen file is allowed)."""
    runs = []
    for output, kind in case.outputs.items():
        folder_output = isinstance(kind, Folder)
        targets = [("folder", False), ("folder", True), ("file", folder_output)]
        targets += [] if folder_output else [("named folder", True)]
        runs += [(output, target, overwrite and case.overwrite) for target, overwrite in targets]
    return list(dict.fromkeys(runs))


CLI_CASES = [(label, output, target, overwrite) for label, case in COMMANDS.items()
             for output, target, overwrite in _cli_targets(case)]
# An option is an output when its help says the command writes to it; --phrase is the query of --similarity's map.
WRITES = re.compile(r"\bwrite\b|GeoTIFF for|^folder for|output GeoPackage", re.IGNORECASE)
NOT_OUTPUTS = {"--phrase"}


def test_every_command_and_each_of_its_outputs_has_a_case():
    from calliper.cli.main import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    found = {name: {option for action in parser._actions if WRITES.search(action.help or "")
                    for option in action.option_strings if option.startswith("--") and option not in NOT_OUTPUTS}
             for name, parser in commands.items()}
    table: dict[str, set[str]] = {}
    for case in COMMANDS.values():
        table.setdefault(case.command, set()).update(case.outputs)
        assert ("--overwrite" in commands[case.command]._option_string_actions) == case.overwrite, case.command
    assert found == table, "a command or an output option has no case in COMMANDS: add it"


@pytest.mark.parametrize("label, output, target, overwrite", CLI_CASES)
def test_command_output_at_a_users_folder_or_file_leaves_the_users_files(request, tmp_path, capsys,
                                                                         label, output, target, overwrite):
    from calliper.cli.main import main

    case = COMMANDS[label]
    argv = [case.command, *case.arguments(request.getfixturevalue)]
    elsewhere = tmp_path / "elsewhere"
    for option, kind in case.outputs.items():  # the other outputs go where nothing is
        if option != output:
            argv += [option, str(elsewhere / (option.strip("-") + ("" if isinstance(kind, Folder) else kind)))]
    user = UserFolder.make(tmp_path / "my project")
    pointed = _pointed(user, case.outputs[output], target)
    if target == "named folder":
        user = UserFolder(pointed, user.identity)
    argv += [output, str(pointed)] + (["--overwrite"] if overwrite else [])
    try:
        code, crash = main(argv), None
    except BaseException as exc:  # noqa: BLE001 - a traceback is a failure, but first: are the user's files there?
        code, crash = None, exc
    said = capsys.readouterr()
    user.assert_intact()
    assert crash is None, f"{argv} ended in a traceback: {crash!r}"
    assert code in (0, 2), said.err
    folder_output = isinstance(case.outputs[output], Folder)
    if target == "file":  # a folder output never replaces a file; a file output replaces one only when asked
        assert code == 2 and ("not a folder" if folder_output else "already exists") in said.err, said.err
    elif folder_output:  # a user's folder gets a new subfolder, and the user is told
        written = user.path / case.outputs[output].subfolder
        assert code == 0, said.err
        assert user.new_entries() == [written.name] and any(written.iterdir())
        assert str(written) in said.out + said.err, "the new subfolder is not said"
    else:  # a file output at a folder is refused, and nothing is left in it
        assert code == 2 and "is a folder" in said.err and user.new_entries() == [], said.err


# --- a folder Calliper wrote that also holds a user's file -------------------------------------------------


@pytest.mark.parametrize("name", ["notes.txt", ".notes.txt", ".git/HEAD"])
def test_training_again_into_a_model_folder_holding_a_users_file_keeps_that_file(model, pois, tmp_path, capsys, name):
    """A model folder is replaced whole only when it holds nothing but Calliper's files, hidden ones included."""
    import shutil

    from calliper.cli.main import main

    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).write_bytes(USER_FILES["notes.txt"])
    code = main(["train", "--pois", pois, "--class-field", "class", "--epochs", "1", "--out", str(folder),
                 "--overwrite"])
    said = capsys.readouterr()
    assert (folder / name).read_bytes() == USER_FILES["notes.txt"], f"{name} was lost"
    assert code == 0 and (folder / "calliper-model" / "card.json").is_file(), said.err
    assert str(folder / "calliper-model") in said.err


def test_only_calliper_s_own_hidden_names_leave_a_model_folder_replaceable(tmp_path):
    import json

    from calliper.core.model.files import MODEL_FOLDER_FILES
    from calliper.core.outputs import check_output_folder

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "card.json").write_text(json.dumps({"format": "calliper-model"}))
    for name in (".calliper-1a2b.partial", ".model.4242-x1.partial.safetensors", ".region.tif.lock",
                 ".region.tif.blocks", ".region.tif.blocks.json", ".model.old-4242"):
        (folder / name).write_text("Calliper's")
    def chosen():
        return check_output_folder(folder, True, subfolder="calliper-model", owned=MODEL_FOLDER_FILES).path

    assert chosen() == folder
    for name in (".notes.txt", ".git", ".DS_Store"):
        (folder / name).write_text("the user's")
        assert chosen() == folder / "calliper-model", name
        (folder / name).unlink()
