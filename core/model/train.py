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

from ..devices import choose_device, default_batch_size
from ..errors import InputDataError, SettingsError
from ..jobs import JobControl
from . import DEFAULT_PATIENCE
from .distributed import DistributedRun, start_distributed, wrap_towers
from .loss import contrastive_loss
from .network import CalliperNet

MIN_VALIDATION_POIS = 20


@dataclass
class TrainSettings:
    """Optimisation settings; defaults are the paper's (AdamW 1e-3, wd 0.01, batch 1024 on a CPU, 90/10).

    ``batch_size=None`` picks it for the device (``devices.default_batch_size``): 1024
    on a CPU, 8192 to 32768 negatives from free memory on a GPU. Early stopping is on
    by default (``patience`` epochs without a better validation loss; None trains every
    epoch): held-out losses were best at a fraction of the paper's 100 epochs on city-sized
    layers, and the best epoch's weights are kept either way. With ``distributed``
    the batch is the global one, split over the processes ``torchrun`` started.
    """

    epochs: int = 100
    batch_size: int | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    val_fraction: float = 0.1
    seed: int = 42
    patience: int | None = DEFAULT_PATIENCE
    device: str = "auto"
    mixed_precision: bool = True
    distributed: bool = False

    def validate(self) -> None:
        if self.epochs < 1:
            raise SettingsError(f"Epochs must be at least 1 (got {self.epochs}).")
        if self.batch_size is not None and self.batch_size < 2:
            raise SettingsError(f"The batch size must be at least 2: contrastive training needs negatives (got {self.batch_size}).")
        if not 0.0 <= self.val_fraction < 0.9:
            raise SettingsError(f"The validation fraction must be in [0, 0.9) (got {self.val_fraction}).")
        if self.learning_rate <= 0:
            raise SettingsError(f"The learning rate must be positive (got {self.learning_rate}).")
        if self.patience is not None and self.patience < 1:
            raise SettingsError(f"Early-stopping patience must be at least 1 epoch (got {self.patience}).")


@dataclass
class TrainingData:
    """Coordinates (float64, in the model's CRS) and each POI's row in ``text_vectors``.

    ``text_vectors`` may be float16 and memory-mapped (``encode_distinct_to_file``):
    rows are read and widened to float32 per batch.
    """

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
    batch_size: int = 0
    world_size: int = 1
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
    if len(batches) > 1 and len(batches[-1]) < 2:  # a batch of one has no negatives: it joins the one before
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


class _Tensors:
    """The training arrays on the training device, gathered per batch without Python loops.

    On a CPU the arrays are wrapped, not copied, so a memory-mapped text matrix stays
    on disk; on a GPU they are uploaded once (coordinates through pinned memory).
    """

    def __init__(self, data: TrainingData, device: str) -> None:
        pin = device.startswith("cuda")
        coords = torch.from_numpy(np.ascontiguousarray(data.coords, dtype=np.float64))
        self.coords = (coords.pin_memory() if pin else coords).to(device)
        self.text_index = torch.from_numpy(np.asarray(data.text_index)).to(device)
        vectors = data.text_vectors
        if vectors.dtype not in (np.float16, np.float32):
            vectors = vectors.astype(np.float32)
        self.text_vectors = torch.from_numpy(vectors).to(device)
        self.device = device

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows_t = torch.from_numpy(rows).to(self.device)
        return self.coords[rows_t], self.text_vectors[self.text_index[rows_t].long()].float()


@dataclass
class _Step:
    """How one batch becomes a loss: the towers (under DDP when distributed) and, if so, this process's part."""

    towers: torch.nn.Module
    logit_scale: torch.Tensor
    tensors: _Tensors
    autocast: bool
    run: DistributedRun | None = None

    def loss(self, rows: np.ndarray) -> torch.Tensor:
        """The contrastive loss of a global batch ``rows``; in several processes each encodes its shard only."""
        local = rows if self.run is None else self.run.shard(rows)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            location, text = self.towers(*self.tensors.batch(local))
        location, text = location.float(), text.float()
        if self.run is not None:
            location, text = self.run.gather(location, len(rows)), self.run.gather(text, len(rows))
        return contrastive_loss(location, text, self.logit_scale)


@torch.no_grad()
def _evaluate(step: _Step, rows: np.ndarray, batch_size: int) -> float:
    """Mean contrastive loss over fixed batches of ``rows`` (dropout off)."""
    step.towers.eval()
    losses, weights = [], []
    for batch in _batches(rows, batch_size, None):
        losses.append(float(step.loss(batch)))
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
    run = start_distributed(choice.is_cuda) if settings.distributed else None
    device = run.device(choice.is_cuda) if run else choice.device
    batch_size = settings.batch_size or default_batch_size(device)
    if run is not None:
        batch_size = run.smallest(batch_size)
        if batch_size < 2 * run.world_size:
            raise SettingsError(f"A batch of {batch_size} cannot give each of {run.world_size} processes 2 POIs.")
    torch.manual_seed(settings.seed)
    net.to(device)
    tensors = _Tensors(data, device)
    train_rows, val_rows = split_indices(n, settings.val_fraction, settings.seed)
    optimizer = torch.optim.AdamW(net.decay_groups(settings.weight_decay), lr=settings.learning_rate)
    step_of = _Step(wrap_towers(net, run, device), net.logit_scale, tensors, choice.is_cuda and settings.mixed_precision, run)
    shuffler = np.random.default_rng(settings.seed)
    result = TrainResult(
        device=device, device_note=choice.note, n_train=len(train_rows), n_val=len(val_rows),
        batch_size=batch_size, world_size=run.world_size if run else 1,
    )
    best_state = copy.deepcopy(net.state_dict())
    started = time.perf_counter()
    steps_per_epoch = len(_batches(train_rows, batch_size, None))
    for epoch in range(1, settings.epochs + 1):
        step_of.towers.train()
        epoch_losses = []
        for step, rows in enumerate(_batches(train_rows, batch_size, shuffler)):
            control.check("Training")
            loss = step_of.loss(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_losses.append(float(loss.detach()))
            done = ((epoch - 1) * steps_per_epoch + step + 1) / (settings.epochs * steps_per_epoch)
            control.report(done, f"Epoch {epoch}/{settings.epochs}, loss {epoch_losses[-1]:.4f}")
        val_loss = _evaluate(step_of, val_rows, batch_size)
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
        if settings.patience is not None and len(val_rows) and epoch - result.best_epoch >= settings.patience:
            result.stopped_early = True
            break
    net.load_state_dict(best_state)
    net.eval()
    result.seconds = time.perf_counter() - started
    return result
