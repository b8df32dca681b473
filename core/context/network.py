"""CaLLiPer + context graph: a location embedding that also knows what surrounds the place.

The network is a :class:`CalliperNet` (same towers, same interface, same loss) whose
``encode_location`` adds what a small GATv2-style attention network reads from the
location's context graph (:mod:`context_graph`): node features are the grid encoding
of each node's coordinates plus the projected frozen text embedding of its POI (plus
street connectivity when known); edge features are log-distance and bearing. The
context POIs (coordinates, frozen text vectors) and street nodes travel with the
model as buffers in its safetensors file, so ``load_model`` -> ``embed_locations``
and every map built on it work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ModelFileError
from ..model.network import CalliperNet
from ..model.settings import ContextSettings, ModelSettings
from .graph import EDGE_FEATURES, STREET_FEATURES, ContextIndex, StreetNetwork, street_features

# Locations per graph batch at inference: bounds the (B, nodes, sources, width) tensors.
CONTEXT_CHUNK = 8192
STORE_KEYS = ("context_xy", "context_text_index", "context_text_vectors", "street_xy", "street_degree")


@dataclass
class ContextStore:
    """The context POIs (model CRS, frozen text vectors by distinct text) and street nodes a model reads."""

    xy: np.ndarray
    text_index: np.ndarray
    text_vectors: np.ndarray
    streets: StreetNetwork

    @classmethod
    def from_state(cls, state: dict[str, Tensor]) -> ContextStore:
        """The store saved inside a context model's weights."""
        missing = [key for key in STORE_KEYS if key not in state]
        if missing:
            raise ModelFileError(f"The context model's weights lack its context POIs ({', '.join(missing)}). Retrain it.")
        xy, text_index, text_vectors, street_xy, street_degree = (state[key].numpy() for key in STORE_KEYS)
        return cls(xy, text_index, text_vectors, StreetNetwork(street_xy, street_degree))


def edge_features(target_xy: Tensor, source_xy: Tensor) -> Tensor:
    """(..., 3) float32: log(1 + metres) and sin/cos of the bearing from target to source (zeros on self loops)."""
    delta = source_xy - target_xy
    distance = torch.hypot(delta[..., 0], delta[..., 1])
    bearing = torch.atan2(delta[..., 0], delta[..., 1])
    moved = (distance > 0).to(distance.dtype)
    features = (torch.log1p(distance), torch.sin(bearing) * moved, torch.cos(bearing) * moved)
    return torch.stack(features, dim=-1).float()


def gather_nodes(values: Tensor, sources: Tensor) -> Tensor:
    """``values`` (B, N, ...) at node indices ``sources`` (B, ...) -> (B, ..., ...)."""
    batch = torch.arange(values.shape[0], device=values.device).view(-1, *([1] * (sources.ndim - 1)))
    return values[batch, sources]


class GraphAttention(nn.Module):
    """GATv2 attention with edge features over a fixed number of source nodes per target.

    With m_ij = W_s h_j + E(e_ij), E a small MLP of the edge features:
    score(i, j) = a . LeakyReLU(W_t h_i + m_ij) per head; the new h_i is the
    attention-weighted sum of m_ij, then a residual step with layer norm. Putting the
    edge in the message (not only in the score, as plain GATv2 does) lets "a taxi
    10 m north" differ from "a taxi 200 m south" in what the place receives.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.source = nn.Linear(width, width)
        self.target = nn.Linear(width, width)
        self.edge = nn.Sequential(nn.Linear(EDGE_FEATURES, width), nn.ReLU(), nn.Linear(width, width, bias=False))
        self.attention = nn.Parameter(torch.randn(heads, width // heads) * (width // heads) ** -0.5)
        self.out = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: Tensor, targets: Tensor, sources: Tensor, edges: Tensor, mask: Tensor) -> Tensor:
        """New features of nodes ``targets`` (B, T) from ``sources`` (B, T, M) with ``edges`` and ``mask``."""
        b, t, m = sources.shape
        messages = gather_nodes(self.source(h), sources) + self.edge(edges)  # (B, T, M, W)
        here = gather_nodes(self.target(h), targets[..., None])  # (B, T, 1, W)
        hidden = nn.functional.leaky_relu(messages + here, 0.2).view(b, t, m, self.heads, -1)
        score = (hidden * self.attention).sum(-1).masked_fill(~mask[..., None], float("-inf"))
        weights = torch.softmax(score, dim=2)[..., None]  # (B, T, M, H, 1)
        update = (weights * messages.view(b, t, m, self.heads, -1)).sum(2).reshape(b, t, -1)
        return self.norm(gather_nodes(h, targets) + nn.functional.elu(self.out(update)))


class ContextNet(CalliperNet):
    """CaLLiPer's grid tower plus a graph-attention read-out of the location's context graph."""

    def __init__(self, settings: ModelSettings, text_dim: int, store: ContextStore) -> None:
        super().__init__(replace(settings, encoder="grid", encoder_options={}), text_dim)
        self.context = ContextSettings(**settings.encoder_options)
        self.context.validate()
        width = self.context.width
        self.node_position = nn.Linear(self.location.encoding.out_dim, width)
        self.node_text = nn.Linear(text_dim, width)
        self.node_street = nn.Linear(STREET_FEATURES, width)
        self.query_in = nn.Linear(settings.embed_dim, width)
        self.layers = nn.ModuleList(GraphAttention(width, self.context.heads) for _ in range(self.context.layers))
        self.readout = nn.Linear(width, settings.embed_dim)
        self.register_buffer("context_xy", torch.from_numpy(np.asarray(store.xy, dtype=np.float64)))
        self.register_buffer("context_text_index", torch.from_numpy(np.asarray(store.text_index, dtype=np.int64)))
        self.register_buffer("context_text_vectors", torch.from_numpy(np.asarray(store.text_vectors, dtype=np.float32)))
        # Street nodes are kept as buffers so they are saved; neighbours' street features are computed once.
        self.register_buffer("street_xy", torch.from_numpy(np.asarray(store.streets.xy, dtype=np.float64)))
        self.register_buffer("street_degree", torch.from_numpy(np.asarray(store.streets.degree, dtype=np.float32)))
        self.streets = store.streets
        self.index = ContextIndex(store.xy, self.context)
        self.register_buffer(
            "context_street", torch.from_numpy(street_features(store.streets, store.xy)), persistent=False
        )

    def _apply(self, fn, recurse: bool = True):
        """Follow device moves but keep the float64 coordinate buffers (metres need their digits)."""
        originals = {key: self._buffers[key] for key in ("context_xy", "street_xy")}
        super()._apply(fn, recurse)
        for key, original in originals.items():
            self._buffers[key] = original.to(device=self._buffers[key].device)
        return self

    def encode_location(self, coords: Tensor) -> Tensor:
        """L2-normalised embeddings of float64 coordinates, read together with their context graphs."""
        return torch.cat([self._encode_chunk(chunk) for chunk in coords.split(CONTEXT_CHUNK)])

    def _encode_chunk(self, coords: Tensor) -> Tensor:
        coords = coords.to(torch.float64)
        base = self.location(coords)
        query_xy = coords.detach().cpu().numpy()
        neighbourhood = self.index.neighbours(query_xy)
        device = coords.device
        index = torch.from_numpy(neighbourhood.index).to(device)
        valid = index >= 0
        context = index.clamp(min=0)
        b, k = index.shape
        node_xy = torch.cat([coords[:, None, :], self.context_xy[context]], dim=1)  # (B, 1 + K, 2)
        texts = self.context_text_vectors[self.context_text_index[context]]
        positions = self.location.encoding(node_xy[:, 1:].reshape(-1, 2)).view(b, k, -1)
        query_street = torch.from_numpy(street_features(self.streets, query_xy)).to(device)
        h = torch.cat(
            [
                (self.query_in(base) + self.node_street(query_street))[:, None],
                self.node_position(positions) + self.node_text(texts) + self.node_street(self.context_street[context]),
            ],
            dim=1,
        )
        node_valid = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
        query_edges, neighbour_edges = self._edges(node_xy, node_valid)
        *inner, last = self.layers
        for layer in inner:
            h = torch.cat([layer(h, *query_edges), layer(h, *neighbour_edges)], dim=1)
        # Only the query node is read out, so the last layer updates it alone.
        return nn.functional.normalize(base + self.readout(last(h, *query_edges)[:, 0]), dim=-1)

    def _edges(self, node_xy: Tensor, node_valid: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        """(targets, sources, edge features, mask) for the query row and for the neighbour rows.

        The query listens to itself and every neighbour; each neighbour to itself, the
        query and its ``links`` nearest fellow neighbours.
        """
        b, n, _ = node_xy.shape
        device = node_xy.device
        nodes = torch.arange(n, device=device)
        query_targets = torch.zeros(b, 1, dtype=torch.long, device=device)
        query_sources = nodes.expand(b, 1, n)
        query_mask = node_valid[:, None, :]
        neighbours = node_xy[:, 1:]
        apart = torch.cdist(neighbours, neighbours)
        apart = apart.masked_fill(~node_valid[:, None, 1:], float("inf"))
        apart = apart + torch.diag(torch.full((n - 1,), float("inf"), device=device, dtype=apart.dtype))
        links = min(self.context.links, n - 2) if n > 2 else 0
        nearest = apart.topk(links, dim=-1, largest=False)
        targets = nodes[1:].expand(b, n - 1)
        own = torch.stack([torch.zeros_like(targets), targets], dim=-1)
        neighbour_sources = torch.cat([own, nearest.indices + 1], dim=-1)  # (B, K, 2 + links)
        neighbour_mask = torch.cat(
            [torch.ones_like(own, dtype=torch.bool), torch.isfinite(nearest.values)], dim=-1
        ) & node_valid[:, 1:, None]
        neighbour_mask[..., 1] = True  # every node listens to itself, so no row is all masked
        return (
            self._with_features(node_xy, query_targets, query_sources, query_mask),
            self._with_features(node_xy, targets, neighbour_sources, neighbour_mask),
        )

    @staticmethod
    def _with_features(node_xy: Tensor, targets: Tensor, sources: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
        features = edge_features(gather_nodes(node_xy, targets)[:, :, None], gather_nodes(node_xy, sources))
        return targets, sources, features, mask
