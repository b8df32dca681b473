"""The MMGR objective: intra-modal plus inter-modal InfoNCE, optionally tied to CaLLiPer's space.

- intra: two augmented views of a tile are a positive pair, the batch's other tiles negatives;
- inter: a tile and the set of its POIs are a positive pair (tiles without POIs sit this term out:
  every empty set looks the same, so they would be false negatives of each other);
- tie (optional): a tile and the CaLLiPer embedding of its centre, so both models share one space.

Each term is the symmetric InfoNCE of ``core.loss`` at a fixed temperature (MMGR's 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import SettingsError
from ..model.loss import MAX_LOGIT_SCALE, contrastive_loss


@dataclass
class LossWeights:
    """Weights of the three terms and the temperature of all of them."""

    intra: float = 0.5
    inter: float = 0.5
    tie: float = 0.0
    temperature: float = 0.5

    def validate(self) -> None:
        if min(self.intra, self.inter, self.tie) < 0 or self.intra + self.inter + self.tie <= 0:
            raise SettingsError("Loss weights must be non-negative and not all zero.")
        if not math.exp(-MAX_LOGIT_SCALE) <= self.temperature <= 10:
            raise SettingsError(f"The temperature must be between 0.01 and 10 (got {self.temperature}).")


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of L2-normalised rows: pair i is row i of ``a`` and of ``b``."""
    return contrastive_loss(a, b, torch.tensor(-math.log(temperature), device=a.device))


def mmgr_loss(
    view_a: torch.Tensor,
    view_b: torch.Tensor,
    poi_sets: torch.Tensor,
    has_pois: torch.Tensor,
    weights: LossWeights,
    tie_targets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted loss of a batch and its terms (for the history); ``view_a`` is the view compared with the POIs."""
    terms: dict[str, torch.Tensor] = {}
    if weights.intra:
        terms["intra"] = info_nce(view_a, view_b, weights.temperature)
    if weights.inter and int(has_pois.sum()) >= 2:
        terms["inter"] = info_nce(view_a[has_pois], poi_sets[has_pois], weights.temperature)
    if weights.tie and tie_targets is not None:
        terms["tie"] = info_nce(view_a, tie_targets, weights.temperature)
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, {name: float(value.detach()) for name, value in terms.items()}
