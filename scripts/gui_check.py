"""Run inside QGIS (qgis --code) on the user's path: Install, load the demo POIs, Train, a phrase map, quit.

Last, a second training is started and QGIS is quit with File > Exit while it runs. QGIS
asks whether to cancel the background tasks and, on Yes, cancels them and stays open
(its own behaviour); once the task has ended, File > Exit again must close QGIS with 0
and leave nothing at that training's output.

The dock's fit is checked with QGIS's own style and fonts on a real X display (offscreen
font metrics differ) after each step that writes status lines with paths, layer names
or the user's phrase (Train, the embedding raster, a phrase map with a long phrase,
Describe, Classify), into a long output folder: in a dock 360 px and 380 px wide every
tab, its collapsible groups open, must show no horizontal scroll bar and no button,
field or label may reach past the right edge. After the phrase map a screenshot of each
tab goes to docs/dock-fit-*.png. CALLIPER_GUI_FIT_ONLY=1 runs only that check, at once,
when the profile already has the packages.

Started by scripts/gui_check.sh under Xvfb with no PYTHONPATH, a fresh profile and the
plugin from its ZIP, so every package comes from the dock's own installer. Exits QGIS
with 0 only when the model and the phrase map were written; the shell checks that code.
"""

import os
import sys
import time

from qgis.core import QgsApplication, QgsProject, QgsRectangle, QgsVectorLayer
from qgis.gui import QgsCollapsibleGroupBoxBasic
from qgis.PyQt.QtCore import QPoint, Qt, QTimer
from qgis.PyQt.QtWidgets import QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLabel, QLineEdit, QMessageBox
from qgis.utils import iface, plugins

POIS, SHOTS, MODEL = os.environ["CALLIPER_GUI_POIS"], os.environ["CALLIPER_GUI_SHOTS"], os.environ["CALLIPER_GUI_MODEL"]
LANDUSE = os.path.join(os.path.dirname(POIS), "landuse.gpkg")
MAPS = os.path.join(os.path.dirname(MODEL), "maps")
STUDY = os.path.join(os.path.dirname(MODEL), "landuse")
DOCK_WIDTH = 400
# The dock widths every tab must fit: the narrowest first (its screenshots are the docs').
FIT_WIDTHS = [int(w) for w in os.environ.get("CALLIPER_GUI_FIT_WIDTHS", "360,380").split(",")]
LONG_PHRASE = "a sandy beach for swimming with ice cream kiosks and a long seaside promenade"
FIT_ONLY = os.environ.get("CALLIPER_GUI_FIT_ONLY") == "1"
WIDGET_MAX = 16777215  # Qt's QWIDGETSIZE_MAX: no maximum width
VISIBLE_PARTS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QLineEdit)
STARTED = time.time()
timings = {}


def log(message):
    print(f"gui_check: {message}", file=sys.stderr, flush=True)


def shot(name):
    path = os.path.join(SHOTS, name)
    iface.mainWindow().grab().save(path)
    log(f"screenshot: {path}")


def wait(condition, then, timeout, label):
    deadline = time.time() + timeout

    def poll():
        if condition():
            then()
        elif time.time() > deadline:
            log(f"timed out waiting for {label}")
            QgsApplication.exit(3)
        else:
            QTimer.singleShot(500, poll)

    poll()


def start():
    log(f"sys.path has no PYTHONPATH entries: {not os.environ.get('PYTHONPATH')}")
    iface.mainWindow().showMaximized()
    plugin = plugins["calliper"]
    plugin.action.setChecked(True)
    iface.mainWindow().resizeDocks([plugin.dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    if FIT_ONLY and plugin.dock.tabs is not None:  # the packages are already in the profile
        check_fit(plugin, "at start", lambda: QgsApplication.exit(0), shots=True)
        return
    panel = plugin.dock.dependencies
    log(f"missing before install: {[r.pip_spec for r in panel.missing]}")
    wait(lambda: panel.task is None and panel.resolution is not None, lambda: install(plugin), 600, "the size check")


def install(plugin):
    panel = plugin.dock.dependencies
    log(f"installer: {panel.size.text()}")
    shot("installer.png")
    timings["install_started"] = time.time()
    panel.install_button.click()
    wait(lambda: panel.task is None, lambda: installed(plugin), 1800, "the install")


def installed(plugin):
    timings["install_s"] = time.time() - timings["install_started"]
    panel = plugin.dock.dependencies
    log(f"install finished in {timings['install_s']:.0f} s: {panel.status.text()}")
    if plugin.dock.tabs is None:
        log("the dock did not come up after the install")
        QgsApplication.exit(4)
        return
    log(f"processing provider registered: {QgsApplication.processingRegistry().providerById('calliper') is not None}")
    layer = QgsVectorLayer(POIS, "Helsinki POIs (OSM)", "ogr")
    QgsProject.instance().addMapLayer(layer)
    iface.mapCanvas().setExtent(layer.extent())
    train = plugin.dock.train_panel
    train.layer.setLayer(layer)
    train.epochs.setValue(15)
    train.output.setFilePath(MODEL)
    train.train_button.click()
    log("Train clicked")
    wait(lambda: train.task is None, lambda: check_fit(plugin, "after Train", lambda: trained(plugin, layer)),
         900, "training")


def check_fit(plugin, stage, then, shots=False, widths=None):
    """Every tab at each of FIT_WIDTHS: no sideways scrolling, nothing past the right edge; with ``shots``, a
    screenshot of each tab at the first width. Exits QGIS with 5 on the first width that does not fit."""
    widths = FIT_WIDTHS if widths is None else widths
    if not widths:
        then()
        return
    fit_width = widths[0]
    dock = plugin.dock
    current = dock.tabs.currentIndex()
    minimum = dock.minimumWidth()
    dock.setFixedWidth(fit_width)
    groups, problems = [], []

    def measure(index):
        if index == dock.tabs.count():
            for group in groups:
                group.setCollapsed(True)
            dock.setMinimumWidth(minimum)
            dock.setMaximumWidth(WIDGET_MAX)
            dock.tabs.setCurrentIndex(current)
            iface.mainWindow().resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
            log(f"dock fit {stage} at {fit_width} px: {'; '.join(problems) or 'every tab fits'}")
            if problems:
                QgsApplication.exit(5)
            else:
                check_fit(plugin, stage, then, shots=False, widths=widths[1:])
            return
        dock.tabs.setCurrentIndex(index)
        QTimer.singleShot(500, lambda: open_groups(index))

    def open_groups(index):
        """A user may open any collapsible group (opened once the tab shows: a group restores its state then)."""
        closed = [g for g in dock.tabs.widget(index).findChildren(QgsCollapsibleGroupBoxBasic) if g.isCollapsed()]
        for group in closed:
            group.setCollapsed(False)
        groups.extend(closed)
        QTimer.singleShot(700, lambda: measure_tab(index))

    def measure_tab(index):
        name, page, scroll = dock.tabs.tabText(index), dock.tabs.widget(index), dock.widget()
        viewport = scroll.viewport()
        log(f"{name}: dock {dock.width()} px, viewport {viewport.width()} px, "
            f"tab minimum {page.minimumSizeHint().width()} px, body minimum {scroll.widget().minimumSizeHint().width()} px")
        if dock.width() != fit_width:
            problems.append(f"the dock is {dock.width()} px wide, not {fit_width}")
        if page.minimumSizeHint().width() > fit_width:
            problems.append(f"{name} needs {page.minimumSizeHint().width()} px")
        if scroll.horizontalScrollBar().isVisible():
            problems.append(f"{name} scrolls sideways")
        cut = [f"{type(part).__name__} {label_of(part)!r} ends at {right} px"
               for part in scroll.widget().findChildren(VISIBLE_PARTS) if part.isVisible()
               for right in [part.mapTo(viewport, QPoint(part.width(), 0)).x()] if right > viewport.width()]
        if cut:
            problems.append(f"{name}: {len(cut)} parts past the right edge ({viewport.width()} px), e.g. {'; '.join(cut[:4])}")
        if shots:
            scroll.widget().grab().save(os.path.join(SHOTS, f"dock-fit-{name.lower()}.png"))
        measure(index + 1)

    QTimer.singleShot(1000, lambda: measure(0))


def label_of(widget):
    for attribute in ("text", "placeholderText", "currentText"):
        if hasattr(widget, attribute) and getattr(widget, attribute)():
            return getattr(widget, attribute)()[:40]
    return widget.toolTip()[:40]


def trained(plugin, layer):
    train = plugin.dock.train_panel
    log(f"train: {train.status.text()}")
    maps = plugin.dock.maps_panel
    plugin.dock.tabs.setCurrentWidget(maps)
    extent = layer.extent()
    cx, cy = extent.center().x(), extent.center().y()
    box = QgsRectangle(cx - 500, cy - 500, cx + 500, cy + 500)
    maps.extent.setOutputExtentFromUser(box, layer.crs())
    iface.mapCanvas().setExtent(box)
    maps.pixel_size.setValue(20)
    maps.output_dir.setFilePath(MAPS)
    maps.raster_button.click()
    wait(lambda: maps.task is None, lambda: check_fit(plugin, "after the embedding raster", lambda: phrase(plugin)),
         900, "the embedding raster")


def phrase(plugin, text="nightlife"):
    maps = plugin.dock.maps_panel
    maps.phrase.setText(text)
    maps.phrase_button.click()
    then = (lambda: finish(plugin)) if text == LONG_PHRASE else (lambda: phrase(plugin, LONG_PHRASE))
    wait(lambda: maps.task is None, then, 600, f"the phrase map of '{text}'")


def finish(plugin):
    maps = plugin.dock.maps_panel
    log(f"maps: {maps.status.text()}")
    check_fit(plugin, "after a long phrase map", lambda: top_then_describe(plugin), shots=True)


def top_then_describe(plugin):
    plugin.dock.tabs.setCurrentWidget(plugin.dock.maps_panel)
    plugin.dock.widget().verticalScrollBar().setValue(0)
    QTimer.singleShot(2000, lambda: describe(plugin))


def describe(plugin):
    shot("dock-phrase-map.png")
    maps = plugin.dock.maps_panel
    panel = maps.describe
    panel.setCollapsed(False)
    panel.result.setMinimumHeight(300)  # room for the list in the screenshot
    panel.describe_button.setChecked(True)
    panel.phrases.setText("nightlife; a quiet place to read")
    centre = iface.mapCanvas().extent().center()
    panel.describe_at(centre)
    wait(lambda: panel.task is None, lambda: described(plugin), 300, "the description")


def described(plugin):
    panel = plugin.dock.maps_panel.describe
    log(f"describe: {panel.place.descriptions[0].text if panel.place else maps_status(plugin)}")
    scroll = plugin.dock.widget()
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # the description, whole
    QTimer.singleShot(1500, lambda: shot("dock-describe.png"))
    QTimer.singleShot(2500, lambda: check_fit(plugin, "after Describe", lambda: across(plugin)))


def across(plugin):
    """Places like the map's centre under a model of 'another city' (here the same model, as the user may)."""
    maps = plugin.dock.maps_panel
    plugin.dock.tabs.setCurrentWidget(maps)
    maps.describe.setCollapsed(True)
    panel = maps.across
    panel.setCollapsed(False)
    panel.other_model.setFilePath(MODEL)
    panel.like_button.setChecked(True)
    panel.like_place_at(iface.mapCanvas().extent().center())
    wait(lambda: maps.task is None, lambda: liked(plugin), 300, "the places-like-this map")


def liked(plugin):
    log(f"across cities: {maps_status(plugin)}")
    scroll = plugin.dock.widget()
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    QTimer.singleShot(1500, lambda: classify(plugin))


def classify(plugin):
    """Classify the demo's land-use polygons into the long output folder: its status names the report's path."""
    shot("dock-across-cities.png")
    layer = QgsVectorLayer(LANDUSE, "Helsinki land use (OSM)", "ogr")
    QgsProject.instance().addMapLayer(layer)
    panel = plugin.dock.classify_panel
    plugin.dock.tabs.setCurrentWidget(panel)
    panel.labels.setLayer(layer)
    panel.output_dir.setFilePath(STUDY)
    panel.classify_button.click()
    wait(lambda: panel.task is None, lambda: classified(plugin), 900, "the land-use study")


def classified(plugin):
    panel = plugin.dock.classify_panel
    log(f"classify: {panel.status.text()}")
    if getattr(panel, "report_dialog", None) is not None:
        panel.report_dialog.close()
    check_fit(plugin, "after Classify", lambda: done(plugin))


def maps_status(plugin):
    return plugin.dock.maps_panel.status.text()


def done(plugin):
    written = os.path.isfile(os.path.join(MODEL, "card.json")) and os.path.isfile(os.path.join(STUDY, "report.html")) \
        and all(any(name.startswith(prefix) for name in os.listdir(MAPS))
                for prefix in ("phrase_nightlife", "phrase_a_sandy_beach", "like_"))
    log(f"model, phrase maps, places-like-this map and land-use study written: {written}; "
        f"whole session {time.time() - STARTED:.0f} s")
    if not written:
        QgsApplication.exit(1)
        return
    train = plugin.dock.train_panel
    plugin.dock.tabs.setCurrentWidget(train)
    train.epochs.setValue(500)
    train.output.setFilePath(MODEL + "_quit")
    train.train_button.click()
    wait(lambda: train.task is not None and train.task.progress() > 1, quit_qgis, 300, "the second training")


def quit_qgis():
    """File > Exit, as a user quits (the project saved-looking, so QGIS asks only about the running task)."""
    log("quitting QGIS with File > Exit while Train runs")
    QgsProject.instance().setDirty(False)
    QTimer.singleShot(2000, lambda: when_asked(cancel_the_tasks))
    iface.actionExit().trigger()


def when_asked(then):
    """Call ``then(question)`` once QGIS shows a question box."""
    question = QApplication.activeModalWidget()
    if isinstance(question, QMessageBox):
        then(question)
    else:
        QTimer.singleShot(500, lambda: when_asked(then))


def answer_yes(question):
    log(f"QGIS asks: {' '.join(question.text().split())[:120]}; answering Yes")
    question.button(QMessageBox.StandardButton.Yes).click()


def cancel_the_tasks(question):
    """QGIS asks whether to cancel the running background tasks: Yes, then quit again once the task has ended."""
    shot("quit-while-training.png")
    answer_yes(question)
    train = plugins["calliper"].dock.train_panel
    wait(lambda: train.task is None, quit_again, 120, "the cancelled training to end")


def quit_again():
    log(f"train: {plugins['calliper'].dock.train_panel.status.text()}; File > Exit again")
    QTimer.singleShot(1000, lambda: when_asked(keep_answering_yes))
    iface.actionExit().trigger()


def keep_answering_yes(question):
    """Any later question (temporary layers will be lost) is answered Yes, as a user quitting would."""
    answer_yes(question)
    QTimer.singleShot(500, lambda: when_asked(keep_answering_yes))


QTimer.singleShot(3000, start)
