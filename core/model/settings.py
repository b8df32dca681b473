"""What a model is made of, as the card stores it: the architecture and the encoder's options.

The context-graph encoder's options live here beside the others, so that a card of
either network family is checked without building (or importing) its network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import SettingsError
from .location_encoders import LOCATION_ENCODERS

CONTEXT_ENCODER = "grid_context"
"""The grid encoder read together with the location's context graph (:mod:`context_model`)."""
ENCODER_LABELS = {**{name: name for name in LOCATION_ENCODERS}, CONTEXT_ENCODER: "grid + context graph"}
"""Every location encoder a model can be trained with, and how front ends list it."""


@dataclass
class ContextSettings:
    """The context graph (neighbours, radius, links, leak guard) and the size of its encoder."""

    neighbours: int = 16
    radius: float = 300.0
    links: int = 4
    min_distance: float = 1.0
    width: int = 64
    heads: int = 4
    layers: int = 2
    streets: str | None = None

    def validate(self) -> None:
        for name in ("neighbours", "links", "width", "heads", "layers"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"The context-graph setting {name} must be at least 1 (got {getattr(self, name)}).")
        if self.width % self.heads:
            raise SettingsError(f"The context-graph width ({self.width}) must be a multiple of its heads ({self.heads}).")
        if not self.radius > self.min_distance >= 0:
            raise SettingsError(
                f"The context radius ({self.radius} m) must be larger than the leak guard min_distance "
                f"({self.min_distance} m), which must not be negative."
            )


@dataclass
class ModelSettings:
    """Architecture. ``min_lambda``/``max_lambda`` of None mean "auto from the data"."""

    encoder: str = "grid"
    min_lambda: float | None = None
    max_lambda: float | None = None
    frequency_num: int = 32
    encoder_options: dict = field(default_factory=dict)
    hidden: int = 256
    n_blocks: int = 4
    dropout: float = 0.5
    embed_dim: int = 128

    def validate(self) -> None:
        if self.encoder not in ENCODER_LABELS:
            raise SettingsError(
                f"Unknown location encoder '{self.encoder}'. Choose one of: {', '.join(ENCODER_LABELS)}."
            )
        if self.encoder == CONTEXT_ENCODER:
            try:
                ContextSettings(**self.encoder_options).validate()
            except TypeError as exc:
                raise SettingsError(f"Unknown context-graph setting: {exc}.") from exc
        else:
            unknown = set(self.encoder_options) - set(LOCATION_ENCODERS[self.encoder].option_names())
            if unknown:
                streets = f" Street connectivity needs the {CONTEXT_ENCODER} encoder." if "streets" in unknown else ""
                raise SettingsError(f"The {self.encoder} encoder has no setting {', '.join(sorted(unknown))}.{streets}")
        for name in ("hidden", "n_blocks", "embed_dim", "frequency_num"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"The setting {name} must be at least 1 (got {getattr(self, name)}).")
        if not 0.0 <= self.dropout < 1.0:
            raise SettingsError(f"Dropout must be in [0, 1) (got {self.dropout}).")

    def as_dict(self) -> dict:
        return asdict(self)
