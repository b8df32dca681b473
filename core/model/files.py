"""Model folders: ``model.safetensors`` (weights) + ``card.json`` (everything else).

Like a sentence-transformers folder, a model is self-describing: the card says how
to rebuild the network, which CRS its coordinates are in, how POI texts were made
and from what data. Loading never unpickles anything.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..atomic import atomic_path
from ..errors import ModelFileError
from ..outputs import check_output_folder, read_small_json
from .evidence import Evidence
from .network import CalliperNet
from .settings import ModelSettings

if TYPE_CHECKING:
    import torch

CARD_FORMAT = "calliper-model"
CARD_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.json"
# What a model folder holds (weights, evidence, card): replacing one never deletes anything else.
MODEL_FOLDER_FILES = (CARD_FILE, "*.safetensors")


@dataclass(kw_only=True)
class CardRecord:
    """What every model card of ours says besides its network: CRS, text model, provenance, metrics."""

    crs_wkt: str
    crs_label: str
    text_model: str
    text_model_id: str
    text: dict
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    created: str = ""


@dataclass(kw_only=True)
class ModelCard(CardRecord):
    """Everything needed to rebuild, apply and explain a trained model."""

    model: dict
    coordinate_kind: str
    text_dim: int
    format: str = CARD_FORMAT
    format_version: int = CARD_VERSION

    @property
    def settings(self) -> ModelSettings:
        return ModelSettings(**self.model)


@dataclass
class LoadedModel:
    """A network in eval mode with its card and the folder it came from."""

    net: CalliperNet
    card: ModelCard
    folder: Path


def library_versions() -> dict:
    import numpy
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    try:
        import sentence_transformers

        versions["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        pass
    return versions


def model_output_folder(
    out: str | Path, overwrite: bool, inputs: tuple[str | Path, ...], log: Callable[[str], None],
    owned: tuple[str, ...] = MODEL_FOLDER_FILES,
) -> Path:
    """Where a model folder goes: ``out``, or a new folder inside it when ``out`` holds the user's files (said)."""
    folder = check_output_folder(out, overwrite, inputs, subfolder="calliper-model", owned=owned)
    if folder.note:
        log(folder.note)
    return folder.path


def write_model_folder(folder: str | Path, card: CardRecord, write_weights: Callable[[Path], None]) -> Path:
    """Stamp the card (library versions, time) and write weights + card.json atomically: a half-written model never appears."""
    card.versions = card.versions or library_versions()
    card.created = card.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
    folder = Path(folder)
    with atomic_path(folder, directory=True) as temporary:
        write_weights(temporary / WEIGHTS_FILE)
        (temporary / CARD_FILE).write_text(json.dumps(asdict(card), indent=2, ensure_ascii=False), encoding="utf-8")
    return folder


def save_model(folder: str | Path, net: CalliperNet, card: ModelCard, evidence: Evidence | None = None) -> Path:
    """Write a CaLLiPer model folder (safetensors weights + card, and the training POIs' evidence when given)."""
    from safetensors.torch import save_file

    def write_weights(path: Path) -> None:
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
        save_file(state, str(path), metadata={"format": CARD_FORMAT})
        if evidence is not None:
            evidence.save(path.parent)

    return write_model_folder(folder, card, write_weights)


SAFETENSORS_HEADER_LIMIT = 16 * 1024 * 1024


def stored_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape from a safetensors file's header, without reading the tensors."""
    try:
        with open(weights, "rb") as stream:
            length = int.from_bytes(stream.read(8), "little")
            if not 0 < length <= SAFETENSORS_HEADER_LIMIT:
                raise ValueError(f"a header of {length:,} bytes")
            header = json.loads(stream.read(length).decode("utf-8"))
        return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ModelFileError(f"The weights file {weights} is missing, corrupt or truncated. Retrain or copy the "
                             "whole model folder.", str(exc)) from exc


def check_network_shapes(build: Callable[[], torch.nn.Module], weights: Path) -> None:
    """Build the card's network without memory (torch's meta device) and compare it with the weights' header.

    A card asking for a huge network (edited, corrupt, or not ours) then fails with a
    message here instead of exhausting memory while the network is built.
    """
    import torch

    stored = stored_shapes(weights)
    with torch.device("meta"):
        expected = {name: tuple(tensor.shape) for name, tensor in build().state_dict().items()}
    differ = sorted(name for name in expected.keys() | stored.keys() if expected.get(name) != stored.get(name))
    if differ:
        raise ModelFileError(
            f"The weights in {weights} do not match the network its card describes ({len(differ)} tensors differ, "
            f"first {differ[0]}). Retrain, or copy the whole model folder again.")


def format_version_problem(what: str, found: object, reads: int) -> str:
    """Why a model folder of another format version is refused, and what to do: update, or retrain."""
    if isinstance(found, int) and found > reads:
        return (f"{what} was written by a newer Calliper (model format {found}); this version reads format "
                f"{reads}. Update the Calliper plugin to use it.")
    return (f"{what} was written by an incompatible version of Calliper (model format {found}, this version "
            f"reads {reads}). Retrain it.")


def read_card(folder: str | Path) -> ModelCard:
    """Read and check a card; any problem becomes a ``ModelFileError`` naming the folder."""
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not folder.is_dir() or not card_path.exists():
        raise ModelFileError(
            f"{folder} is not a Calliper model folder (it needs {CARD_FILE} and {WEIGHTS_FILE}). "
            "Choose the folder written by Train."
        )
    try:
        raw = read_small_json(card_path)
    except OSError as exc:
        raise ModelFileError(f"The model card {card_path} cannot be read as a card ({exc}).") from exc
    except ValueError as exc:
        raise ModelFileError(f"The model card {card_path} is corrupt (not valid JSON).", str(exc)) from exc
    if not isinstance(raw, dict) or raw.get("format") != CARD_FORMAT:
        raise ModelFileError(f"{card_path} is not a Calliper model card.")
    if raw.get("format_version") != CARD_VERSION:
        raise ModelFileError(format_version_problem(f"The model in {folder}", raw.get("format_version"), CARD_VERSION))
    try:
        card = ModelCard(**raw)
        card.settings.validate()
    except TypeError as exc:
        raise ModelFileError(f"The model card {card_path} is missing fields or has unknown ones.", str(exc)) from exc
    return card
