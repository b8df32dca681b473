"""A live plot of the training and validation loss per epoch: axes, ticks, a legend and the best epoch marked."""

from __future__ import annotations

import math

from qgis.PyQt.QtCore import QPointF, QRectF, Qt
from qgis.PyQt.QtGui import QColor, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

SERIES = (("training", QColor("#1f77b4")), ("validation", QColor("#d62728")))
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 8, 20, 30
AXIS_COLOUR, BEST_COLOUR = QColor("#333333"), QColor("#2ca02c")
LEGEND_LEFT, LEGEND_TOP, LEGEND_SWATCH, LEGEND_GAP = MARGIN_LEFT + 30, 10, 17, 10


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]: a step of 1, 2 or 5 times a power of ten, about ``count`` ticks."""
    if not high > low:
        return [low]
    power = 10 ** math.floor(math.log10((high - low) / max(count, 1)))

    def ticks(step: float) -> list[float]:
        first = math.ceil(low / step - 1e-9) * step
        return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]

    steps = [m * power * scale for scale in (0.1, 1, 10) for m in (1, 2, 5)]
    return ticks(min(steps, key=lambda step: (abs(len(ticks(step)) - count), step)))


class LossPlot(QWidget):
    """Loss (y) against epoch (x) for training (blue) and validation (red); the best validation epoch in green."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.values: dict[str, list[float]] = {name: [] for name, _ in SERIES}
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Loss per epoch: training (blue), validation (red); the green line marks the best epoch")

    def clear(self) -> None:
        self.values = {name: [] for name, _ in SERIES}
        self.update()

    def add(self, train_loss: float, val_loss: float) -> None:
        self.values["training"].append(train_loss)
        self.values["validation"].append(val_loss)
        self.update()

    @property
    def epochs(self) -> int:
        return len(self.values["training"])

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch of the lowest validation loss (the one training keeps)."""
        validation = self.values["validation"]
        return min(range(len(validation)), key=validation.__getitem__) + 1 if validation else None

    def loss_range(self) -> tuple[float, float]:
        everything = [v for series in self.values.values() for v in series]
        low, high = min(everything), max(everything)
        pad = (high - low) * 0.05 or 0.05
        return low - pad, high + pad

    def x_ticks(self) -> list[int]:
        return [int(t) for t in nice_ticks(1, self.epochs, 5) if t >= 1 and float(t).is_integer()] or [1]

    def y_ticks(self) -> list[float]:
        return nice_ticks(*self.loss_range(), 4)

    def plot_area(self) -> QRectF:
        top = MARGIN_TOP + max((p.y() for p in self.legend_positions()), default=LEGEND_TOP) - LEGEND_TOP
        return QRectF(MARGIN_LEFT, top, self.width() - MARGIN_LEFT - MARGIN_RIGHT, self.height() - top - MARGIN_BOTTOM)

    def legend_positions(self) -> list[QPointF]:
        """Where each legend entry starts: in a row, wrapping to the next line rather than past the right edge."""
        metrics, positions = self.fontMetrics(), []
        x, y = LEGEND_LEFT, LEGEND_TOP
        for label in self.legend():
            width = LEGEND_SWATCH + metrics.horizontalAdvance(label)
            if positions and x + width > self.width() - MARGIN_RIGHT:
                x, y = MARGIN_LEFT, y + metrics.height()  # below the "loss" label: the full width
            positions.append(QPointF(x, y))
            x += width + LEGEND_GAP
        return positions

    def _point(self, epoch: float, loss: float) -> QPointF:
        area, (low, high) = self.plot_area(), self.loss_range()
        x = area.left() + area.width() * (epoch - 1) / max(self.epochs - 1, 1)
        return QPointF(x, area.top() + area.height() * (high - loss) / (high - low))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        if self.epochs < 2:
            painter.setPen(AXIS_COLOUR)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The loss curve appears after two epochs")
            return
        self._draw_axes(painter)
        for name, colour in SERIES:
            painter.setPen(QPen(colour, 2))
            painter.drawPolyline(QPolygonF([self._point(i + 1, v) for i, v in enumerate(self.values[name])]))
        self._draw_best(painter)
        self._draw_legend(painter)

    def _draw_axes(self, painter: QPainter) -> None:
        area = self.plot_area()
        metrics = painter.fontMetrics()
        painter.setPen(QPen(QColor("#e0e0e0"), 1))
        for tick in self.y_ticks():
            y = self._point(1, tick).y()
            if area.top() <= y <= area.bottom():
                painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setPen(QPen(AXIS_COLOUR, 1))
        painter.drawLine(area.bottomLeft(), area.bottomRight())
        painter.drawLine(area.bottomLeft(), area.topLeft())
        for tick in self.y_ticks():
            y = self._point(1, tick).y()
            if area.top() <= y <= area.bottom():
                text = f"{tick:g}"
                painter.drawText(QPointF(area.left() - 4 - metrics.horizontalAdvance(text), y + metrics.ascent() / 2), text)
        for epoch in self.x_ticks():
            x = self._point(epoch, 0).x()
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 3))
            text = str(epoch)
            painter.drawText(QPointF(x - metrics.horizontalAdvance(text) / 2, area.bottom() + 3 + metrics.ascent()), text)
        painter.drawText(QPointF(area.right() - metrics.horizontalAdvance("epoch"), self.height() - 2), "epoch")
        painter.drawText(QPointF(2, metrics.ascent() + 2), "loss")

    def _draw_best(self, painter: QPainter) -> None:
        best = self.best_epoch
        area = self.plot_area()
        point = self._point(best, self.values["validation"][best - 1])
        painter.setPen(QPen(BEST_COLOUR, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(point.x(), area.top()), QPointF(point.x(), area.bottom()))
        painter.setBrush(BEST_COLOUR)
        painter.drawEllipse(point, 3, 3)

    def _draw_legend(self, painter: QPainter) -> None:
        ascent = painter.fontMetrics().ascent()
        colours = [colour for _, colour in SERIES] + [BEST_COLOUR]
        for label, colour, at in zip(self.legend(), colours, self.legend_positions()):
            painter.setPen(QPen(colour, 2))
            painter.drawLine(at, QPointF(at.x() + LEGEND_SWATCH - 3, at.y()))
            painter.setPen(AXIS_COLOUR)
            painter.drawText(QPointF(at.x() + LEGEND_SWATCH, at.y() + ascent / 2 - 1), label)

    def legend(self) -> list[str]:
        return [label for label, _ in SERIES] + ([f"best: epoch {self.best_epoch}"] if self.epochs else [])
