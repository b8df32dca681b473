"""The Classify panel: a label layer -> prediction layer, class raster and a metrics report.

Targets are classes (one field), a value (one numeric field, regression) or shares
(several numeric fields forming a distribution per unit, as in the paper's
socioeconomic task).
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsApplication, QgsMapLayerProxyModel, QgsProcessingContext, QgsProcessingException, QgsProject
from qgis.gui import QgsCheckableComboBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..adapters.layer_files import raster_file, vector_file
from ..adapters.output_layers import add_raster, add_vector
from ..core.errors import CalliperError, InputDataError
from ..core.landuse.labels import LabelSettings
from ..core.landuse.probes import ProbeSettings
from ..core.landuse.report import method_label, outputs_method
from ..core.landuse.splits import SplitSettings
from ..core.landuse.study import ClassifySettings, StudyResult, classify, predict_values
from ..core.landuse.unit_features import CalliperFeatures, ConcatFeatures, RasterFeatures
from . import settings
from .field_guess import LABEL_FIELDS, guess_field
from .fit import StatusLabel
from .log import show_error
from .tasks import CoreTask, TaskProgress


def study_source(model, region_layer):
    """The model alone, or the region raster (MMGR) concatenated with it when one is chosen."""
    if region_layer is None:
        return model
    try:
        region = raster_file(region_layer, "region raster")
    except QgsProcessingException as error:
        raise InputDataError(str(error)) from error
    return ConcatFeatures([RasterFeatures(Path(region)), CalliperFeatures(model)])


def label_source(layer) -> tuple[str, str | None]:
    """The file (and layer name) core reads for ``layer``; memory, database or filtered layers are copied first."""
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    try:
        source = vector_file(layer, context)
    except QgsProcessingException as error:
        raise InputDataError(str(error)) from error
    return source.path, source.layer


class ReportDialog(QDialog):
    """The metrics report (report.html) with the baseline comparison.

    Qt's text browser shows the tables but not the inline SVG figures (confusion heat
    grid, F1 per class, the test map), so the whole page is one click away in the
    system's web browser.
    """

    def __init__(self, report: Path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Calliper report: {report.parent.name}")
        self.resize(760, 600)
        self.report = report
        self.browser = QTextBrowser()
        self.browser.setSource(QUrl.fromLocalFile(str(report)))
        self.open_button = QPushButton("Open with the figures in a web browser")
        self.open_button.clicked.connect(self.open_in_browser)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(self.open_button)

    def open_in_browser(self) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report)))


TARGETS = ("Classes (one field)", "Value (one numeric field)", "Shares (several numeric fields)")
PRIMARY_METRIC = {"class": ("macro_f1", "Macro F1"), "value": ("r2", "R²"), "distribution": ("kl", "KL divergence")}


def outcome_line(metrics: dict) -> str:
    """The test score of the method the outputs use and, for classes, its margin over the best method without
    the model: the figure that says whether the model counts, not the plain embedding's score."""
    metric, label = PRIMARY_METRIC[metrics.get("task", "class")]
    method = outputs_method(metrics)
    score = metrics["methods"][method][metric]
    text = f"Outputs by {method_label(method)}: test {label} {score['mean']:.3f} ± {score['std']:.3f}"
    line = metrics.get("headline")
    if not line:
        return text
    if method == line["best_without_model"]:
        return f"{text}, the best method without the model: the model added nothing measurable"
    return (f"{text}; {line['margin_macro_f1']:+.3f} over the best without the model "
            f"({method_label(line['best_without_model'])}, {line['seeds_clearing']}/{line['n_seeds']} seeds ≥ +0.01)")


class ClassifyPanel(QWidget):
    """Runs core.landuse.classify in a task; outputs join the model's layer group."""

    def __init__(self, iface, current_model, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.current_model = current_model
        self.task: CoreTask | None = None
        self.result: StudyResult | None = None
        self.report_dialog: ReportDialog | None = None
        form = QFormLayout()
        self.labels = QgsMapLayerComboBox()
        self.labels.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.region = QgsMapLayerComboBox()
        self.region.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.region.setAllowEmptyLayer(True)
        self.region.setLayer(None)
        self.region.setToolTip("A region raster from the Imagery tab (MMGR): its embeddings join the model's.")
        self.target = QComboBox()
        self.target.addItems(TARGETS)
        self.label_field = QgsFieldComboBox()
        self.share_fields = QgsCheckableComboBox()
        self.labels.layerChanged.connect(self._layer_changed)
        self.target.currentIndexChanged.connect(self._target_changed)
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
        self.class_raster = QCheckBox("Class raster")
        self.class_raster.setToolTip("Also paint the predicted class of every pixel over the model's training extent")
        self.class_raster.setChecked(True)
        self.pixel_size = QDoubleSpinBox()
        self.pixel_size.setRange(0.1, 1e5)
        self.pixel_size.setSuffix(" m")
        self.pixel_size.setValue(20.0)
        self.output_dir = QgsFileWidget()
        self.output_dir.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output_dir.setFilePath(settings.load("classify/output_dir", str(Path.home() / "calliper_outputs" / "landuse")))
        for label, widget in (("Label layer", self.labels), ("Also region raster", self.region),
                              ("Target", self.target), ("Field", self.label_field),
                              ("Share fields", self.share_fields), ("Probe", self.probe),
                              ("Split", self.split), ("Block size", self.block_size),
                              ("Smallest class", self.min_class_size), ("", self.class_raster),
                              ("Pixel size", self.pixel_size), ("Output folder", self.output_dir)):
            form.addRow(label, widget)
        self.classify_button = QPushButton("Classify")
        self.classify_button.clicked.connect(self.run)
        self.status = StatusLabel()
        self.progress = TaskProgress()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.classify_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._layer_changed(self.labels.currentLayer())
        self._target_changed()

    def _layer_changed(self, layer) -> None:
        self.label_field.setLayer(layer)
        guess_field(self.label_field, layer, LABEL_FIELDS, text_only=True)
        self.share_fields.clear()
        if layer is not None:
            self.share_fields.addItems([f.name() for f in layer.fields() if f.isNumeric()])

    def _target_changed(self) -> None:
        shares = self.target.currentIndex() == 2
        self.share_fields.setEnabled(shares)
        self.label_field.setEnabled(not shares)
        self.class_raster.setEnabled(self.target.currentIndex() == 0)

    def fields(self) -> list[str]:
        if self.target.currentIndex() == 2:
            return list(self.share_fields.checkedItems())
        return [self.label_field.currentField()] if self.label_field.currentField() else []

    def study_settings(self, model) -> ClassifySettings:
        return ClassifySettings(
            labels=LabelSettings(min_class_size=self.min_class_size.value()),
            split=SplitSettings(kind=self.split.currentText(), block_size=self.block_size.value()),
            probe=ProbeSettings(kind=self.probe.currentText()),
            extent=tuple(model.card.training["extent"]) if self._wants_raster() else None,
            pixel_size=self.pixel_size.value() if self._wants_raster() else None,
            overwrite=True,
        )

    def _wants_raster(self) -> bool:
        return self.target.currentIndex() == 0 and self.class_raster.isChecked()

    def run(self) -> None:
        if self.task is not None:
            return
        try:
            model = self.current_model()
            layer = self.labels.currentLayer()
            fields = self.fields()
            if layer is None or not fields:
                raise CalliperError("Choose a label layer and its target field(s).")
            path, layer_name = label_source(layer)
            study = self.study_settings(model)
            study.labels_layer = layer_name
            source = study_source(model, self.region.currentLayer())
        except CalliperError as error:
            show_error(self.iface, error)
            self.status.setText(error.message)
            return
        out_dir = Path(self.output_dir.filePath())
        name = fields[0] if len(fields) == 1 else "shares"
        is_class = self.target.currentIndex() == 0
        for key, value in (("block_size", self.block_size.value()), ("min_class_size", self.min_class_size.value()),
                           ("output_dir", str(out_dir))):
            settings.save(f"classify/{key}", value)
        self.status.setText("Running the study (5 seeds, with baselines)…")

        def done(result: StudyResult) -> None:
            self.task = None
            self.progress.done()
            self.result = result
            add_vector(result.outputs["predictions"], f"Predicted {name}", model.folder, model.card)
            if "classes" in result.outputs:
                add_raster(result.outputs["classes"], f"{name} classes", "classes", model.folder, model.card)
            self.status.setText(outcome_line(result.metrics) + f"; report: {result.outputs['report']}")
            self.report_dialog = ReportDialog(Path(result.outputs["report"]), self)
            self.report_dialog.show()

        def failed(error) -> None:
            self.task = None
            self.progress.done()
            self.status.setText(getattr(error, "message", str(error)))
            show_error(self.iface, error)

        def work(control, publish):
            if is_class:
                return classify(source, path, fields[0], out_dir, study, control)
            return predict_values(source, path, fields, out_dir, study, control)

        self.task = CoreTask("Calliper: classify" if is_class else "Calliper: predict values", work, done, failed)
        self.progress.watch(self.task)
        QgsApplication.taskManager().addTask(self.task)
