"""Train / validation / test splits of labelled units.

The paper splits at random (80/20 train+val/test, then 90/10 train/val). Nearby
units share their surroundings, so a random split lets a probe score well by
remembering neighbours; the spatially blocked split (the default) puts whole
square blocks into test and validation, so every test unit is judged on a block
the probe never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError

SPLIT_KINDS = ("spatial", "random")


@dataclass
class SplitSettings:
    """How to split: ``kind`` is "spatial" (square blocks of ``block_size`` metres) or "random"."""

    kind: str = "spatial"
    block_size: float = 500.0
    test_fraction: float = 0.2
    val_fraction: float = 0.1

    def validate(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise SettingsError(f"Unknown split '{self.kind}'. Choose one of: {', '.join(SPLIT_KINDS)}.")
        if self.block_size <= 0:
            raise SettingsError(f"The block size must be positive, in metres (got {self.block_size}).")
        for name in ("test_fraction", "val_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                label = name.replace("_", " ")
                raise SettingsError(f"The {label} must be between 0 and 0.5 (got {getattr(self, name)}).")

    def describe(self) -> str:
        if self.kind == "random":
            return "random split of units"
        return f"spatially blocked split ({self.block_size:g} m square blocks, whole blocks to test and validation)"


@dataclass
class Split:
    """Row indices of each part; ``blocks`` is each unit's block id (None for a random split)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    blocks: np.ndarray | None = None


def block_ids(xy: np.ndarray, block_size: float) -> np.ndarray:
    """One integer id per point for the square block (aligned on multiples of ``block_size``) it lies in."""
    cells = np.floor(np.asarray(xy, np.float64) / block_size).astype(np.int64)
    _, ids = np.unique(cells, axis=0, return_inverse=True)
    return ids.reshape(-1)


def _take_groups(groups: np.ndarray, candidates: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Shuffle ``candidates`` groups and take the first k whose member count is closest to ``fraction``."""
    order = rng.permutation(candidates)
    sizes = np.array([(groups == g).sum() for g in order])
    total = sizes.sum()
    cumulative = np.cumsum(sizes[:-1])  # always leave at least one group behind
    k = int(np.argmin(np.abs(cumulative - fraction * total))) + 1
    return order[:k]


def spatial_split(xy: np.ndarray, settings: SplitSettings, seed: int) -> Split:
    """Whole blocks go to test, then whole blocks of the rest to validation, never shared with train."""
    blocks = block_ids(xy, settings.block_size)
    present = np.unique(blocks)
    if len(present) < 3:
        raise SettingsError(
            f"The labelled units fall into only {len(present)} block(s) of {settings.block_size:g} m: a spatial split "
            "needs at least 3 (train, validation, test). Use a smaller block size or the random split."
        )
    rng = np.random.default_rng(seed)
    test_blocks = _take_groups(blocks, present, settings.test_fraction, rng)
    rest = np.setdiff1d(present, test_blocks)
    val_blocks = _take_groups(blocks, rest, settings.val_fraction, rng)
    test = np.flatnonzero(np.isin(blocks, test_blocks))
    val = np.flatnonzero(np.isin(blocks, val_blocks))
    train = np.flatnonzero(~np.isin(blocks, np.concatenate([test_blocks, val_blocks])))
    return Split(train=train, val=val, test=test, blocks=blocks)


def random_split(n: int, settings: SplitSettings, seed: int) -> Split:
    """The paper's split: test_fraction of units to test, then val_fraction of the rest to validation."""
    if n < 5:
        raise SettingsError(f"Only {n} labelled units: a train/validation/test split needs at least 5.")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(settings.test_fraction * n))
    n_val = max(1, round(settings.val_fraction * (n - n_test)))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    return Split(train=np.sort(train), val=np.sort(val), test=np.sort(test))


def make_split(xy: np.ndarray, settings: SplitSettings, seed: int) -> Split:
    """The split ``settings`` ask for, for units at metric coordinates ``xy``."""
    settings.validate()
    if settings.kind == "random":
        return random_split(len(xy), settings, seed)
    return spatial_split(xy, settings, seed)
