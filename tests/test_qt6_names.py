"""QGIS 4 (Qt6, PyQt6): every Qt name the plugin uses exists in the real PyQt6, every QGIS enum is scoped.

See tests/qt_names.py for what is read and how it is resolved.
"""

from __future__ import annotations

import pytest
from qt_names import QT5_ONLY, missing_in_pyqt6, name_uses, plugin_files, plugin_name_uses, qgis_enum_problems

SNIPPET = '''
from qgis.core import Qgis, QgsTask
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QAction, QMessageBox, QSizePolicy, QWidget

try:
    from qgis.PyQt.QtGui import QShortcut
except ImportError:
    from qgis.PyQt.QtWidgets import QShortcut


class Panel(QWidget):
    def build(self):
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Expanding)
        self.setMargin(2)
        self.own()

    def own(self):
        return Qt.AlignmentFlag.AlignCenter | Qt.AlignCenter


box = QMessageBox()
box.exec_()
box.exec()
flags = QgsTask.Flag.CanCancel | QgsTask.CanCancel
level = Qgis.MessageLevel.Info if Qgis.Info else Qgis.NoSuchLevel
legacy = QSizePolicy.Fixed  # Qt5 only
'''


def test_every_qt_name_the_plugin_uses_exists_in_pyqt6():
    uses = plugin_name_uses()
    assert len({use.chain for use in uses if not use.chain.startswith("qgis.")}) > 100  # the walk really read them
    assert {"QtCore.Qt.DockWidgetArea.RightDockWidgetArea", "QtGui.QAction"} <= {use.chain for use in uses}
    assert [str(use) for use in missing_in_pyqt6(uses)] == []


def test_the_qt_check_names_what_pyqt6_lacks():
    missing = {use.chain for use in missing_in_pyqt6(name_uses(SNIPPET))}
    assert missing == {
        "QtWidgets.QAction",  # moved to QtGui
        "QtWidgets.QSizePolicy.Expanding", "QtCore.Qt.AlignCenter",  # unscoped enums
        "QtWidgets.QWidget.setMargin",  # a method the Qt base class does not have
        "*.exec_", "QtWidgets.QMessageBox.exec_",  # PyQt5's spelling
    }
    # the scoped forms, exec(), the Qt5 fallback import and the line marked Qt5 only pass
    assert {"QtWidgets.QSizePolicy.Policy.Expanding", "QtWidgets.QMessageBox.exec", "QtGui.QShortcut",
            "QtWidgets.QWidget.setSizePolicy"} <= {use.chain for use in name_uses(SNIPPET)}
    assert "QtWidgets.QShortcut" not in {use.chain for use in name_uses(SNIPPET)}
    assert "QtWidgets.QSizePolicy.Fixed" not in {use.chain for use in name_uses(SNIPPET)}


def test_qt5_only_names_stay_behind_the_field_type_switch():
    marked = [path.name for path in plugin_files() for line in path.read_text(encoding="utf-8").splitlines()
              if QT5_ONLY in line]
    assert marked == ["field_types.py"]


def test_every_qgis_enum_is_reached_through_its_enum(qgis_app):
    assert qgis_enum_problems(plugin_name_uses()) == []


def test_the_qgis_check_names_unscoped_and_unknown_enums(qgis_app):
    problems = qgis_enum_problems(name_uses(SNIPPET))
    assert len(problems) == 3
    assert "qgis.core.QgsTask.CanCancel: reach it through its enum (QgsTask.Flag.CanCancel)" in problems[0]
    assert "qgis.core.Qgis.Info: reach it through its enum (Qgis.MessageLevel.Info)" in problems[1]
    assert "has no NoSuchLevel" in problems[2]


def test_a_deprecated_qgis_call_fails_the_suite(qgis_app):
    """pytest.ini turns sip's warning for deprecated QGIS API (removed in QGIS 4) into an error in every test."""
    from qgis.core import QgsGraduatedSymbolRenderer, QgsVectorLayer

    layer = QgsVectorLayer("Point?field=x:double", "deprecated", "memory")
    with pytest.raises(DeprecationWarning, match=r"QgsGraduatedSymbolRenderer\.updateClasses\(\) is deprecated"):
        QgsGraduatedSymbolRenderer("x").updateClasses(layer, QgsGraduatedSymbolRenderer.Mode.Quantile, 5)
