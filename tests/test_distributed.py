"""Two gloo processes on the CPU train exactly like one process on the same global batch."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
from calliper.core.model.distributed import DistributedRun, start_distributed
from calliper.core.model.network import CalliperNet
from calliper.core.model.settings import ModelSettings
from calliper.core.model.train import TrainingData, TrainSettings, train
from calliper.core.text.corpus import table_corpus
from calliper.core.text.descriptions import TextFields, TextTemplate
from calliper.core.text.encoder import TextEncoder, encode_distinct

WORLD_SIZE = 2
# dropout off: each process would draw its own masks, which one process cannot reproduce
MODEL = ModelSettings(min_lambda=50.0, max_lambda=5000.0, frequency_num=16, hidden=64, n_blocks=2, dropout=0.0)
SETTINGS = dict(epochs=2, batch_size=200, device="cpu", seed=3, val_fraction=0.2)


@pytest.fixture(scope="module")
def data(demo_points) -> TrainingData:
    corpus = table_corpus(demo_points, TextFields("class", "category"), TextTemplate(), "the demo POIs")
    vectors, _ = encode_distinct(corpus.texts.texts, TextEncoder())
    return TrainingData(corpus.points.xy, corpus.texts.text_index, vectors)


def _fresh_net(dim: int) -> CalliperNet:
    torch.manual_seed(0)
    return CalliperNet(MODEL, text_dim=dim)


def _train_in_group(rank: int, port: int, data: TrainingData, out: str) -> None:
    """One process of the group: join it through torchrun's variables, train, rank 0 keeps the result."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    net = _fresh_net(data.text_vectors.shape[1])
    result = train(net, data, TrainSettings(**SETTINGS, distributed=True))
    if rank == 0:
        losses = [(report.train_loss, report.val_loss) for report in result.history]
        torch.save({"state": net.state_dict(), "losses": losses, "world_size": result.world_size}, out)
    start_distributed(is_cuda=False).finish()  # the group train() joined


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_give_the_single_process_losses_and_weights(data, tmp_path):
    single_net = _fresh_net(data.text_vectors.shape[1])
    single = train(single_net, data, TrainSettings(**SETTINGS))
    out = tmp_path / "rank0.pt"
    torch.multiprocessing.spawn(_train_in_group, args=(_free_port(), data, str(out)), nprocs=WORLD_SIZE, join=True)
    group = torch.load(out)

    assert group["world_size"] == WORLD_SIZE
    expected = [(report.train_loss, report.val_loss) for report in single.history]
    np.testing.assert_allclose(group["losses"], expected, rtol=1e-5)
    for name, value in single_net.state_dict().items():
        torch.testing.assert_close(group["state"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    # the weights moved: equality is not two untrained copies of the same initialisation
    assert not torch.equal(single_net.state_dict()["text_projection.weight"],
                           _fresh_net(data.text_vectors.shape[1]).state_dict()["text_projection.weight"])


def test_shards_split_a_global_batch_into_contiguous_parts():
    rows = np.arange(7)
    parts = [DistributedRun(rank, 3, rank).shard(rows) for rank in range(3)]
    assert [len(part) for part in parts] == [3, 2, 2]
    np.testing.assert_array_equal(np.concatenate(parts), rows)
