"""The CaLLiPer network: a location tower and a text projection meeting in one space.

Two towers with the same interface (``encode_location``, ``encode_text``) as in
open_clip; the frozen sentence-transformer is not part of the network because its
outputs are precomputed once per distinct text.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SettingsError
from .location_encoders import LocationTower, make_location_encoder
from .loss import INITIAL_LOGIT_SCALE
from .settings import ModelSettings


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
