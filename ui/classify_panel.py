"""The Classify panel: a label layer and field -> prediction layer, class raster and a metrics report."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication, QgsMapLayerProxyModel, QgsProviderRegistry
from qgis.gui import QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QLabel, QPushButton, QSpinBox, QTextBrowser,
    QVBoxLayout, QWidget,
)

from ..core.errors import CalliperError, InputDataError
from ..core.labels import LabelSettings
from ..core.landuse import ClassifyResult, ClassifySettings, classify
from ..core.probes import ProbeSettings
from ..core.splits import SplitSettings
from . import settings
from .log import show_error
from .output_layers import add_raster, add_vector
from .tasks import CoreTask


def layer_file(layer) -> tuple[str, str | None]:
    """The file and layer name behind a QGIS vector layer; core reads files, not QGIS layers."""
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path")
    if layer.providerType() != "ogr" or not path or not Path(path).exists():
        raise InputDataError(
            f"The layer '{layer.name()}' is not stored in a file. Save it first (right-click > Export > Save Features As)."
        )
    return path, parts.get("layerName") or None


class ReportDialog(QDialog):
    """The metrics report (report.html) with the baseline comparison."""

    def __init__(self, report: Path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Calliper report: {report.parent.name}")
        self.resize(760, 600)
        self.browser = QTextBrowser()
        self.browser.setSource(QUrl.fromLocalFile(str(report)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)


class ClassifyPanel(QWidget):
    """Runs core.landuse.classify in a task; outputs join the model's layer group."""

    def __init__(self, iface, current_model, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.current_model = current_model
        self.task: CoreTask | None = None
        self.result: ClassifyResult | None = None
        self.report_dialog: ReportDialog | None = None
        form = QFormLayout()
        self.labels = QgsMapLayerComboBox()
        self.labels.setFilters(QgsMapLayerProxyModel.VectorLayer)
        self.label_field = QgsFieldComboBox()
        self.labels.layerChanged.connect(self.label_field.setLayer)
        self.label_field.setLayer(self.labels.currentLayer())
        self.probe, self.split = QComboBox(), QComboBox()
        self.probe.addItems(["linear", "mlp"])
        self.split.addItems(["spatial", "random"])
        self.block_size = QDoubleSpinBox()
        self.block_size.setRange(1, 1e6)
        self.block_size.setSuffix(" m")
        self.block_size.setValue(settings.load("classify/block_size", 500.0, float))
        self.min_class_size = QSpinBox()
        self.min_class_size.setRange(2, 100_000)
        self.min_class_size.setValue(settings.load("classify/min_class_size", 2, int))
        self.class_raster = QCheckBox("Class raster over the model's training extent")
        self.class_raster.setChecked(True)
        self.pixel_size = QDoubleSpinBox()
        self.pixel_size.setRange(0.1, 1e5)
        self.pixel_size.setSuffix(" m")
        self.pixel_size.setValue(20.0)
        self.output_dir = QgsFileWidget()
        self.output_dir.setStorageMode(QgsFileWidget.GetDirectory)
        self.output_dir.setFilePath(settings.load("classify/output_dir", str(Path.home() / "calliper_outputs" / "landuse")))
        for label, widget in (("Label layer", self.labels), ("Class field", self.label_field), ("Probe", self.probe),
                              ("Split", self.split), ("Block size", self.block_size),
                              ("Smallest class", self.min_class_size), ("", self.class_raster),
                              ("Pixel size", self.pixel_size), ("Output folder", self.output_dir)):
            form.addRow(label, widget)
        self.classify_button = QPushButton("Classify")
        self.classify_button.clicked.connect(self.run)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.classify_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def study_settings(self, model) -> ClassifySettings:
        return ClassifySettings(
            labels=LabelSettings(min_class_size=self.min_class_size.value()),
            split=SplitSettings(kind=self.split.currentText(), block_size=self.block_size.value()),
            probe=ProbeSettings(kind=self.probe.currentText()),
            extent=tuple(model.card.training["extent"]) if self.class_raster.isChecked() else None,
            pixel_size=self.pixel_size.value() if self.class_raster.isChecked() else None,
            overwrite=True,
        )

    def run(self) -> None:
        if self.task is not None:
            return
        try:
            model = self.current_model()
            layer = self.labels.currentLayer()
            if layer is None or not self.label_field.currentField():
                raise CalliperError("Choose a label layer and its class field.")
            path, layer_name = layer_file(layer)
            study = self.study_settings(model)
            study.labels_layer = layer_name
        except CalliperError as error:
            show_error(self.iface, error)
            self.status.setText(error.message)
            return
        out_dir = Path(self.output_dir.filePath())
        field = self.label_field.currentField()
        for key, value in (("block_size", self.block_size.value()), ("min_class_size", self.min_class_size.value()),
                           ("output_dir", str(out_dir))):
            settings.save(f"classify/{key}", value)
        self.status.setText("Classifying (5 seeds, with baselines)…")

        def done(result: ClassifyResult) -> None:
            self.task = None
            self.result = result
            add_vector(result.outputs["predictions"], f"Predicted {field}", model.folder, model.card)
            if "classes" in result.outputs:
                add_raster(result.outputs["classes"], f"{field} classes", "classes", model.folder, model.card)
            f1 = result.metrics["methods"]["calliper"]["macro_f1"]
            self.status.setText(f"Macro F1 {f1['mean']:.3f} ± {f1['std']:.3f}; report: {result.outputs['report']}")
            self.report_dialog = ReportDialog(Path(result.outputs["report"]), self)
            self.report_dialog.show()

        def failed(error) -> None:
            self.task = None
            self.status.setText(getattr(error, "message", str(error)))
            show_error(self.iface, error)

        self.task = CoreTask("Calliper: classify", lambda control, publish: classify(model, path, field, out_dir, study, control),
                             done, failed)
        QgsApplication.taskManager().addTask(self.task)
