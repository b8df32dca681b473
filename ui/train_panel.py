"""The Train panel: pick a POI layer and its fields, preview descriptions, train in a QgsTask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from qgis.core import QgsApplication, QgsFeatureRequest, QgsFieldProxyModel, QgsMapLayerProxyModel
from qgis.gui import QgsCollapsibleGroupBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..adapters.layers import places_file_for, point_table_from_layer
from ..core.catalog.training import train_from_points
from ..core.context.graph import pbf_path, streets_option
from ..core.crs import parse_crs
from ..core.data.places_schemas import DEFAULT_MIN_CONFIDENCE, PlacesSettings
from ..core.data.streaming import PointSource
from ..core.errors import CalliperError
from ..core.model.pipeline import TrainJob, TrainOutcome
from ..core.model.settings import CONTEXT_ENCODER, ENCODER_LABELS, ModelSettings
from ..core.model.train import TrainSettings
from ..core.text.corpus import places_inputs
from ..core.text.descriptions import DEFAULT_TEMPLATE, TextFields, TextTemplate, build_texts
from . import settings
from .field_guess import POI_CATEGORY_FIELDS, POI_CLASS_FIELDS, POI_NAME_FIELDS, guess_field
from .fit import ButtonRow, StatusLabel
from .log import log, show_error
from .loss_plot import LossPlot
from .output_names import new_output
from .tasks import CoreTask

PREVIEW_FEATURES = 5000
PREVIEW_TEXTS = 5
STREETS_FIELD = "the Streets field"
STREETS_TIP = (
    "Only for the grid + context graph encoder: an OpenStreetMap extract (.osm.pbf) whose streets give every "
    "place in a location's graph its distance to the nearest street node and how many streets meet there. "
    "Filled in when the POI layer is read from an .osm.pbf; empty: no street features."
)
PLACES_TIP = (
    "An Overture Maps Places or Foursquare Open Source Places file (GeoParquet / Parquet), read in chunks without "
    "opening it as a layer (QGIS's GDAL may have no Parquet driver). Its class, category and name are known: "
    "the layer and field choices above are not used while a file is chosen."
)


def default_model_folder(layer_name: str, encoder: str) -> str:
    return str(new_output(Path.home() / "calliper_models", f"{layer_name}_{encoder}".replace(" ", "_"), ""))


class TrainPanel(QWidget):
    """Gathers a TrainJob from widgets and runs it; emits ``model_trained(folder)`` when done."""

    model_trained = pyqtSignal(str)

    def __init__(self, iface, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.task: CoreTask | None = None
        self.outcome: TrainOutcome | None = None
        self._build()
        self._restore()
        self.update_preview()

    def _build(self) -> None:
        form = QFormLayout()
        self.layer = QgsMapLayerComboBox()
        self.layer.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.selected_only = QCheckBox("Selected features only")
        self.class_field, self.category_field, self.name_field = QgsFieldComboBox(), QgsFieldComboBox(), QgsFieldComboBox()
        for combo in (self.category_field, self.name_field):
            combo.setAllowEmptyFieldName(True)
        for combo in (self.class_field, self.category_field, self.name_field):
            combo.setFilters(QgsFieldProxyModel.Filter.String | QgsFieldProxyModel.Filter.Numeric)
        self.template = QLineEdit()
        self.template.setPlaceholderText(f"default: {DEFAULT_TEMPLATE} (+ retail / manufacturing variants)")
        self.include_name = QCheckBox("Append names (CaLLiPer+)")
        self.include_name.setToolTip("Append each POI's name to its description when a name field is chosen, as long "
                                     "as the distinct descriptions stay cheap to encode (the log says which)")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setMaximumHeight(110)
        self.text_model = QgsFileWidget()
        self.text_model.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.text_model.lineEdit().setPlaceholderText("packaged all-MiniLM-L6-v2")
        self.encoder = QComboBox()
        for name, label in ENCODER_LABELS.items():
            self.encoder.addItem(label, name)
        self.streets = QgsFileWidget()
        self.streets.setFilter("OpenStreetMap extracts (*.osm.pbf *.pbf)")
        self.streets.setDialogTitle("OpenStreetMap extract with the streets")
        self.streets.setToolTip(STREETS_TIP)
        self.streets.lineEdit().setToolTip(STREETS_TIP)
        self._auto_streets = ""
        self.scales = QLabel("auto (from the layer's extent and POI spacing)")
        self.epochs, self.batch_size = QSpinBox(), QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.batch_size.setRange(0, 1_000_000)
        self.batch_size.setSpecialValueText("auto")
        self.batch_size.setToolTip("0 = auto: 1024 on a CPU, chosen from free memory on a GPU")
        self.device = QComboBox()
        self.places_file = QgsFileWidget()
        self.places_file.setFilter("Overture / Foursquare places (*.parquet *.geoparquet)")
        self.places_file.setDialogTitle("Places file (Parquet)")
        self.places_file.setToolTip(PLACES_TIP)
        self.level, self.min_confidence = QSpinBox(), QDoubleSpinBox()
        self.level.setRange(0, 9)
        self.level.setSpecialValueText("most specific")
        self.level.setToolTip("Places files: the category level that is the class (1 = the top level)")
        self.min_confidence.setRange(0.0, 1.0)
        self.min_confidence.setSingleStep(0.05)
        self.min_confidence.setValue(DEFAULT_MIN_CONFIDENCE)
        self.min_confidence.setToolTip(f"Places files: places under this confidence are left out (default "
                                       f"{DEFAULT_MIN_CONFIDENCE}; 0 keeps all)")
        self.output = QgsFileWidget()
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setDialogTitle("Model folder to write")
        for label, widget in (
            ("POI layer", self.layer), ("", self.selected_only), ("or places file", self.places_file),
            ("Class field", self.class_field),
            ("Category field", self.category_field), ("Name field", self.name_field), ("", self.include_name),
            ("Descriptions", self.preview), ("Location encoder", self.encoder), ("Epochs", self.epochs),
            ("Model folder", self.output),
        ):
            form.addRow(label, widget)
        self.advanced = QgsCollapsibleGroupBox("Advanced")
        self.advanced.setSettingGroup("calliper_train_advanced")  # open or closed as the user left it
        self.advanced.setCollapsed(True)
        advanced_form = QFormLayout(self.advanced)
        for label, widget in (
            ("Template", self.template), ("Text model", self.text_model), ("Streets (.osm.pbf)", self.streets),
            ("Scales", self.scales), ("Batch size", self.batch_size), ("Device", self.device),
            ("Category level", self.level), ("Min. confidence", self.min_confidence),
        ):
            advanced_form.addRow(label, widget)
        self.train_button, self.cancel_button = QPushButton("Train"), QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons = ButtonRow(self.train_button, self.cancel_button)
        self.progress = QProgressBar()
        self.status = StatusLabel()
        self.loss_plot = LossPlot()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        layout.addWidget(buttons)
        for widget in (self.progress, self.status, self.loss_plot):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.layer.layerChanged.connect(self._layer_changed)
        self.encoder.currentIndexChanged.connect(self._encoder_changed)
        for combo in (self.class_field, self.category_field, self.name_field):
            combo.fieldChanged.connect(self.update_preview)
        self.template.textChanged.connect(self.update_preview)
        self.include_name.toggled.connect(self.update_preview)
        self.selected_only.toggled.connect(self.update_preview)
        self.places_file.fileChanged.connect(self._places_changed)
        self.level.valueChanged.connect(self.update_preview)
        self.min_confidence.valueChanged.connect(self.update_preview)
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button.clicked.connect(self.cancel)

    def _restore(self) -> None:
        self.epochs.setValue(settings.load("train/epochs", 100, int))
        self.batch_size.setValue(settings.load("train/batch_size", 0, int))
        self.encoder.setCurrentIndex(max(self.encoder.findData(settings.load("train/encoder", "grid")), 0))
        self.include_name.setChecked(settings.load("train/include_name", "true") == "true")
        self.template.setText(settings.load("train/template", ""))
        self.streets.setFilePath(settings.load("train/streets", ""))
        self._encoder_changed()
        self._layer_changed(self.layer.currentLayer())

    def refresh_devices(self) -> None:
        """Fill the device list; CUDA is shown greyed out with the reason when absent."""
        from ..core.devices import cuda_status

        available, detail = cuda_status()
        self.device.clear()
        self.device.addItems(["Auto", "CPU", "CUDA" if available else "CUDA: unavailable"])
        self.device.setItemData(2, detail, Qt.ItemDataRole.ToolTipRole)
        self.device.setToolTip(f"CUDA: {detail}")
        self.device.model().item(2).setEnabled(available)
        self.device.setCurrentIndex(0)

    def _progress(self, value: float) -> None:
        self.progress.setValue(int(value))

    def _torn_down(self) -> bool:
        """True once Qt has deleted this panel's widgets (a closed dock): project signals may still arrive."""
        return any(sip.isdeleted(widget) for widget in (self, self.layer, self.class_field, self.category_field,
                                                          self.name_field, self.preview))

    def _layer_changed(self, layer) -> None:
        if self._torn_down():
            return
        for combo in (self.class_field, self.category_field, self.name_field):
            combo.setLayer(layer)
        if layer is not None:
            guess_field(self.class_field, layer, POI_CLASS_FIELDS, text_only=True)
            guess_field(self.category_field, layer, POI_CATEGORY_FIELDS)
            guess_field(self.name_field, layer, POI_NAME_FIELDS)
            self.output.setFilePath(default_model_folder(layer.name(), self.encoder.currentData()))
        self._fill_streets(layer)
        self._check_layer_crs(layer)
        self.update_preview()

    def _check_layer_crs(self, layer) -> None:
        """Say before Train is enabled when the layer's CRS cannot be placed on the Earth (or is missing)."""
        problem = ""
        if layer is not None:
            extent = layer.extent()
            corners = np.array([[extent.xMinimum(), extent.yMinimum()], [extent.xMaximum(), extent.yMaximum()]])
            try:
                parse_crs(layer.crs().toWkt() if layer.crs().isValid() else None, f"The layer '{layer.name()}'",
                          corners)
            except CalliperError as error:
                problem = error.message
        if self.task is None:
            self.train_button.setEnabled(not problem)
        self.train_button.setToolTip(problem or "Train a model on the chosen layer")
        if problem or self.status.text().startswith("The layer '"):
            self.status.setText(problem)

    def _encoder_changed(self) -> None:
        self.streets.setEnabled(self.encoder.currentData() == CONTEXT_ENCODER)

    def _fill_streets(self, layer) -> None:
        """Offer the POI layer's own .osm.pbf as streets, unless the user chose a file of their own."""
        current = self.streets.filePath().strip()
        if current and current != self._auto_streets:
            return
        self._auto_streets = (pbf_path(layer.source()) if layer is not None else None) or ""
        self.streets.setFilePath(self._auto_streets)

    def fields(self) -> TextFields:
        return TextFields(self.class_field.currentField(), self.category_field.currentField() or None,
                          self.name_field.currentField() or None)

    def text_template(self) -> TextTemplate:
        return TextTemplate(template=self.template.text().strip() or None, include_name=None if self.include_name.isChecked() else False)

    def _places_changed(self) -> None:
        """A picked places file replaces the layer and its fields; an emptied one gives them back."""
        picked = bool(self.places_file.filePath().strip())
        for widget in (self.layer, self.selected_only, self.class_field, self.category_field, self.name_field):
            widget.setEnabled(not picked)
        if picked:
            self.output.setFilePath(default_model_folder(Path(self.places_file.filePath()).stem, self.encoder.currentData()))
            if self.task is None:
                self.train_button.setEnabled(True)
            self.train_button.setToolTip("Train a model on the chosen places file")
            self.update_preview()
        else:
            self._layer_changed(self.layer.currentLayer())

    def places_job_inputs(self) -> tuple[PointSource, TextFields, TextTemplate] | None:
        """(file, fields, template) when training reads a places file: the one picked, or the layer's own Parquet."""
        path = places_file_for(self.places_file.filePath().strip(), self.layer.currentLayer())
        if path is None:
            return None
        template = self.text_template()
        places = PlacesSettings(self.level.value() or None, self.min_confidence.value())
        return places_inputs(path, places, template.template, template.include_name)

    def _preview_places(self, inputs: tuple[PointSource, TextFields, TextTemplate]) -> None:
        """The descriptions of a places file's first rows, and how many were left out."""
        source, fields, template = inputs
        first = PointSource(source.path, chunk_rows=PREVIEW_FEATURES, places=source.places)
        chunk = next(first.chunks(), None)
        attributes = chunk.attributes if chunk is not None else pd.DataFrame(columns=[fields.class_field])
        texts = build_texts(attributes, fields, template, f"the file {source.path.name}")
        left_out = ", ".join(f"{count} {reason}" for reason, count in (chunk.left_out if chunk else {}).items() if count)
        self._show_texts(texts, len(attributes), f"{source.places_schema.label}" + (f"; left out: {left_out}" if left_out
                                                                                    else ""))

    def _show_texts(self, texts, n_rows: int, note: str = "") -> None:
        scope = f"the first {n_rows}" if n_rows >= PREVIEW_FEATURES else f"{n_rows}"
        self.preview.setPlainText(
            "\n".join(texts.texts[:PREVIEW_TEXTS]) + f"\n… {len(texts.texts)} distinct descriptions from {scope} POIs"
            + (f", {texts.dropped} without a class" if texts.dropped else "") + (f" ({note})" if note else "")
        )

    def update_preview(self) -> None:
        """Show the first descriptions and the number of distinct ones (over the first features)."""
        if self._torn_down():
            return
        try:
            inputs = self.places_job_inputs()
            if inputs is not None:
                self._preview_places(inputs)
                return
        except CalliperError as error:
            self.preview.setPlainText(error.message)
            return
        layer = self.layer.currentLayer()
        if layer is None or not self.class_field.currentField():
            self.preview.setPlainText("Choose a POI layer and its class field.")
            return
        request = QgsFeatureRequest().setLimit(PREVIEW_FEATURES).setFlags(QgsFeatureRequest.Flag.NoGeometry)
        features = layer.getSelectedFeatures(request) if self.selected_only.isChecked() else layer.getFeatures(request)
        rows = [[None if v is None or (hasattr(v, "isNull") and v.isNull()) else v for v in f.attributes()] for f in features]
        try:
            texts = build_texts(pd.DataFrame(rows, columns=layer.fields().names()), self.fields(), self.text_template(),
                                f"the layer '{layer.name()}'")
        except CalliperError as error:
            self.preview.setPlainText(error.message)
            return
        self._show_texts(texts, len(rows))

    def build_job(self) -> TrainJob:
        layer = self.layer.currentLayer()
        inputs = self.places_job_inputs()
        if layer is None and inputs is None:
            raise CalliperError("Choose a POI layer or a places file to train on.")
        out = self.output.filePath().strip()
        if not out:
            raise CalliperError("Choose a folder to write the model to.")
        device = ("auto", "cpu", "cuda")[max(self.device.currentIndex(), 0)]
        encoder = self.encoder.currentData()
        # A file left in the disabled field belongs to the context encoder only. The field already shows
        # the layer's own extract (see _fill_streets), so an emptied field means no street features.
        streets = self.streets.filePath() if encoder == CONTEXT_ENCODER else None
        options, _ = streets_option(encoder, streets, None, STREETS_FIELD)
        if inputs is not None:  # a places file, streamed in chunks
            points, fields, template = inputs
            name = f"the file {points.path.name}"
        else:
            points, fields, template = point_table_from_layer(layer, self.selected_only.isChecked()), self.fields(), \
                self.text_template()
            name = f"the layer '{layer.name()}'"
        return TrainJob(
            points=points,
            fields=fields,
            out=Path(out),
            template=template,
            model=ModelSettings(encoder=encoder, encoder_options=options),
            train=TrainSettings(epochs=self.epochs.value(), batch_size=self.batch_size.value() or None, device=device),
            text_model=self.text_model.filePath().strip() or None,
            layer_name=name,
        )

    def _remember(self) -> None:
        settings.save("train/epochs", self.epochs.value())
        settings.save("train/batch_size", self.batch_size.value())
        settings.save("train/encoder", self.encoder.currentData())
        settings.save("train/include_name", "true" if self.include_name.isChecked() else "false")
        settings.save("train/template", self.template.text())
        # The layer's own extract is offered again from the next layer; a file the user chose is kept.
        streets = self.streets.filePath().strip()
        settings.save("train/streets", "" if streets == self._auto_streets else streets)

    def start_training(self) -> None:
        try:
            job = self.build_job()
        except CalliperError as error:
            show_error(self.iface, error)
            self.status.setText(error.message)
            return
        self._remember()
        self.loss_plot.clear()
        self.progress.setValue(0)
        self.status.setText("Training…")
        task = CoreTask("Calliper: train model", lambda control, publish: train_from_points(job, control, publish),
                        self._done, self._failed)
        task.progressChanged.connect(self._progress)  # a bound method: Qt drops it when the panel goes
        task.report.connect(self._epoch)
        self.task = task
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        QgsApplication.taskManager().addTask(task)

    def _epoch(self, report) -> None:
        self.loss_plot.add(report.train_loss, report.val_loss)
        self.status.setText(
            f"Epoch {report.epoch}/{report.epochs}: train {report.train_loss:.4f}, validation {report.val_loss:.4f} "
            f"(best {report.best_val_loss:.4f}), about {report.eta_seconds:.0f} s left"
        )

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _finish(self) -> None:
        self.task = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _done(self, outcome: TrainOutcome) -> None:
        self._finish()
        self.outcome = outcome
        metrics = outcome.card.metrics
        self.status.setText(
            f"Model written to {outcome.folder}: best validation loss {metrics['best_val_loss']:.4f} "
            f"at epoch {metrics['best_epoch']}, {metrics['seconds']:.0f} s on {outcome.result.device}."
        )
        log(self.status.text())
        if outcome.result.device_note:
            self.iface.messageBar().pushWarning("Calliper", outcome.result.device_note)
        self.model_trained.emit(str(outcome.folder))

    def _failed(self, error: Exception) -> None:
        self._finish()
        self.progress.setValue(0)
        self.status.setText(getattr(error, "message", str(error)))
        show_error(self.iface, error)
