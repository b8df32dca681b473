"""Making a panel fit a narrow dock: forms wrap their long rows, labels wrap, combo boxes stop growing,
rows of buttons stack.

``fit_narrow`` is applied once to each panel after it is built, so every widget added
later to a tab follows the same rules without each panel repeating them. ``ButtonRow``
puts buttons side by side while they fit and one under another when the dock is
narrower (a larger font, a longer translation), so a row never sets the dock's width.
"""

from __future__ import annotations

from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtWidgets import QBoxLayout, QComboBox, QFormLayout, QGroupBox, QLabel, QLayout, QSizePolicy, QWidget

COMBO_CHARACTERS = 12


def fit_narrow(panel: QWidget) -> QWidget:
    """Let ``panel`` shrink to a dock about 360 px wide (its minimum size hint no longer sums long texts)."""
    for form in panel.findChildren(QFormLayout):
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label in panel.findChildren(QLabel):
        label.setWordWrap(True)
    for group in panel.findChildren(QGroupBox):  # a collapsible group's default policy holds it at its size hint
        group.setSizePolicy(QSizePolicy.Policy.Preferred, group.sizePolicy().verticalPolicy())
    for combo in panel.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(COMBO_CHARACTERS)
    return panel


class ButtonRow(QWidget):
    """Widgets side by side when the row is wide enough for all of them, else stacked; as narrow as its widest one."""

    def __init__(self, *widgets: QWidget, stretches: tuple[int, ...] = (), parent=None) -> None:
        super().__init__(parent)
        self.widgets = widgets
        self.row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # else the row's full width is its minimum
        for index, widget in enumerate(widgets):
            self.row.addWidget(widget, stretches[index] if index < len(stretches) else 0)

    def side_by_side_width(self) -> int:
        return sum(w.minimumSizeHint().width() for w in self.widgets) + self.row.spacing() * (len(self.widgets) - 1)

    def stacked(self) -> bool:
        return self.row.direction() == QBoxLayout.Direction.TopToBottom

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        heights = [w.minimumSizeHint().height() for w in self.widgets]
        height = sum(heights) + self.row.spacing() * (len(heights) - 1) if self.stacked() else max(heights)
        return QSize(max(w.minimumSizeHint().width() for w in self.widgets), height)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        direction = (QBoxLayout.Direction.LeftToRight if event.size().width() >= self.side_by_side_width()
                     else QBoxLayout.Direction.TopToBottom)
        if direction != self.row.direction():
            self.row.setDirection(direction)
            self.updateGeometry()  # the stacked row is taller: the tab makes room
        super().resizeEvent(event)


BREAK_AFTER = "/\\_-.,:;"  # where a long path, layer name or phrase may wrap
LONGEST_RUN = 16  # characters without a break opportunity before one is made
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """``text`` with zero-width break opportunities in every long run, so word wrap can split paths anywhere."""
    out, run = [], 0
    for character in text:
        out.append(character)
        run = 0 if character.isspace() else run + 1
        if run and (character in BREAK_AFTER or run >= LONGEST_RUN):
            out.append(ZERO_WIDTH_SPACE)
            run = 0
    return "".join(out)


class StatusLabel(QLabel):
    """A wrapped status line that never widens the dock: long paths, layer names and phrases wrap anywhere.

    ``text()`` gives the text as set (without the break marks); the whole text is also the tooltip.
    """

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._text = text
        self.setToolTip(text)
        super().setText(breakable(text))

    def text(self) -> str:
        return self._text
