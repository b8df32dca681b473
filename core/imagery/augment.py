"""Augmentations for overhead image tiles: the two views the intra-modal contrast compares.

Seen from above, a place has no "up": rotations by 90 degrees and flips give
equally real views. A random crop (resized back) and a per-band brightness and
contrast jitter add the variation of scale and of sensors. Every view of a tile is
made from that tile's own pixels only, so a view keeps the tile's place (its row in
the batch stands for the same tile on the ground) and its shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentSettings:
    """Smallest crop side (share of the tile side) and the jitter of each band's scale and offset (normalised units)."""

    min_crop: float = 0.6
    scale_jitter: float = 0.2
    offset_jitter: float = 0.2
    rotate_and_flip: bool = True


def _rotate_and_flip(tiles: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each tile turned by a random multiple of 90 degrees, then mirrored with probability one half."""
    turns = torch.randint(0, 4, (len(tiles),), generator=generator).tolist()
    flips = (torch.rand(len(tiles), generator=generator) < 0.5).tolist()
    out = torch.empty_like(tiles)
    for i, (k, flip) in enumerate(zip(turns, flips)):
        view = torch.rot90(tiles[i], k, dims=(1, 2))
        out[i] = torch.flip(view, dims=(2,)) if flip else view
    return out


def _crop(tiles: torch.Tensor, min_crop: float, generator: torch.Generator) -> torch.Tensor:
    """A random square crop of each tile, at least ``min_crop`` of its side, resized back to the tile's size."""
    size = tiles.shape[-1]
    out = torch.empty_like(tiles)
    sides = torch.randint(max(1, round(min_crop * size)), size + 1, (len(tiles),), generator=generator).tolist()
    for i, side in enumerate(sides):
        top, left = (torch.randint(0, size - side + 1, (2,), generator=generator)).tolist()
        crop = tiles[i : i + 1, :, top : top + side, left : left + side]
        out[i] = crop[0] if side == size else F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)[0]
    return out


def _jitter(tiles: torch.Tensor, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """Per tile and band: value * (1 + scale noise) + offset noise (colour jitter on normalised bands)."""
    shape = (tiles.shape[0], tiles.shape[1], 1, 1)
    scale = 1.0 + settings.scale_jitter * (2 * torch.rand(shape, generator=generator) - 1)
    offset = settings.offset_jitter * (2 * torch.rand(shape, generator=generator) - 1)
    return tiles * scale.to(tiles) + offset.to(tiles)


def augment(tiles: torch.Tensor, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """One random view of every tile of a (B, bands, P, P) batch; same shape, same row order."""
    views = _rotate_and_flip(tiles, generator) if settings.rotate_and_flip else tiles
    if settings.min_crop < 1.0:
        views = _crop(views, settings.min_crop, generator)
    if settings.scale_jitter or settings.offset_jitter:
        views = _jitter(views, settings, generator)
    return views
