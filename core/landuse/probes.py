"""Probes: small supervised models trained on frozen features (embeddings or baselines).

The paper's protocol: a linear probe, or an MLP (D -> 64 -> K) trained with Adam
(lr 1e-3, batch 128, up to 300 epochs, early stopping with patience 10 on the
validation part). Three kinds of target:

- ``class``: one class per unit (cross-entropy; linear = scikit-learn logistic regression),
- ``distribution``: shares per unit summing to one (softmax + KL divergence),
- ``value``: one number per unit (mean squared error; linear = ridge regression).

Linear class probes and the trees weigh each class by the inverse of its share of the training rows
(``balanced``): the measure is macro-F1, where a rare class counts as much as a common
one. ``trees`` (gradient-boosted trees, class-balanced) is no probe of an embedding but
the strongest baseline a GIS analyst would fit on a unit's shape, position and POI counts;
the study always scores it beside the probes (see ``ensemble``).

Features are standardised on the training rows inside the probe, so embeddings,
raw coordinates and TF-IDF counts all meet the same probe on the same footing.
Every probe trains on the training rows only: the validation rows stop the torch
probes early and choose between candidate feature sets (see ``evaluation``), which
only works if no probe has seen them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..devices import cpu_threads
from ..errors import InputDataError, SettingsError
from .labels import TASKS

PROBE_KINDS = ("linear", "mlp")
TREES = "trees"
PAPER_SEEDS = (42, 24, 7, 0, 100)


@dataclass
class ProbeSettings:
    """The probe and its optimisation; defaults are the paper's, but for class weights (``balanced``)."""

    kind: str = "linear"
    hidden: int = 64
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 300
    patience: int = 10
    seeds: tuple[int, ...] = PAPER_SEEDS
    balanced: bool = True

    def validate(self) -> None:
        if self.kind not in PROBE_KINDS + (TREES,):
            raise SettingsError(f"Unknown probe '{self.kind}'. Choose one of: {', '.join(PROBE_KINDS)}.")
        if not self.seeds:
            raise SettingsError("Give at least one seed for the probe repetitions.")
        for name in ("hidden", "batch_size", "max_epochs", "patience"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"The probe setting {name} must be at least 1 (got {getattr(self, name)}).")
        if self.learning_rate <= 0:
            raise SettingsError(f"The probe learning rate must be positive (got {self.learning_rate}).")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"42,24,7"`` -> (42, 24, 7): the probe seeds as a command line or a Processing form types them."""
    try:
        seeds = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        seeds = ()
    if not seeds:
        raise SettingsError(
            f"Seeds are comma-separated whole numbers, e.g. {','.join(map(str, PAPER_SEEDS))}; got '{text}'."
        )
    return seeds


@dataclass
class FittedProbe:
    """A trained probe; ``predict`` gives (N, K) probabilities, or (N,) values for a ``value`` task."""

    task: str
    n_outputs: int
    mean: np.ndarray
    scale: np.ndarray
    model: object
    target_mean: float = 0.0
    target_scale: float = 1.0

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, np.float64) - self.mean) / self.scale).astype(np.float32)

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = self._standardise(features)
        if isinstance(self.model, nn.Module):
            with torch.no_grad():
                out = self.model(torch.from_numpy(x)).double()
            if self.task == "value":
                return out[:, 0].numpy() * self.target_scale + self.target_mean
            return torch.softmax(out, dim=1).numpy()
        if self.task == "value":
            return self.model.predict(x)
        probabilities = np.zeros((len(x), self.n_outputs))
        probabilities[:, self.model.classes_] = self.model.predict_proba(x)
        return probabilities


def _network(kind: str, n_features: int, n_outputs: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(n_features, n_outputs)
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))


def _loss(task: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "class":
        return nn.functional.cross_entropy(logits, target)
    if task == "distribution":
        return nn.functional.kl_div(torch.log_softmax(logits, dim=1), target, reduction="batchmean")
    return nn.functional.mse_loss(logits[:, 0], target)


def _train_network(
    net: nn.Module, task: str, x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
    settings: ProbeSettings, seed: int,
) -> nn.Module:
    """Adam on mini-batches; keep the weights of the best validation loss; stop after ``patience`` worse epochs."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.from_numpy(x)
    targets = torch.from_numpy(y)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    train_rows = torch.from_numpy(train)
    best_loss, best_state, waited = float("inf"), copy.deepcopy(net.state_dict()), 0
    for _ in range(settings.max_epochs):
        net.train()
        for batch in train_rows[torch.randperm(len(train_rows), generator=generator)].split(settings.batch_size):
            optimiser.zero_grad()
            _loss(task, net(features[batch]), targets[batch]).backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(_loss(task, net(features[val]), targets[val]))
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, waited = val_loss, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= settings.patience:
                break
    net.load_state_dict(best_state)
    return net.eval()


def _sklearn_model(kind: str, task: str, balanced: bool, seed: int):
    """The scikit-learn model of a linear probe or of the boosted trees."""
    weights = "balanced" if balanced else None
    if kind == TREES:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        # 50 rounds at rate 0.2 of 15-leaf trees: a quarter of the work of scikit-learn's defaults (100 rounds of 31
        # leaves, one tree per class and round), so a study with folds and seeds stays in minutes; not tuned
        settings = {"max_iter": 50, "learning_rate": 0.2, "max_leaf_nodes": 15, "random_state": seed}
        if task == "class":
            return HistGradientBoostingClassifier(class_weight=weights, **settings)
        return HistGradientBoostingRegressor(**settings)
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "class":
        return LogisticRegression(max_iter=2000, class_weight=weights, random_state=seed)
    return Ridge(alpha=1.0)


def fit_probe(
    features: np.ndarray, targets: np.ndarray, task: str, n_outputs: int,
    train: np.ndarray, val: np.ndarray, settings: ProbeSettings, seed: int,
) -> FittedProbe:
    """Fit one probe on rows ``train`` (early stopping, where used, on rows ``val``)."""
    if task not in TASKS:
        raise SettingsError(f"Unknown target kind '{task}'. Choose one of: {', '.join(TASKS)}.")
    if task == "class" and len(np.unique(targets[train])) < 2:
        raise InputDataError(
            "The training part of the split holds only one class, so no classifier can be trained. "
            "Use a smaller block size or the random split."
        )
    mean = features[train].mean(axis=0)
    scale = features[train].std(axis=0)
    scale[scale == 0] = 1.0
    probe = FittedProbe(task, n_outputs, mean, scale, model=None)
    x = probe._standardise(features)
    if settings.kind in ("linear", TREES) and task != "distribution":
        from threadpoolctl import threadpool_limits

        # one thread: several probes of a study never wait on each other's threads on a busy machine
        with threadpool_limits(1):
            probe.model = _sklearn_model(settings.kind, task, settings.balanced, seed).fit(x[train], targets[train])
        return probe
    if settings.kind == TREES:
        raise SettingsError("Boosted trees predict classes or values, not shares; use the linear or MLP probe.")
    torch.manual_seed(seed)
    if task == "class":
        y = np.asarray(targets, np.int64)
    elif task == "distribution":
        y = np.asarray(targets, np.float32)
    else:
        probe.target_mean = float(targets[train].mean())
        probe.target_scale = float(targets[train].std()) or 1.0
        y = ((np.asarray(targets, np.float64) - probe.target_mean) / probe.target_scale).astype(np.float32)
    net = _network(settings.kind, x.shape[1], 1 if task == "value" else n_outputs, settings.hidden)
    # for a probe this small, thread hand-offs cost more than the maths
    # (measured 4 to 10 times slower with 2 threads on two busy CPU cores)
    with cpu_threads(1):
        probe.model = _train_network(net, task, x, y, train, val, settings, seed)
    return probe
