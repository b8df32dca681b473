"""Location encoders: positional encodings of coordinates plus the MLP tower of CaLLiPer.

CaLLiPer (Wang et al. 2024, arXiv 2411.06229) turns a point's coordinates into a vector
with a multi-scale sinusoidal *positional encoding* and a residual MLP, trained
contrastively against text embeddings of the point's description. This module holds
everything on the location side:

* the positional encodings of Space2Vec (``grid``, ``theory``), Sphere2Vec
  (``sphere_c``, ``sphere_c_plus``, ``sphere_m``, ``sphere_m_plus``) and SatCLIP
  (``spherical_harmonics``), all with one constructor shape so a saved model card can
  rebuild any of them with :func:`make_location_encoder`;
* :class:`ResidualMLP` (the "FCNet" of the paper) and :class:`LocationTower`, the
  encoding followed by the MLP.

Precision: the planar encodings are fed raw projected metres (x = 385 000,
y = 6 672 000 ...), never centred or normalised, exactly like the official CaLLiPer
code. With a smallest scale of a few metres the angles reach millions of radians, where
float32 has no digits left for the fractional part that the sine depends on. Every
encoding therefore keeps its frequencies and the coordinates in float64; the planar and
sphere encodings form their angles with ``phase_preserving_angles`` (relative to the
batch's own origin, whose phase is added back), so the sines and cosines run in float32
at the same accuracy; only a batch too wide for that falls back to float64 throughout.
"""

from __future__ import annotations

import inspect
import math
import numbers
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor, nn

from ..errors import SettingsError

EARTH_RADIUS_M = 6_371_000.0
"""Mean Earth radius, used to turn the scales in metres of the sphere encoders into angles."""


def geometric_scales(min_lambda: float, max_lambda: float, frequency_num: int) -> Tensor:
    """Return the ``frequency_num`` scales (metres) spaced geometrically from min to max.

    ``lambda_s = min_lambda * (max_lambda / min_lambda) ** (s / (S - 1))`` for
    ``s = 0 .. S-1``, as in Space2Vec's ``_cal_freq_list(..., "geometric")``; with one
    scale only ``min_lambda`` is used. The end points are set exactly so that what the
    user typed is what the model uses, whatever the rounding of the power.
    """
    if frequency_num == 1:
        return torch.tensor([min_lambda], dtype=torch.float64)
    steps = torch.arange(frequency_num, dtype=torch.float64) / (frequency_num - 1)
    scales = min_lambda * (max_lambda / min_lambda) ** steps
    scales[0] = min_lambda
    scales[-1] = max_lambda
    return scales


# The largest angle offset (radians) from a batch's origin at which float32 angles are used:
# there float32 steps are 1.2e-4 rad, so a feature moves by at most about 6e-5. A raster
# block or a city's training batch stays far below it.
FLOAT32_ANGLE_LIMIT = 1024.0


def phase_preserving_angles(values: Tensor, frequencies: Tensor) -> Tensor:
    """``values[:, :, None] * frequencies`` (N, K, S) modulo 2*pi, as float32 when that loses nothing.

    Raw metres times a fine frequency reach 1e5 radians, where float32 has no fractional
    digits left. The values are taken relative to the batch's rounded mean in float64; each
    frequency's phase there, ``(origin * f) mod 2*pi``, is computed in float64 and added
    back in float32, so the sums stay within a few hundred radians for a raster block or a
    training batch. A batch whose offsets would pass ``FLOAT32_ANGLE_LIMIT`` (a planet-wide
    one at a metre scale) gets exact float64 angles instead.
    """
    origin = values.mean(dim=0, keepdim=True).round()
    offsets = values - origin
    widest = float(offsets.abs().max()) * float(frequencies.max()) if len(values) else 0.0
    if widest > FLOAT32_ANGLE_LIMIT:
        return values[:, :, None] * frequencies
    phase = torch.remainder(origin[:, :, None] * frequencies, 2.0 * math.pi)
    return offsets.to(torch.float32)[:, :, None] * frequencies.to(torch.float32) + phase.to(torch.float32)


def _check_scale_settings(min_lambda: float, max_lambda: float, frequency_num: int) -> None:
    """Raise :class:`SettingsError` naming the offending value when a scale setting is unusable."""
    if not isinstance(min_lambda, numbers.Real) or not math.isfinite(min_lambda) or min_lambda <= 0:
        raise SettingsError(
            f"The smallest scale (min_lambda) must be a positive distance in metres; got {min_lambda!r}."
        )
    if not isinstance(max_lambda, numbers.Real) or not math.isfinite(max_lambda) or max_lambda < min_lambda:
        raise SettingsError(
            "The largest scale (max_lambda) must be a distance in metres at least as large as the "
            f"smallest scale (min_lambda = {min_lambda!r}); got {max_lambda!r}."
        )
    if isinstance(frequency_num, bool) or not isinstance(frequency_num, numbers.Integral) or frequency_num < 1:
        raise SettingsError(
            f"The number of scales (frequency_num) must be a whole number of at least 1; got {frequency_num!r}."
        )


class PositionalEncoding(nn.Module, ABC):
    """Base of all encodings: a fixed (not trained) map from coordinates to features.

    Subclasses share one constructor shape ``(min_lambda, max_lambda, frequency_num,
    **options)`` so that :meth:`config` and :func:`make_location_encoder` can save and
    rebuild any of them. Their tensors (frequencies, index tables) are buffers, so they
    follow ``.to(device)``, but they are not persistent: they are fully determined by
    :meth:`config`, and leaving them out of ``state_dict`` keeps the MLP weights loadable
    from official CaLLiPer checkpoints. Floating buffers stay float64 even through
    ``.float()`` or ``.to(torch.float32)`` on an enclosing model, because rounding the
    frequencies would silently shift every high-frequency feature.
    """

    name: ClassVar[str]
    """Key of the encoding in :data:`LOCATION_ENCODERS`."""
    coordinate_kind: ClassVar[str]
    """``"planar"`` for metric (x, y) in metres, ``"lonlat"`` for (longitude, latitude) in degrees."""

    def __init__(self, min_lambda: float, max_lambda: float, frequency_num: int = 32) -> None:
        super().__init__()
        _check_scale_settings(min_lambda, max_lambda, frequency_num)
        self.min_lambda = float(min_lambda)
        self.max_lambda = float(max_lambda)
        self.frequency_num = int(frequency_num)

    @property
    @abstractmethod
    def out_dim(self) -> int:
        """Number of features per point."""

    @abstractmethod
    def _encode(self, coords: Tensor) -> Tensor:
        """Map float64 coordinates (N, 2) to features (N, out_dim), float32 or float64."""

    def options(self) -> dict[str, Any]:
        """Encoding-specific constructor options, as JSON-serialisable values."""
        return {}

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Names of the keyword options this encoding accepts beyond the shared three."""
        shared = {"self", "min_lambda", "max_lambda", "frequency_num"}
        parameters = inspect.signature(cls.__init__).parameters.values()
        named_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return tuple(p.name for p in parameters if p.name not in shared and p.kind in named_kinds)

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this encoding with ``make_location_encoder(**config)``."""
        return {
            "name": self.name,
            "min_lambda": self.min_lambda,
            "max_lambda": self.max_lambda,
            "frequency_num": self.frequency_num,
            **self.options(),
        }

    def forward(self, coords: Tensor) -> Tensor:
        """Encode ``coords`` (N, 2), on this module's device, into float32 features (N, out_dim).

        ``coords`` should already be float64: float32 metres such as 6 672 000.3 have
        lost their sub-metre digits before they get here.
        """
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"coordinates must have shape (N, 2), got {tuple(coords.shape)}")
        return self._encode(coords.to(torch.float64)).to(torch.float32)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> PositionalEncoding:
        """Follow device moves but keep the original float64 buffers (see the class docstring)."""
        float64_buffers = {
            key: buf for key, buf in self._buffers.items() if buf is not None and buf.dtype == torch.float64
        }
        super()._apply(fn, recurse)
        for key, original in float64_buffers.items():
            moved = self._buffers[key]
            if moved is not None and moved.dtype != torch.float64:
                self._buffers[key] = original.to(device=moved.device)
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.config().items() if key != "name")


class _MultiScaleEncoding(PositionalEncoding):
    """An encoding with ``frequency_num`` geometric scales between min_lambda and max_lambda."""

    def __init__(self, min_lambda: float, max_lambda: float, frequency_num: int = 32) -> None:
        super().__init__(min_lambda, max_lambda, frequency_num)
        self.register_buffer(
            "scales", geometric_scales(self.min_lambda, self.max_lambda, self.frequency_num), persistent=False
        )


class _PlanarEncoding(_MultiScaleEncoding):
    """Space2Vec encodings of projected (x, y) metres: angle = coordinate * frequency.

    The frequency is ``1 / lambda_s`` (angle ``coord / lambda_s``) as in the official
    Space2Vec and CaLLiPer code, whose scale ``lambda_s`` is therefore the period divided
    by 2*pi: a feature repeats every ``2*pi*lambda_s`` metres. ``two_pi=True`` uses
    ``2*pi / lambda_s`` instead, so that ``lambda_s`` is the true period (wavelength).
    """

    coordinate_kind = "planar"

    def __init__(self, min_lambda: float, max_lambda: float, frequency_num: int = 32, two_pi: bool = False) -> None:
        super().__init__(min_lambda, max_lambda, frequency_num)
        self.two_pi = bool(two_pi)
        numerator = 2.0 * math.pi if self.two_pi else 1.0
        self.register_buffer("frequencies", numerator / self.scales, persistent=False)

    def options(self) -> dict[str, Any]:
        return {"two_pi": self.two_pi}


class GridCellEncoding(_PlanarEncoding):
    """Space2Vec "grid" encoding, CaLLiPer's default.

    For each axis c in (x, y) and scale s: ``[sin(c * f_s), cos(c * f_s)]`` with
    ``f_s = 1 / lambda_s`` (``2*pi / lambda_s`` if ``two_pi``). Features are ordered as
    the official code's (N, 2 axes, S scales, 2 [sin, cos]) tensor flattened:
    x: sin s0, cos s0, sin s1, cos s1, ...; then y likewise. ``out_dim = 4 * S``.
    """

    name = "grid"

    @property
    def out_dim(self) -> int:
        return 4 * self.frequency_num

    def _encode(self, coords: Tensor) -> Tensor:
        angles = phase_preserving_angles(coords, self.frequencies)  # (N, 2, S)
        return torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1).reshape(coords.shape[0], self.out_dim)


class TheoryGridCellEncoding(_PlanarEncoding):
    """Space2Vec "theory" encoding: projections on three directions 120 degrees apart.

    With ``a1 = (1, 0)``, ``a2 = (-1/2, sqrt(3)/2)``, ``a3 = (-1/2, -sqrt(3)/2)`` and
    ``f_s = 1 / lambda_s`` (``2*pi / lambda_s`` if ``two_pi``), the features are
    ``[sin(<p, a_k> f_s), cos(<p, a_k> f_s)]``. They are ordered as the official
    Space2Vec/CaLLiPer code orders them, scale-major: the (N, S scales, 3 directions,
    2 [sin, cos]) tensor flattened. ``out_dim = 6 * S``.
    """

    name = "theory"

    def __init__(self, min_lambda: float, max_lambda: float, frequency_num: int = 32, two_pi: bool = False) -> None:
        super().__init__(min_lambda, max_lambda, frequency_num, two_pi)
        half_root3 = math.sqrt(3.0) / 2.0
        directions = torch.tensor([[1.0, 0.0], [-0.5, half_root3], [-0.5, -half_root3]], dtype=torch.float64)
        self.register_buffer("directions", directions, persistent=False)

    @property
    def out_dim(self) -> int:
        return 6 * self.frequency_num

    def _encode(self, coords: Tensor) -> Tensor:
        projections = coords @ self.directions.T  # (N, 3), float64
        angles = phase_preserving_angles(projections, self.frequencies).transpose(1, 2)  # (N, S, 3)
        return torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1).reshape(coords.shape[0], self.out_dim)


class _SphereEncoding(_MultiScaleEncoding):
    """Sphere2Vec encodings of (longitude, latitude) in degrees.

    The scales in metres become angles along a great circle, ``a_s = lambda_s / R``
    with R = 6 371 000 m, and the scaled angles are ``lat_s = lat / a_s`` and
    ``lon_s = lon / a_s`` (lat, lon in radians). Each scale contributes
    ``terms_per_scale`` features; they are ordered scale-major, the (N, S, k) tensor
    flattened, as in the official Sphere2Vec code.
    """

    coordinate_kind = "lonlat"
    terms_per_scale: ClassVar[int]

    def __init__(self, min_lambda: float, max_lambda: float, frequency_num: int = 32) -> None:
        super().__init__(min_lambda, max_lambda, frequency_num)
        self.register_buffer("frequencies", EARTH_RADIUS_M / self.scales, persistent=False)

    @property
    def out_dim(self) -> int:
        return self.terms_per_scale * self.frequency_num

    @abstractmethod
    def _terms(self, lat_s: Tensor, lon_s: Tensor, lat: Tensor, lon: Tensor) -> list[Tensor]:
        """Per-scale features (each (N, S)) from scaled (N, S) and unscaled (N, 1) angles."""

    def _encode(self, coords: Tensor) -> Tensor:
        radians = torch.deg2rad(coords)
        lon, lat = radians[:, 0:1], radians[:, 1:2]
        scaled = phase_preserving_angles(radians, self.frequencies)  # (N, 2 [lon, lat], S)
        lat_s, lon_s = scaled[:, 1], scaled[:, 0]
        if lat_s.dtype == torch.float32:
            lat, lon = lat.to(torch.float32), lon.to(torch.float32)
        terms = self._terms(lat_s, lon_s, lat, lon)
        return torch.stack(terms, dim=-1).reshape(coords.shape[0], self.out_dim)


class SphereCEncoding(_SphereEncoding):
    """Sphere2Vec sphereC: 3D points on spheres of growing radius.

    Per scale: ``[sin(lat_s), cos(lat_s) cos(lon_s), cos(lat_s) sin(lon_s)]``;
    ``out_dim = 3 * S``.
    """

    name = "sphere_c"
    terms_per_scale = 3

    def _terms(self, lat_s: Tensor, lon_s: Tensor, lat: Tensor, lon: Tensor) -> list[Tensor]:
        return [torch.sin(lat_s), torch.cos(lat_s) * torch.cos(lon_s), torch.cos(lat_s) * torch.sin(lon_s)]


class SphereCPlusEncoding(_SphereEncoding):
    """Sphere2Vec sphereC+: sphereC together with the grid terms of lat_s and lon_s.

    Per scale: ``[sin(lat_s), cos(lat_s), sin(lon_s), cos(lon_s),
    cos(lat_s) cos(lon_s), cos(lat_s) sin(lon_s)]`` (sin(lat_s), shared by both parts,
    appears once); ``out_dim = 6 * S``.
    """

    name = "sphere_c_plus"
    terms_per_scale = 6

    def _terms(self, lat_s: Tensor, lon_s: Tensor, lat: Tensor, lon: Tensor) -> list[Tensor]:
        sin_lat_s, cos_lat_s = torch.sin(lat_s), torch.cos(lat_s)
        sin_lon_s, cos_lon_s = torch.sin(lon_s), torch.cos(lon_s)
        return [sin_lat_s, cos_lat_s, sin_lon_s, cos_lon_s, cos_lat_s * cos_lon_s, cos_lat_s * sin_lon_s]


class SphereMEncoding(_SphereEncoding):
    """Sphere2Vec sphereM: each scaled angle paired with the other, unscaled, angle.

    Mixing a scaled and an unscaled angle keeps the features well behaved near the
    poles at fine scales. Per scale: ``[sin(lat_s), cos(lat_s) cos(lon),
    cos(lat) cos(lon_s), cos(lat_s) sin(lon), cos(lat) sin(lon_s)]``;
    ``out_dim = 5 * S``.
    """

    name = "sphere_m"
    terms_per_scale = 5

    def _terms(self, lat_s: Tensor, lon_s: Tensor, lat: Tensor, lon: Tensor) -> list[Tensor]:
        cos_lat_s, cos_lat = torch.cos(lat_s), torch.cos(lat)
        return [
            torch.sin(lat_s),
            cos_lat_s * torch.cos(lon),
            cos_lat * torch.cos(lon_s),
            cos_lat_s * torch.sin(lon),
            cos_lat * torch.sin(lon_s),
        ]


class SphereMPlusEncoding(_SphereEncoding):
    """Sphere2Vec sphereM+: sphereM together with the grid terms of lat_s and lon_s.

    Per scale: ``[sin(lat_s), cos(lat_s), sin(lon_s), cos(lon_s), cos(lat_s) cos(lon),
    cos(lat) cos(lon_s), cos(lat_s) sin(lon), cos(lat) sin(lon_s)]`` (sin(lat_s) once);
    ``out_dim = 8 * S``.
    """

    name = "sphere_m_plus"
    terms_per_scale = 8

    def _terms(self, lat_s: Tensor, lon_s: Tensor, lat: Tensor, lon: Tensor) -> list[Tensor]:
        sin_lat_s, cos_lat_s = torch.sin(lat_s), torch.cos(lat_s)
        sin_lon_s, cos_lon_s = torch.sin(lon_s), torch.cos(lon_s)
        cos_lat = torch.cos(lat)
        return [
            sin_lat_s,
            cos_lat_s,
            sin_lon_s,
            cos_lon_s,
            cos_lat_s * torch.cos(lon),
            cos_lat * cos_lon_s,
            cos_lat_s * torch.sin(lon),
            cos_lat * sin_lon_s,
        ]


class SphericalHarmonicsEncoding(PositionalEncoding):
    """Real orthonormal spherical harmonics of (lon, lat), as in SatCLIP.

    For degrees ``l = 0 .. L-1`` and orders ``m = -l .. l`` (in that order, so
    ``out_dim = L * L``), with ``x = sin(lat)``::

        m > 0:  sqrt(2) * N_lm  * P_l^m(x)   * cos(m * lon)
        m = 0:            N_l0  * P_l(x)
        m < 0:  sqrt(2) * N_l|m| * P_l^|m|(x) * sin(|m| * lon)

    where ``N_lm = sqrt((2l+1)/(4 pi) * (l-m)!/(l+m)!)`` and ``P_l^m`` is the associated
    Legendre function *without* the Condon-Shortley phase (the usual real-harmonics
    convention). The products ``N_lm P_l^m`` are computed with the normalised three-term
    recurrence, which never forms the factorials and so stays accurate for large L.
    SatCLIP evaluates the same functions at shifted angles (lon + 180, lat + 90) with the
    Condon-Shortley phase, so its features equal these times (-1)^(l+|m|); the sign
    flips make no difference to a network trained on them. The harmonics are global and carry no length scale: min_lambda, max_lambda and
    frequency_num are accepted only for the shared constructor shape.
    """

    name = "spherical_harmonics"
    coordinate_kind = "lonlat"

    def __init__(
        self, min_lambda: float, max_lambda: float, frequency_num: int = 32, legendre_polys: int = 10
    ) -> None:
        super().__init__(min_lambda, max_lambda, frequency_num)
        if isinstance(legendre_polys, bool) or not isinstance(legendre_polys, numbers.Integral) or legendre_polys < 1:
            raise SettingsError(
                "The number of Legendre polynomials (legendre_polys) must be a whole number of at least 1; "
                f"got {legendre_polys!r}."
            )
        self.legendre_polys = n = int(legendre_polys)
        # Recurrence for Q_l^m = N_lm P_l^m (m < l):
        #   Q_l^m = A[l, m] * (x Q_{l-1}^m - B[l, m] Q_{l-2}^m)
        # and on the diagonal Q_l^l = D[l] * cos(lat) * Q_{l-1}^{l-1}, from Q_0^0 = 1/sqrt(4 pi).
        rec_a = torch.zeros(n, n, dtype=torch.float64)
        rec_b = torch.zeros(n, n, dtype=torch.float64)
        diag = torch.zeros(n, dtype=torch.float64)
        for degree in range(1, n):
            diag[degree] = math.sqrt((2 * degree + 1) / (2 * degree))
            for order in range(degree):
                rec_a[degree, order] = math.sqrt((4 * degree**2 - 1) / (degree**2 - order**2))
                if order <= degree - 2:
                    rec_b[degree, order] = math.sqrt(((degree - 1) ** 2 - order**2) / (4 * (degree - 1) ** 2 - 1))
        self.register_buffer("rec_a", rec_a, persistent=False)
        self.register_buffer("rec_b", rec_b, persistent=False)
        self.register_buffer("rec_diag", diag, persistent=False)
        # Output column j = (l, m): which Q_l^|m| and which of cos(0..n-1 lon) | sin(0..n-1 lon) it uses.
        pairs = [(degree, order) for degree in range(n) for order in range(-degree, degree + 1)]
        self.register_buffer("degree_index", torch.tensor([d for d, _ in pairs]), persistent=False)
        self.register_buffer("order_index", torch.tensor([abs(m) for _, m in pairs]), persistent=False)
        self.register_buffer(
            "trig_index", torch.tensor([m if m >= 0 else n - m for _, m in pairs]), persistent=False
        )
        weights = [1.0 if m == 0 else math.sqrt(2.0) for _, m in pairs]
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float64), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.legendre_polys**2

    def options(self) -> dict[str, Any]:
        return {"legendre_polys": self.legendre_polys}

    def _encode(self, coords: Tensor) -> Tensor:
        radians = torch.deg2rad(coords)
        lon, lat = radians[:, 0:1], radians[:, 1:2]
        sin_lat, cos_lat = torch.sin(lat), torch.cos(lat)
        n = self.legendre_polys
        previous = torch.zeros(coords.shape[0], n, dtype=torch.float64, device=coords.device)
        previous[:, 0] = 1.0 / math.sqrt(4.0 * math.pi)
        before_previous = torch.zeros_like(previous)
        by_degree = [previous]
        for degree in range(1, n):
            current = self.rec_a[degree] * (sin_lat * previous - self.rec_b[degree] * before_previous)
            current[:, degree] = self.rec_diag[degree] * cos_lat[:, 0] * previous[:, degree - 1]
            by_degree.append(current)
            before_previous, previous = previous, current
        legendre = torch.stack(by_degree, dim=1)  # (N, degree l, order m)
        multiples = lon * torch.arange(n, dtype=torch.float64, device=coords.device)
        trig = torch.cat((torch.cos(multiples), torch.sin(multiples)), dim=1)  # (N, 2n)
        return legendre[:, self.degree_index, self.order_index] * trig[:, self.trig_index] * self.weights


LOCATION_ENCODERS: dict[str, type[PositionalEncoding]] = {
    cls.name: cls
    for cls in (
        GridCellEncoding,
        TheoryGridCellEncoding,
        SphereCEncoding,
        SphereCPlusEncoding,
        SphereMEncoding,
        SphereMPlusEncoding,
        SphericalHarmonicsEncoding,
    )
}
"""Every positional encoding by the name saved in model cards and shown in the UI."""


def make_location_encoder(
    name: str, min_lambda: float, max_lambda: float, frequency_num: int = 32, **options: Any
) -> PositionalEncoding:
    """Build the encoding called ``name``; ``make_location_encoder(**enc.config())`` rebuilds ``enc``.

    Raises :class:`~.errors.SettingsError` (a ``CalliperError``) with a message for the
    user when the name, a scale setting or an option is not valid.
    """
    encoding_class = LOCATION_ENCODERS.get(name)
    if encoding_class is None:
        raise SettingsError(
            f"Unknown location encoder {name!r}. Valid names are: {', '.join(LOCATION_ENCODERS)}."
        )
    allowed = encoding_class.option_names()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise SettingsError(
            f"The location encoder {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(allowed) if allowed else 'none'}."
        )
    return encoding_class(min_lambda, max_lambda, frequency_num, **options)


class ResidualBlock(nn.Module):
    """``x + relu(w2(dropout(relu(w1(x)))))``, the residual layer of the paper's FCNet."""

    def __init__(self, width: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.w2 = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.w1(x))
        y = torch.relu(self.w2(self.dropout(y)))
        return x + y


class ResidualMLP(nn.Module):
    """The "FCNet" of CaLLiPer/SatCLIP (from GeoPrior): Linear + ReLU, residual blocks, bias-free head.

    Submodule names (``feats``, ``class_emb``, ``w1``/``w2``) follow the official code so
    that its checkpoints load with ``load_state_dict``. With the paper's sizes
    (in 128, hidden 256, out 128, 4 blocks) it has 592 128 parameters.
    """

    def __init__(
        self, in_dim: int, hidden: int = 256, out_dim: int = 128, n_blocks: int = 4, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.feats = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), *(ResidualBlock(hidden, dropout) for _ in range(n_blocks))
        )
        self.class_emb = nn.Linear(hidden, out_dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.class_emb(self.feats(x))


class LocationTower(nn.Module):
    """Location side of CaLLiPer: positional encoding then :class:`ResidualMLP`.

    Takes float64 coordinates (N, 2) of the encoding's ``coordinate_kind`` and returns
    float32 embeddings (N, out_dim). The submodules are named ``posenc`` and ``nnet`` like
    the official ``LocationEncoder`` so its weights load unchanged.
    """

    def __init__(
        self,
        encoding: PositionalEncoding,
        hidden: int = 256,
        out_dim: int = 128,
        n_blocks: int = 4,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.posenc = encoding
        self.nnet = ResidualMLP(encoding.out_dim, hidden, out_dim, n_blocks, dropout)

    @property
    def encoding(self) -> PositionalEncoding:
        """The positional encoding (fixed, not trained)."""
        return self.posenc

    @property
    def mlp(self) -> ResidualMLP:
        """The trained residual MLP."""
        return self.nnet

    @property
    def out_dim(self) -> int:
        """Size of the location embedding."""
        return self.nnet.out_dim

    def forward(self, coords: Tensor) -> Tensor:
        return self.nnet(self.posenc(coords))
