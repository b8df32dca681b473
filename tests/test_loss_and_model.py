"""The contrastive loss and the network's shape against hand computations and the paper."""

from __future__ import annotations

import math

import numpy as np
import torch
from calliper.core.model.loss import INITIAL_LOGIT_SCALE, contrastive_loss
from calliper.core.model.network import CalliperNet
from calliper.core.model.settings import ModelSettings


def test_infonce_equals_a_hand_computation():
    loc = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    txt = torch.tensor([[2.0, 0.5], [0.1, 1.0], [1.0, 1.0]])
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * loc.numpy() @ txt.numpy().T

    def cross_entropy(rows):
        return np.mean([-(r[i] - np.log(np.exp(r).sum())) for i, r in enumerate(rows)])

    expected = 0.5 * (cross_entropy(logits) + cross_entropy(logits.T))
    assert abs(float(contrastive_loss(loc, txt, scale)) - expected) < 1e-5


def test_logit_scale_is_clamped_at_100():
    loc = torch.eye(2)
    big = contrastive_loss(loc, -loc, torch.tensor(10.0))
    capped = contrastive_loss(loc, -loc, torch.tensor(math.log(100.0)))
    assert torch.isclose(big, capped)


def test_network_has_the_papers_641409_parameters_and_initial_temperature():
    net = CalliperNet(ModelSettings(min_lambda=100.0, max_lambda=10_000.0), text_dim=384)
    assert sum(p.numel() for p in net.parameters()) == 641_409
    assert abs(net.logit_scale.item() - INITIAL_LOGIT_SCALE) < 1e-6
    with torch.no_grad():
        emb = net.eval().encode_location(torch.tensor([[530_000.0, 180_000.0]], dtype=torch.float64))
    assert emb.shape == (1, 128) and abs(float(emb.norm()) - 1) < 1e-5


def test_weight_decay_skips_biases_and_the_logit_scale():
    net = CalliperNet(ModelSettings(min_lambda=100.0, max_lambda=10_000.0), text_dim=384)
    decay, no_decay = net.decay_groups(0.01)
    assert all(p.ndim == 2 for p in decay["params"])
    assert any(p is net.logit_scale for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
