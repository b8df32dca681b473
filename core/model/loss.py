"""The CaLLiPer objective: symmetric InfoNCE over a batch of (location, text) pairs.

As in the official code, location embeddings are L2-normalised and projected text
vectors are not; the learnable logit scale is clamped at ln(100) as CLIP does, a
guard the official code lacks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

INITIAL_LOGIT_SCALE = math.log(1 / 0.07)
MAX_LOGIT_SCALE = math.log(100.0)


def contrastive_loss(location_embeddings: torch.Tensor, text_embeddings: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Mean of location->text and text->location cross-entropy; pair i is row i of both inputs."""
    scale = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
    logits = scale * location_embeddings @ text_embeddings.T
    targets = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
