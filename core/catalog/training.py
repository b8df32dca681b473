"""Training any kind of model from a point table: the one entry shared by the dock, Processing and the CLI.

The encoder named in the job's model settings picks the pipeline. This module sits
above both pipelines, so the plain one never reaches up into the context one.
"""

from __future__ import annotations

from typing import Callable

from ..context.pipeline import train_context_from_points
from ..jobs import JobControl
from ..model.pipeline import TrainJob, TrainOutcome, train_plain_from_points
from ..model.settings import CONTEXT_ENCODER
from ..model.train import EpochReport

Trainer = Callable[[TrainJob, "JobControl | None", "Callable[[EpochReport], None] | None"], TrainOutcome]
TRAINERS: dict[str, Trainer] = {CONTEXT_ENCODER: train_context_from_points}
"""Pipelines of the encoders that do not train as plain CaLLiPer, keyed by encoder."""


def train_from_points(
    job: TrainJob, control: JobControl | None = None, on_epoch: Callable[[EpochReport], None] | None = None
) -> TrainOutcome:
    """Train the model the job describes and write its folder atomically."""
    trainer = TRAINERS.get(job.model.encoder, train_plain_from_points)
    return trainer(job, control, on_epoch)
