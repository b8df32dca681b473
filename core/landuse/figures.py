"""The report's pictures as inline SVG: heat grids (confusion matrix, F1 per class and method) and a map of test units.

SVG text in the page needs no network, no plotting package and no image file beside
the report, and it stays sharp when zoomed. Colours: a white-to-blue ramp for
shares and scores, green and red for right and wrong (with grey for the units the
probe trained on).
"""

from __future__ import annotations

import html

import numpy as np

CELL = 34
FONT = 11
RIGHT, WRONG, TRAINED = "#1a9850", "#d73027", "#c8c8c8"


def _blue(value: float) -> str:
    """White (0) to dark blue (1)."""
    value = float(np.clip(value, 0.0, 1.0))
    low, high = np.array([247, 251, 255]), np.array([8, 48, 107])
    return "#{:02x}{:02x}{:02x}".format(*np.rint(low + value * (high - low)).astype(int))


def _text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="{anchor}" '
            f'dominant-baseline="middle" {extra}>{html.escape(text)}</text>')


def heat_grid(values: np.ndarray, shade: np.ndarray, rows: list[str], columns: list[str], title: str,
              cell_format: str = "{:g}") -> str:
    """An SVG grid: one cell per value, coloured by ``shade`` (0 to 1), its value written in it.

    Row labels at the left, column labels slanted above, so long method names fit.
    """
    values, shade = np.asarray(values), np.asarray(shade, np.float64)
    left = 12 + 7 * max(len(label) for label in rows)
    slant = 5.2 * max(len(label) for label in columns)  # a label's height when slanted; its reach is as long
    top = 20 + int(slant)
    width, height = left + CELL * len(columns) + int(0.85 * slant) + 10, top + CELL * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}" font-family="sans-serif">']
    for j, label in enumerate(columns):
        x = left + CELL * j + CELL / 2
        parts.append(_text(x, top - 8, label, "start", f'transform="rotate(-50 {x:.1f} {top - 8})"'))
    for i, label in enumerate(rows):
        y = top + CELL * i + CELL / 2
        parts.append(_text(left - 6, y, label, "end"))
        for j in range(len(columns)):
            x = left + CELL * j
            colour = _blue(shade[i, j])
            ink = "#fff" if shade[i, j] > 0.55 else "#222"
            parts.append(f'<rect x="{x}" y="{top + CELL * i}" width="{CELL}" height="{CELL}" fill="{colour}" '
                         'stroke="#fff"/>')
            parts.append(_text(x + CELL / 2, y, cell_format.format(values[i, j]), extra=f'fill="{ink}"'))
    parts.append("</svg>")
    return "".join(parts)


def confusion_svg(matrix, classes: list[str]) -> str:
    """The confusion matrix (rows true, columns predicted) shaded by each true class's share."""
    matrix = np.asarray(matrix, np.float64)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    return heat_grid(matrix.astype(int), shares, classes, classes, "confusion matrix")


def per_class_svg(f1: np.ndarray, classes: list[str], methods: list[str]) -> str:
    """F1 per class (rows) for every method (columns), shaded by the F1 itself."""
    return heat_grid(np.asarray(f1), np.asarray(f1), classes, methods, "F1 per class and method", "{:.2f}")


def scale_bar(span: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) of at most a quarter of ``span``."""
    power = 10 ** np.floor(np.log10(span / 4))
    return float(max(step * power for step in (1, 2, 5) if step * power <= span / 4))


def test_map_svg(x, y, part, size: int = 420) -> str:
    """The labelled units at their places: grey where the probe trained, green right and red wrong on test.

    Axes are metres of the labels' metric CRS (north up); a scale bar gives the distance.
    """
    x, y, part = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(part)
    span = max(np.ptp(x), np.ptp(y), 1.0)
    scale = (size - 40) / span
    px, py = 20 + (x - x.min()) * scale, size - 20 - (y - y.min()) * scale
    height = size + 30  # the scale bar and legend below the map
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{height}" role="img" '
             'aria-label="test units right and wrong" font-family="sans-serif">',
             f'<rect width="{size}" height="{size}" fill="#fafafa" stroke="#bbb"/>']
    dot = 4.0 if (part > 0).sum() < 150 else 2.5  # many test units: smaller dots, so wrong ones hide fewer right
    for kind, colour, radius in ((0, TRAINED, 2.0), (1, RIGHT, dot), (2, WRONG, dot)):
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{radius}" fill="{colour}" fill-opacity="0.8"/>'
                  for a, b in zip(px[part == kind], py[part == kind])]
    bar, below = scale_bar(span), size + 15
    parts.append(f'<line x1="10" y1="{below}" x2="{10 + bar * scale:.1f}" y2="{below}" stroke="#222" '
                 'stroke-width="3"/>')
    parts.append(_text(16 + bar * scale, below, f"{bar:g} m" if bar < 1000 else f"{bar / 1000:g} km", "start"))
    legend = ((RIGHT, "test, right"), (WRONG, "test, wrong"), (TRAINED, "train / validation"))
    for k, (colour, label) in enumerate(legend):
        parts.append(f'<circle cx="{size - 290 + 100 * k}" cy="{below}" r="5" fill="{colour}"/>')
        parts.append(_text(size - 282 + 100 * k, below, label, "start"))
    parts.append("</svg>")
    return "".join(parts)
