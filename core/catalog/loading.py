"""Loading any model folder of ours into the network its card names.

The loader sits above both network families (plain CaLLiPer in ``model``, the
context-graph network in ``context``), so neither imports the other to be loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..context.network import ContextNet, ContextStore
from ..errors import ModelFileError
from ..model.files import WEIGHTS_FILE, LoadedModel, ModelCard, check_network_shapes, read_card
from ..model.network import CalliperNet
from ..model.settings import CONTEXT_ENCODER


def load_model(folder: str | Path, device: str = "cpu") -> LoadedModel:
    """Rebuild the network from the card and load its weights (safetensors only, never pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    card = read_card(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.exists():
        raise ModelFileError(f"The model folder {folder} has no {WEIGHTS_FILE}. Retrain or copy the whole folder.")
    if card.settings.encoder not in NETWORK_BUILDERS:  # the others are built from the stored tensors themselves
        check_network_shapes(lambda: build_network(card, {}), weights)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"The weights file {weights} is corrupt or truncated.", str(exc)) from exc
    net = build_network(card, state)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"The weights in {weights} do not match the architecture in its card.", str(exc)) from exc
    net.to(device).eval()
    return LoadedModel(net=net, card=card, folder=folder)


def _context_network(card: ModelCard, state: dict) -> CalliperNet:
    return ContextNet(card.settings, card.text_dim, ContextStore.from_state(state))


NETWORK_BUILDERS: dict[str, Callable[[ModelCard, dict], CalliperNet]] = {CONTEXT_ENCODER: _context_network}
"""Networks other than plain CaLLiPer, keyed by the encoder their card names."""


def build_network(card: ModelCard, state: dict) -> CalliperNet:
    """The network class the card's encoder names: CaLLiPer, or CaLLiPer + context graph with its stored POIs."""
    builder = NETWORK_BUILDERS.get(card.settings.encoder)
    return builder(card, state) if builder else CalliperNet(card.settings, card.text_dim)


def load_model_for_maps(folder: str | Path) -> LoadedModel:
    """``load_model`` on CUDA when present, else the CPU: rasters are the heaviest inference."""
    from ..devices import choose_device

    return load_model(folder, device=choose_device("auto").device)
