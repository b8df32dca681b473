"""Making a panel fit a narrow dock: forms wrap their long rows, labels wrap, combo boxes stop growing.

Applied once to each panel after it is built, so every widget added later to a tab
follows the same rules without each panel repeating them.
"""

from __future__ import annotations

from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QSizePolicy, QWidget

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
