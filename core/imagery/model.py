"""The MMGR network: an image tower for tiles and a POI-set tower, both ending in one normalised space.

Following MMGR (seed 002) with CPU-sized parts: the image tower is a small CNN
trained from scratch (or a frozen torchvision backbone found on this machine, with
a trainable head); the POI tower pools the frozen sentence embeddings of a tile's
POIs with Set2Set-style attention, so a tile's POIs are weighted by how much they
say about it, and a phrase can be embedded as a set of one.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MissingDependencyError, SettingsError

IMAGE_ENCODERS = ("small_cnn", "torchvision")


@dataclass
class MMGRSettings:
    """Shape of the towers. ``backbone`` (torchvision encoder only) names a torchvision model and a local weights file."""

    bands: int
    tile_pixels: int
    text_dim: int
    embed_dim: int = 128
    width: int = 32
    set_steps: int = 3
    image_encoder: str = "small_cnn"
    backbone: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.image_encoder not in IMAGE_ENCODERS:
            raise SettingsError(
                f"Unknown image encoder '{self.image_encoder}'. Choose one of: {', '.join(IMAGE_ENCODERS)}."
            )
        if self.embed_dim < 2 or self.width < 4 or self.set_steps < 1:
            raise SettingsError("The embedding needs at least 2 dimensions, 4 channels and one pooling step.")

    def to_dict(self) -> dict:
        return asdict(self)


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallCNN(nn.Module):
    """Four conv blocks (width, 2, 4, 4 x width channels), global average pooling, a linear head."""

    def __init__(self, bands: int, embed_dim: int, width: int) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width, 4 * width)
        self.features = nn.Sequential(*[_block(c_in, c_out) for c_in, c_out in zip((bands, *widths[:-1]), widths)])
        self.head = nn.Sequential(nn.Linear(widths[-1], widths[-1]), nn.ReLU(inplace=True), nn.Linear(widths[-1], embed_dim))

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(tiles).mean(dim=(2, 3)))


class FrozenBackbone(nn.Module):
    """A torchvision classifier with weights from a local file, frozen, its first three bands as RGB, and a trainable head."""

    def __init__(self, name: str, weights: str, embed_dim: int) -> None:
        super().__init__()
        if importlib.util.find_spec("torchvision") is None:
            raise MissingDependencyError(
                "A pretrained image backbone needs the package torchvision, which is not installed. "
                "Use the small CNN (image encoder 'small_cnn') or install torchvision."
            )
        if not weights or not Path(weights).is_file():
            raise SettingsError(
                f"The backbone weights file '{weights}' does not exist. Give a local .safetensors or .pth file: "
                "weights are never downloaded."
            )
        import torchvision

        self.body = torchvision.models.get_model(name, weights=None, num_classes=1000)
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(weights)
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        self.body.load_state_dict(state)
        features = self.body.fc.in_features if hasattr(self.body, "fc") else self.body.classifier[-1].in_features
        if hasattr(self.body, "fc"):
            self.body.fc = nn.Identity()
        else:
            self.body.classifier[-1] = nn.Identity()
        self.body.requires_grad_(False)
        self.head = nn.Linear(features, embed_dim)

    def train(self, mode: bool = True) -> "FrozenBackbone":
        super().train(mode)
        self.body.eval()  # frozen: its batch statistics never move
        return self

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = self.body(tiles[:, :3])
        return self.head(features)


class SetPooling(nn.Module):
    """Set2Set-style attention pooling of a padded set of vectors (B, M, D) with a mask of real members (B, M).

    For ``steps`` rounds an LSTM query attends over the members; the pooled read-outs
    and the final query form the set's vector. An empty set reads nothing (zeros),
    so it is described by the query alone and the same for every empty set.
    """

    def __init__(self, dim: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.cell = nn.LSTMCell(2 * dim, dim)

    def forward(self, members: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, _, dim = members.shape
        hidden = members.new_zeros(batch, dim)
        cell = members.new_zeros(batch, dim)
        query_star = members.new_zeros(batch, 2 * dim)
        for _ in range(self.steps):
            hidden, cell = self.cell(query_star, (hidden, cell))
            scores = (members * hidden[:, None, :]).sum(dim=-1).masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # an empty set: all -inf -> no weights
            read = (weights[:, :, None] * members).sum(dim=1)
            query_star = torch.cat([hidden, read], dim=1)
        return query_star


class PoiSetEncoder(nn.Module):
    """Frozen POI text vectors -> a trainable projection -> Set2Set pooling -> the shared space."""

    def __init__(self, text_dim: int, embed_dim: int, steps: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(text_dim, embed_dim), nn.ReLU(inplace=True), nn.Linear(embed_dim, embed_dim))
        self.pool = SetPooling(embed_dim, steps)
        self.head = nn.Linear(2 * embed_dim, embed_dim)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.project(vectors), mask))


class MMGRNet(nn.Module):
    """Both towers; ``encode_tiles`` and ``encode_poi_sets`` return L2-normalised embeddings."""

    def __init__(self, settings: MMGRSettings) -> None:
        super().__init__()
        settings.validate()
        self.settings = settings
        if settings.image_encoder == "torchvision":
            self.image = FrozenBackbone(settings.backbone.get("name", ""), settings.backbone.get("weights", ""),
                                        settings.embed_dim)
        else:
            self.image = SmallCNN(settings.bands, settings.embed_dim, settings.width)
        self.pois = PoiSetEncoder(settings.text_dim, settings.embed_dim, settings.set_steps)

    def encode_tiles(self, tiles: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(tiles), dim=-1)

    def encode_poi_sets(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.pois(vectors, mask), dim=-1)
