"""Run inside QGIS (qgis --code) by bench/qgis_speed.py: its figures on QGIS's main thread and in a QgsTask.

Once the window is up (the plugin loaded as QGIS loads it, with whatever torch import the plugin does
at start-up), ``measure`` runs on the main thread, then the matrix product and the encoding again in a
QgsTask's thread. The figures go to CALLIPER_BENCH_OUT as JSON and QGIS exits with 0 (3 on an error).
"""

import json
import os
import sys
import traceback
from pathlib import Path

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt.QtCore import QTimer

sys.path.insert(0, os.environ["CALLIPER_BENCH_DIR"])
import qgis_speed  # noqa: E402 - bench/ is on the path only now

WORK = Path(os.environ["CALLIPER_BENCH_WORK"])
TEXTS, RASTER = int(os.environ["CALLIPER_BENCH_TEXTS"]), int(os.environ["CALLIPER_BENCH_RASTER"])
figures = {}


def fail():
    traceback.print_exc()
    QgsApplication.exit(3)


def on_main_thread():
    try:
        figures.update(qgis_speed.measure(WORK / "qgis-main", TEXTS, RASTER))
        print(f"in_qgis: main thread {figures}", file=sys.stderr, flush=True)
    except Exception:
        fail()
        return
    task = QgsTask.fromFunction("Calliper speed in a task", in_a_task, on_finished=task_done)
    figures["pending"] = task  # a QgsTask made in Python must outlive its run
    QgsApplication.taskManager().addTask(task)


def in_a_task(task):
    return {"matmul_gflops": qgis_speed.matmul_gflops(),
            "texts_per_s": qgis_speed.texts_per_second(WORK / "qgis-task", TEXTS)}


def task_done(exception, result=None):
    figures.pop("pending")
    if exception is not None:
        print(f"in_qgis: the task failed: {exception!r}", file=sys.stderr, flush=True)
        QgsApplication.exit(3)
        return
    figures["task"] = result
    Path(os.environ["CALLIPER_BENCH_OUT"]).write_text(json.dumps(figures))
    print(f"in_qgis: task {result}", file=sys.stderr, flush=True)
    QgsApplication.exit(0)


QTimer.singleShot(3000, on_main_thread)
