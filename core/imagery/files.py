"""MMGR model folders: ``model.safetensors`` + ``card.json``, like a CaLLiPer model folder but its own format.

The card holds what applying the model to an image needs besides the weights: the
bands and their normalisation, the tile size, the CRS, the text model of the POI
tower and the POI classes (to name clusters). Loading never unpickles anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..model.files import (
    CARD_FILE, WEIGHTS_FILE, CardRecord, check_network_shapes, format_version_problem, write_model_folder,
)
from ..outputs import read_small_json
from .model import MMGRNet, MMGRSettings
from .tiles import BandStatistics, ImagerySettings

MMGR_FORMAT = "calliper-mmgr"
MMGR_VERSION = 1


@dataclass(kw_only=True)
class MMGRCard(CardRecord):
    """Network shape, imagery handling, CRS, text model, training summary and metrics of an MMGR model."""

    model: dict
    imagery: dict
    format: str = MMGR_FORMAT
    format_version: int = MMGR_VERSION

    @property
    def settings(self) -> MMGRSettings:
        return MMGRSettings(**self.model)

    @property
    def imagery_settings(self) -> ImagerySettings:
        bands = self.imagery.get("bands")
        return ImagerySettings(
            bands=tuple(bands) if bands else None, tile_metres=self.imagery["tile_metres"],
            tile_pixels=self.imagery["tile_pixels"], min_valid_fraction=self.imagery["min_valid_fraction"],
        )

    @property
    def statistics(self) -> BandStatistics:
        return BandStatistics(np.asarray(self.imagery["mean"], np.float32), np.asarray(self.imagery["std"], np.float32))


@dataclass
class LoadedMMGR:
    """An MMGR network in eval mode with its card and folder."""

    net: MMGRNet
    card: MMGRCard
    folder: Path


def save_mmgr(folder: str | Path, net: MMGRNet, card: MMGRCard) -> Path:
    """Write the MMGR model folder (safetensors weights + card) atomically."""
    from safetensors.torch import save_model

    return write_model_folder(folder, card, lambda path: save_model(net.cpu(), str(path), metadata={"format": MMGR_FORMAT}))


def _raw_card(folder: Path) -> dict | None:
    """The JSON of an MMGR card in ``folder``; None when there is no readable card of the MMGR format."""
    try:
        raw = read_small_json(folder / CARD_FILE)
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and raw.get("format") == MMGR_FORMAT else None


def is_mmgr_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an MMGR card (not a CaLLiPer one)."""
    return _raw_card(Path(folder)) is not None


def read_mmgr_card(folder: str | Path) -> MMGRCard:
    """The card of an MMGR folder; anything wrong raises a ``ModelFileError`` saying what to do."""
    folder = Path(folder)
    raw = _raw_card(folder)
    if raw is None:
        problem = (f"{folder} is not an MMGR model folder (it needs a {CARD_FILE} of format '{MMGR_FORMAT}'). "
                   "Choose the folder written by 'Train MMGR' (Imagery tab or calliper mmgr-train).")
    elif raw.get("format_version") != MMGR_VERSION:
        problem = format_version_problem(f"The MMGR model in {folder}", raw.get("format_version"), MMGR_VERSION)
    else:
        try:
            card = MMGRCard(**raw)
            card.settings.validate()
            return card
        except TypeError as exc:
            raise ModelFileError(f"The MMGR card in {folder} is missing fields or has unknown ones.", str(exc)) from exc
    raise ModelFileError(problem)


def load_mmgr(folder: str | Path, device: str = "cpu") -> LoadedMMGR:
    """Rebuild the network from the card and fill it from its safetensors weights (names and shapes checked)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    card = read_mmgr_card(folder)
    weights = Path(folder) / WEIGHTS_FILE
    check_network_shapes(lambda: MMGRNet(card.settings), weights)
    net = MMGRNet(card.settings)
    try:
        load_model(net, str(weights), strict=True)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ModelFileError(
            f"The weights file {weights} is missing, corrupt, or does not match the network in its card. Retrain.",
            str(exc),
        ) from exc
    return LoadedMMGR(net.to(device).eval(), card, Path(folder))
