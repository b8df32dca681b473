"""Run inside QGIS (qgis --code): load the demo POIs, open the Calliper dock, click Train, screenshot.

Started by scripts/gui_check.sh under Xvfb with the plugin installed from its ZIP.
"""

import os
import sys

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.utils import iface, plugins

POIS, SHOT, MODEL = os.environ["CALLIPER_GUI_POIS"], os.environ["CALLIPER_GUI_SHOT"], os.environ["CALLIPER_GUI_MODEL"]


def log(message):
    print(f"gui_check: {message}", file=sys.stderr, flush=True)


def start():
    layer = QgsVectorLayer(POIS, "Helsinki POIs (OSM)", "ogr")
    QgsProject.instance().addMapLayer(layer)
    iface.mapCanvas().setExtent(layer.extent())
    plugin = plugins["calliper"]
    plugin.action.setChecked(True)
    iface.mainWindow().resizeDocks([plugin.dock], [520], Qt.Horizontal)
    panel = plugin.dock.train_panel
    panel.layer.setLayer(layer)
    panel.epochs.setValue(15)
    panel.output.setFilePath(MODEL)
    panel.train_button.click()
    log("Train clicked")
    poll(panel, 0)


def poll(panel, waited):
    if panel.task is None or waited > 600:
        QTimer.singleShot(1500, lambda: finish(panel))
        return
    QTimer.singleShot(500, lambda: poll(panel, waited + 0.5))


def finish(panel):
    window = iface.mainWindow()
    dock = plugins["calliper"].dock
    scroll = dock.widget()
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # show progress, status, loss curve
    window.grab().save(SHOT)
    log(f"status: {panel.status.text()}")
    log(f"processing provider registered: {QgsApplication.processingRegistry().providerById('calliper') is not None}")
    log(f"screenshot: {SHOT}")
    QgsApplication.exit(0 if os.path.exists(os.path.join(MODEL, "card.json")) else 1)


QTimer.singleShot(3000, start)
