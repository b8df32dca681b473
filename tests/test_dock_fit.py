"""The dock fits a normal dock: every tab usable at 360 px wide, with no horizontal scroll bar.

A quick offscreen check: offscreen font metrics are not a desktop's, so the deciding check
runs in real QGIS on an X display (scripts/gui_check.py, ``check_fit``).
"""

from __future__ import annotations

import pytest
from test_dock import dispose

DOCK_WIDTH = 360


@pytest.fixture
def dock(qgis_iface, trained):
    from calliper.ui.dock import CalliperDock

    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    dock.model_picker.set_model(str(trained.folder))
    yield dock
    dispose(dock)


def test_every_tab_fits_360_px_without_a_horizontal_scroll_bar(dock):
    from qgis.PyQt.QtCore import QCoreApplication

    widths = {dock.tabs.tabText(i): dock.tabs.widget(i).minimumSizeHint().width() for i in range(dock.tabs.count())}
    assert set(widths) == {"Train", "Maps", "Classify", "Imagery"}
    assert max(widths.values()) <= DOCK_WIDTH, widths
    dock.resize(DOCK_WIDTH, 700)
    dock.show()
    for index in range(dock.tabs.count()):
        dock.tabs.setCurrentIndex(index)
        QCoreApplication.processEvents()
        assert not dock.widget().horizontalScrollBar().isVisible(), dock.tabs.tabText(index)
    dock.hide()


LONG_PATH = ("/srv/gis/Calliper outputs for the thesis chapter on Helsinki nightlife 2026/maps/"
             "phrase_a_sandy_beach_for_swimming_with_ice_cream_kiosks_and_a_long_seaside_promenade_20261207-190754.tif")


def test_status_lines_with_a_long_path_never_widen_any_tab(dock):
    from qgis.PyQt.QtCore import QCoreApplication

    panels = (dock.train_panel, dock.maps_panel, dock.classify_panel, dock.imagery_panel)
    for panel in panels:
        panel.status.setText(f"Similar to 'a sandy beach for swimming' (matched POIs): {LONG_PATH}")
    dock.maps_panel.size_hint.setText(LONG_PATH)
    dock.dependencies.status.setText(LONG_PATH)
    dock.resize(DOCK_WIDTH, 700)
    dock.show()
    for index in range(dock.tabs.count()):
        dock.tabs.setCurrentIndex(index)
        QCoreApplication.processEvents()
        assert dock.tabs.widget(index).minimumSizeHint().width() <= DOCK_WIDTH, dock.tabs.tabText(index)
        assert not dock.widget().horizontalScrollBar().isVisible(), dock.tabs.tabText(index)
    dock.hide()
    status = dock.maps_panel.status
    assert status.text().endswith(LONG_PATH) and status.toolTip() == status.text()  # the whole text, unmarked


def test_breakable_text_keeps_every_character_and_only_adds_break_marks():
    from calliper.ui.fit import ZERO_WIDTH_SPACE, breakable

    marked = breakable(LONG_PATH)
    assert marked.replace(ZERO_WIDTH_SPACE, "") == LONG_PATH
    assert max(len(run) for run in marked.replace(" ", ZERO_WIDTH_SPACE).split(ZERO_WIDTH_SPACE)) <= 16
    assert breakable("Training…") == "Training…"


def test_the_loss_plot_has_epoch_and_loss_axes_a_legend_and_the_best_epoch(qgis_iface):
    from calliper.ui.loss_plot import BEST_COLOUR, LossPlot, nice_ticks
    from qgis.PyQt.QtGui import QColor, QImage

    assert nice_ticks(4.61, 5.52, 4) == [4.8, 5.0, 5.2, 5.4]
    assert nice_ticks(1, 12, 5) == [2, 4, 6, 8, 10, 12]
    plot = LossPlot()
    plot.resize(340, 160)
    for train, val in [(5.5, 5.3), (5.0, 4.9), (4.8, 4.7), (4.6, 4.75), (4.5, 4.8)]:
        plot.add(train, val)
    assert plot.best_epoch == 3 and plot.legend() == ["training", "validation", "best: epoch 3"]
    assert plot.x_ticks()[0] >= 1 and plot.x_ticks()[-1] <= 5 and len(plot.x_ticks()) >= 2
    low, high = plot.loss_range()
    assert low < 4.5 and high > 5.5 and all(low <= t <= high for t in plot.y_ticks()) and len(plot.y_ticks()) >= 3
    image = QImage(plot.size(), QImage.Format.Format_RGB32)
    plot.render(image)
    area = plot.plot_area()
    axis = QColor(image.pixel(int(area.left()), int(area.center().y())))
    assert axis.lightness() < 100  # the loss axis is drawn
    best_x = int(plot._point(3, 4.7).x())
    column = [QColor(image.pixel(best_x, y)) for y in range(int(area.top()), int(area.bottom()))]
    assert any(c.green() > 120 and c.red() < 100 for c in column)  # the best epoch's green line
    assert BEST_COLOUR.name() == "#2ca02c"


def test_a_row_of_buttons_stacks_rather_than_widening_the_dock(qgis_app):
    from calliper.ui.fit import ButtonRow
    from qgis.PyQt.QtCore import QCoreApplication
    from qgis.PyQt.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

    first, second = QPushButton("Click a point on the map"), QPushButton("The selected feature of the layer")
    row = ButtonRow(first, second, stretches=(1, 1))
    page = QWidget()
    layout = QVBoxLayout(page)
    for widget in (QLabel("above"), row, QLabel("below")):
        layout.addWidget(widget)
    side_by_side = row.side_by_side_width()
    widest = max(first.minimumSizeHint().width(), second.minimumSizeHint().width())
    assert page.minimumSizeHint().width() < side_by_side  # the row does not set the page's width
    assert row.minimumSizeHint().width() == widest
    page.show()
    for width, stacked in ((side_by_side + 40, False), (side_by_side - 40, True), (side_by_side + 40, False)):
        page.resize(width, 300)
        QCoreApplication.processEvents()
        assert row.stacked() is stacked
        if stacked:  # one under the other, each whole
            assert second.y() >= first.y() + first.height() and second.width() >= second.minimumSizeHint().width()
        else:
            assert second.y() == first.y() and second.x() >= first.x() + first.width()
        assert max(first.geometry().right(), second.geometry().right()) <= row.width()
    page.hide()


def test_the_loss_plot_legend_wraps_rather_than_running_past_the_right_edge(qgis_iface):
    from calliper.ui.loss_plot import LEGEND_SWATCH, MARGIN_RIGHT, MARGIN_TOP, LossPlot

    plot = LossPlot()
    for train, val in [(5.5, 5.3), (5.0, 4.9), (4.8, 4.7), (4.6, 4.75)]:
        plot.add(train, val)
    metrics = plot.fontMetrics()
    for width, one_line in ((600, True), (200, False)):
        plot.resize(width, 160)
        positions = plot.legend_positions()
        lines = len({p.y() for p in positions})
        assert (lines == 1) is one_line
        assert all(p.x() + LEGEND_SWATCH + metrics.horizontalAdvance(label) <= width - MARGIN_RIGHT
                   for p, label in zip(positions, plot.legend()))
        assert plot.plot_area().top() == MARGIN_TOP + (lines - 1) * metrics.height()  # the curves start below it
