"""The training loop: precomputed text vectors in, best-validation weights out.

Reads top to bottom like nanoGPT's: split, batches, step, validate, keep the best,
report, stop early. The text encoder is never called here: each POI points at the
row of its (distinct) text's frozen embedding.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .devices import choose_device
from .errors import InputDataError, SettingsError
from .jobs import JobControl
from .loss import contrastive_loss
from .model import CalliperNet

MIN_VALIDATION_POIS = 20


@dataclass
class TrainSettings:
    """Optimisation settings; defaults are the paper's (AdamW 1e-3, wd 0.01, batch 1024, 90/10)."""

    epochs: int = 100
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    val_fraction: float = 0.1
    seed: int = 42
    patience: int | None = None
    device: str = "auto"
    mixed_precision: bool = True

    def validate(self) -> None:
        if self.epochs < 1:
            raise SettingsError(f"Epochs must be at least 1 (got {self.epochs}).")
        if self.batch_size < 2:
            raise SettingsError(f"The batch size must be at least 2: contrastive training needs negatives (got {self.batch_size}).")
        if not 0.0 <= self.val_fraction < 0.9:
            raise SettingsError(f"The validation fraction must be in [0, 0.9) (got {self.val_fraction}).")
        if self.learning_rate <= 0:
            raise SettingsError(f"The learning rate must be positive (got {self.learning_rate}).")
        if self.patience is not None and self.patience < 1:
            raise SettingsError(f"Early-stopping patience must be at least 1 epoch (got {self.patience}).")


@dataclass
class TrainingData:
    """Coordinates (float64, in the model's CRS) and each POI's row in ``text_vectors``."""

    coords: np.ndarray
    text_index: np.ndarray
    text_vectors: np.ndarray


@dataclass
class EpochReport:
    """What a progress display needs after each epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    seconds: float
    eta_seconds: float


@dataclass
class TrainResult:
    """Best weights (already loaded into the net) and the run's history."""

    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    device: str = "cpu"
    device_note: str = ""
    stopped_early: bool = False
    n_train: int = 0
    n_val: int = 0
    seconds: float = 0.0


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation split; with too few POIs for a useful split, validate on the training set."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n_val < MIN_VALIDATION_POIS or n - n_val < 2:
        return order, order
    return order[n_val:], order[:n_val]


def _batches(indices: np.ndarray, batch_size: int, generator: np.random.Generator | None) -> list[np.ndarray]:
    order = indices if generator is None else generator.permutation(indices)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches[-2] = np.concatenate([batches[-2], batches.pop()])
    return batches


class _Tensors:
    """The training arrays on the training device, gathered per batch without Python loops."""

    def __init__(self, data: TrainingData, device: str) -> None:
        pin = device.startswith("cuda")
        coords = torch.from_numpy(np.ascontiguousarray(data.coords, dtype=np.float64))
        self.coords = (coords.pin_memory() if pin else coords).to(device)
        self.text_index = torch.from_numpy(np.asarray(data.text_index, dtype=np.int64)).to(device)
        self.text_vectors = torch.from_numpy(np.ascontiguousarray(data.text_vectors, dtype=np.float32)).to(device)
        self.device = device

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows_t = torch.from_numpy(rows).to(self.device)
        return self.coords[rows_t], self.text_vectors[self.text_index[rows_t]]


def _loss(net: CalliperNet, coords: torch.Tensor, texts: torch.Tensor, autocast: bool) -> torch.Tensor:
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        location = net.encode_location(coords)
        text = net.encode_text(texts)
    return contrastive_loss(location.float(), text.float(), net.logit_scale)


@torch.no_grad()
def evaluate(net: CalliperNet, tensors: _Tensors, rows: np.ndarray, batch_size: int, autocast: bool = False) -> float:
    """Mean contrastive loss over fixed batches of ``rows`` (dropout off)."""
    net.eval()
    losses, weights = [], []
    for batch in _batches(rows, batch_size, None):
        losses.append(float(_loss(net, *tensors.batch(batch), autocast)))
        weights.append(len(batch))
    return float(np.average(losses, weights=weights))


def train(
    net: CalliperNet,
    data: TrainingData,
    settings: TrainSettings,
    control: JobControl | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place; on return it holds the weights of the best validation epoch."""
    settings.validate()
    control = control or JobControl()
    n = len(data.coords)
    if n < 2:
        raise InputDataError(f"Training needs at least 2 POIs with a description (got {n}).")
    choice = choose_device(settings.device)
    torch.manual_seed(settings.seed)
    net.to(choice.device)
    tensors = _Tensors(data, choice.device)
    train_rows, val_rows = split_indices(n, settings.val_fraction, settings.seed)
    optimizer = torch.optim.AdamW(net.decay_groups(settings.weight_decay), lr=settings.learning_rate)
    autocast = choice.is_cuda and settings.mixed_precision
    shuffler = np.random.default_rng(settings.seed)
    result = TrainResult(device=choice.device, device_note=choice.note, n_train=len(train_rows), n_val=len(val_rows))
    best_state = copy.deepcopy(net.state_dict())
    started = time.perf_counter()
    steps_per_epoch = len(_batches(train_rows, settings.batch_size, None))
    for epoch in range(1, settings.epochs + 1):
        net.train()
        epoch_losses = []
        for step, rows in enumerate(_batches(train_rows, settings.batch_size, shuffler)):
            control.check("Training")
            loss = _loss(net, *tensors.batch(rows), autocast)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_losses.append(float(loss.detach()))
            done = ((epoch - 1) * steps_per_epoch + step + 1) / (settings.epochs * steps_per_epoch)
            control.report(done, f"Epoch {epoch}/{settings.epochs}, loss {epoch_losses[-1]:.4f}")
        val_loss = evaluate(net, tensors, val_rows, settings.batch_size, autocast)
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(net.state_dict())
        elapsed = time.perf_counter() - started
        report = EpochReport(
            epoch=epoch,
            epochs=settings.epochs,
            train_loss=float(np.mean(epoch_losses)),
            val_loss=val_loss,
            best_val_loss=result.best_val_loss,
            seconds=elapsed,
            eta_seconds=elapsed / epoch * (settings.epochs - epoch),
        )
        result.history.append(report)
        if on_epoch:
            on_epoch(report)
        if settings.patience is not None and epoch - result.best_epoch >= settings.patience:
            result.stopped_early = True
            break
    net.load_state_dict(best_state)
    net.eval()
    result.seconds = time.perf_counter() - started
    return result
