"""The CaLLiPer network: a location tower and a text projection meeting in one space.

Two towers with the same interface (``encode_location``, ``encode_text``) as in
open_clip; the frozen sentence-transformer is not part of the network because its
outputs are precomputed once per distinct text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .errors import SettingsError
from .location_encoders import LOCATION_ENCODERS, LocationTower, make_location_encoder
from .loss import INITIAL_LOGIT_SCALE

CONTEXT_ENCODER = "grid_context"
"""The grid encoder read together with the location's context graph (:mod:`context_model`)."""
ENCODER_LABELS = {**{name: name for name in LOCATION_ENCODERS}, CONTEXT_ENCODER: "grid + context graph"}
"""Every location encoder a model can be trained with, and how front ends list it."""


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
            from .context_graph import ContextSettings

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


class CalliperNet(nn.Module):
    """Location tower + linear text projection + learnable logit scale."""

    def __init__(self, settings: ModelSettings, text_dim: int) -> None:
        super().__init__()
        if settings.min_lambda is None or settings.max_lambda is None:
            raise SettingsError("Scales must be resolved (auto or by hand) before building the model.")
        encoding = make_location_encoder(
            settings.encoder, settings.min_lambda, settings.max_lambda, settings.frequency_num, **settings.encoder_options
        )
        self.location = LocationTower(encoding, settings.hidden, settings.embed_dim, settings.n_blocks, settings.dropout)
        self.text_projection = nn.Linear(text_dim, settings.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(INITIAL_LOGIT_SCALE))

    @property
    def coordinate_kind(self) -> str:
        return self.location.encoding.coordinate_kind

    def encode_location(self, coords: torch.Tensor) -> torch.Tensor:
        """L2-normalised location embeddings from float64 coordinates."""
        return nn.functional.normalize(self.location(coords), dim=-1)

    def encode_text(self, text_vectors: torch.Tensor) -> torch.Tensor:
        """Projected (not normalised, as in the official code) text embeddings."""
        return self.text_projection(text_vectors)

    def decay_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: weight decay on weight matrices only, not biases or the logit scale."""
        decay = [p for n, p in self.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in self.named_parameters() if p.ndim < 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
