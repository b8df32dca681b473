"""A small live plot of training and validation loss per epoch."""

from __future__ import annotations

from qgis.PyQt.QtCore import QPointF, Qt
from qgis.PyQt.QtGui import QColor, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

SERIES = (("train", QColor("#1f77b4")), ("validation", QColor("#d62728")))


class LossPlot(QWidget):
    """Two polylines (train blue, validation red) scaled to the widget; empty until epochs arrive."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.values: dict[str, list[float]] = {name: [] for name, _ in SERIES}
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("Loss per epoch: training (blue) and validation (red)")

    def clear(self) -> None:
        self.values = {name: [] for name, _ in SERIES}
        self.update()

    def add(self, train_loss: float, val_loss: float) -> None:
        self.values["train"].append(train_loss)
        self.values["validation"].append(val_loss)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QColor("#999999"))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        everything = [v for series in self.values.values() for v in series]
        if len(self.values["train"]) < 2:
            painter.drawText(self.rect(), Qt.AlignCenter, "loss curve appears after two epochs")
            return
        low, high = min(everything), max(everything)
        span = (high - low) or 1.0
        width, height, n = self.width() - 8, self.height() - 8, len(self.values["train"])
        for name, colour in SERIES:
            points = [QPointF(4 + width * i / (n - 1), 4 + height * (high - v) / span) for i, v in enumerate(self.values[name])]
            painter.setPen(QPen(colour, 2))
            painter.drawPolyline(QPolygonF(points))
        painter.setPen(QColor("#333333"))
        painter.drawText(6, 14, f"{high:.3f}")
        painter.drawText(6, self.height() - 6, f"{low:.3f}")
