"""Training in several processes (GPUs with NCCL, or CPU processes with gloo) under ``torchrun``.

Every process holds the same data, draws the same global batches and trains on its
own contiguous shard of each, so the global batch is the sum of the shards. The
contrastive loss needs every negative of the global batch: embeddings are
all-gathered before it (open_clip's ``gather_features`` with ``local_loss=False``),
with a gather that sends each row's gradient back to the process that made it.
DistributedDataParallel then averages parameter gradients; together a step equals
one process's step on the whole global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SettingsError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistributedRun:
    """This process's place in the group."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """The process that logs, reports progress and saves."""
        return self.rank == 0

    def shard_sizes(self, n_rows: int) -> list[int]:
        """Rows of a global batch of ``n_rows`` per process (contiguous shards differing by at most one)."""
        base, extra = divmod(n_rows, self.world_size)
        return [base + (rank < extra) for rank in range(self.world_size)]

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This process's contiguous part of a global batch."""
        sizes = self.shard_sizes(len(rows))
        start = sum(sizes[: self.rank])
        return rows[start : start + sizes[self.rank]]

    def gather(self, tensor: torch.Tensor, n_rows: int) -> torch.Tensor:
        """Every process's rows of a global batch of ``n_rows``, in rank order, with gradients flowing back."""
        return _GatherRows.apply(tensor, self.shard_sizes(n_rows), self.rank)

    def device(self, is_cuda: bool) -> str:
        """One GPU per process on a node; CPU processes share the CPU."""
        return f"cuda:{self.local_rank}" if is_cuda else "cpu"

    def smallest(self, value: int) -> int:
        """The smallest of ``value`` over all processes (so every process picks the same setting)."""
        import torch.distributed as dist

        nccl = dist.get_backend() == "nccl"  # NCCL reduces GPU tensors only
        tensor = torch.tensor([value], dtype=torch.int64, device=self.device(nccl))
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
        return int(tensor.item())

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def finish(self) -> None:
        """Leave the group once every process got here.

        Without the barrier a process that finished first tears its connections
        down while a peer still talks to it, and gloo aborts that peer.
        """
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


class _GatherRows(torch.autograd.Function):
    """All-gather of row blocks of different sizes; backward sums every process's gradient for our rows.

    Each process computes the same global loss, so the gradient reaching our rows is
    the sum over processes; DDP's averaging of parameter gradients divides it back.
    All-reduce is used (not reduce-scatter) because gloo has no reduce-scatter.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, sizes: list[int], rank: int) -> torch.Tensor:
        import torch.distributed as dist

        largest = max(sizes)
        padded = tensor.new_zeros((largest, *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        ctx.sizes, ctx.rank = sizes, rank
        return torch.cat([part[:size] for part, size in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None, None


class PairTowers(nn.Module):
    """Both towers of a network in one ``forward``, the call DistributedDataParallel wraps."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, coords: torch.Tensor, texts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.encode_location(coords), self.net.encode_text(texts)


def start_distributed(is_cuda: bool) -> DistributedRun:
    """Join the process group ``torchrun`` describes in the environment, or the one this process already joined."""
    import torch.distributed as dist

    if not dist.is_available():
        raise SettingsError("This PyTorch build has no distributed support; train without --distributed.")
    if not dist.is_initialized():
        missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
        if missing:
            raise SettingsError(
                "Distributed training runs under torchrun, e.g. 'torchrun --nproc_per_node=2 -m calliper.cli "
                f"train --distributed ...'; the environment lacks {', '.join(missing)}."
            )
        if is_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if is_cuda else "gloo")
    rank = dist.get_rank()
    return DistributedRun(rank, dist.get_world_size(), int(os.environ.get("LOCAL_RANK", rank)))


def wrap_towers(net: nn.Module, run: DistributedRun | None, device: str) -> nn.Module:
    """The towers as one module: plain in one process, under DistributedDataParallel in several."""
    towers = PairTowers(net)
    if run is None:
        return towers
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(towers, device_ids=[device] if device.startswith("cuda") else None)
