"""The evaluation protocol: every feature set meets the same splits, probe and seeds.

For each seed the split is drawn once (it depends only on the units' positions)
and every method is trained and scored on it, so differences between methods are
not differences in luck. A method may offer several candidate feature matrices
(the POI-count baseline at several radii): the validation part picks one per
seed, and only the pick is scored on test. Scores are reported as mean and
(population) standard deviation over seeds, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..jobs import JobControl
from .metrics import classification_metrics, distribution_metrics, regression_metrics
from .probes import FittedProbe, ProbeSettings, fit_probe
from .splits import Split, SplitSettings, make_split

# One feature matrix, or named candidates of which validation picks one per seed.
FeatureSet = Union[np.ndarray, dict[str, np.ndarray]]
# Scores that are arrays per seed (not summarised as one mean and std).
ARRAY_SCORES = ("per_class_f1", "confusion_matrix")
# The validation score that picks a candidate, and whether higher is better.
SELECTION = {"class": ("macro_f1", 1.0), "distribution": ("kl", -1.0), "value": ("r2", 1.0)}


@dataclass
class MethodScores:
    """One method's test scores per seed (and the candidate chosen for each), summarised over seeds."""

    per_seed: list[dict] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    validation_classes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def validation_mean(self) -> float:
        """The validation score over seeds (SELECTION's metric, higher is better) of the chosen candidates.

        For classes: the macro-F1 of every seed's validation units pooled, steadier than a mean of per-seed
        F1s when a seed's validation blocks hold a few units of a class (or none); otherwise the mean over seeds.
        """
        if not self.validation_classes:
            return float(np.mean(self.validation))
        truth, predicted = (np.concatenate(part) for part in zip(*self.validation_classes))
        n_classes = int(max(truth.max(), predicted.max())) + 1
        return classification_metrics(truth, predicted, n_classes)["macro_f1"]

    def summary(self) -> dict[str, dict[str, float]]:
        """{metric: {"mean", "std"}} over seeds."""
        names = [k for k in self.per_seed[0] if k not in ARRAY_SCORES]
        return {name: _mean_std([run[name] for run in self.per_seed]) for name in names}

    def per_class_f1(self, names: list[str]) -> dict[str, dict[str, float]]:
        runs = np.array([run["per_class_f1"] for run in self.per_seed])
        return {name: _mean_std(runs[:, i]) for i, name in enumerate(names)}

    def confusion_matrix(self) -> list[list[int]]:
        """Test confusion matrices summed over seeds (rows true, columns predicted)."""
        return np.sum([run["confusion_matrix"] for run in self.per_seed], axis=0).tolist()


def _mean_std(values) -> dict[str, float]:
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std())}


def score(task: str, truth: np.ndarray, predicted: np.ndarray, n_outputs: int) -> dict:
    """The metrics of ``task`` for truth and probe outputs (probabilities or values)."""
    if task == "class":
        return classification_metrics(truth, predicted.argmax(axis=1), n_outputs)
    if task == "distribution":
        return distribution_metrics(truth, predicted)
    return regression_metrics(truth, predicted)


def fit_chosen(
    candidates: FeatureSet, targets: np.ndarray, task: str, n_outputs: int, parts: Split, probe: ProbeSettings,
    seed: int,
) -> tuple[str, np.ndarray, FittedProbe, float]:
    """(name, features, probe, validation score) of the candidate whose probe scores best on the validation rows."""
    metric, sign = SELECTION[task]
    best = None
    for name, x in (candidates if isinstance(candidates, dict) else {"": candidates}).items():
        fitted = fit_probe(x, targets, task, n_outputs, parts.train, parts.val, probe, seed)
        value = sign * score(task, targets[parts.val], fitted.predict(x[parts.val]), n_outputs)[metric]
        if best is None or value > best[0]:
            best = (value, name, x, fitted)
    return best[1], best[2], best[3], best[0]


def evaluate_methods(
    features: dict[str, FeatureSet],
    targets: np.ndarray,
    task: str,
    n_outputs: int,
    metric_xy: np.ndarray,
    split: SplitSettings,
    probe: ProbeSettings,
    control: JobControl | None = None,
) -> dict[str, MethodScores]:
    """Test scores of each named feature set over the probe's seeds.

    Feature rows align with ``targets`` and ``metric_xy`` (metres, for spatial blocks).
    """
    control = control or JobControl()
    probe.validate()
    results = {name: MethodScores() for name in features}
    steps = len(probe.seeds) * len(features)
    for s, seed in enumerate(probe.seeds):
        parts = make_split(metric_xy, split, seed)
        for m, (name, candidates) in enumerate(features.items()):
            control.check("The evaluation")
            chosen, x, fitted, validation = fit_chosen(candidates, targets, task, n_outputs, parts, probe, seed)
            results[name].per_seed.append(score(task, targets[parts.test], fitted.predict(x[parts.test]), n_outputs))
            results[name].chosen.append(chosen)
            results[name].validation.append(validation)
            if task == "class":
                results[name].validation_classes.append((targets[parts.val], fitted.predict(x[parts.val]).argmax(axis=1)))
            control.report((s * len(features) + m + 1) / steps, f"{name}, seed {seed}")
    return results


def fit_on_all(
    x: np.ndarray, targets: np.ndarray, task: str, n_outputs: int, split: SplitSettings, probe: ProbeSettings
) -> FittedProbe:
    """The probe for the map: trained on every labelled unit but a random validation part kept for early stopping."""
    order = np.random.default_rng(probe.seeds[0]).permutation(len(targets))
    n_val = max(1, round(split.val_fraction * len(targets)))
    return fit_probe(x, targets, task, n_outputs, np.sort(order[n_val:]), np.sort(order[:n_val]), probe, probe.seeds[0])
