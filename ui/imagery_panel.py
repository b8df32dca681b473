"""The Imagery panel: region embeddings from an image layer and a POI layer (MMGR), and maps made from them.

Training runs as a QgsTask; its outputs (region-embedding raster, RGB preview and a
cluster map named by POI classes) join a layer group named after the model folder.
A phrase then gives a similarity map read from the latest region raster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from qgis.core import QgsMapLayerProxyModel, QgsProcessingException, QgsRaster
from qgis.gui import QgsCheckableComboBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..adapters.layer_files import raster_file
from ..adapters.output_layers import add_raster
from ..core.errors import CalliperError, InputDataError
from ..core.imagery.tiles import MAX_TILE_PIXELS, MIN_TILE_PIXELS
from . import settings
from .field_guess import POI_CATEGORY_FIELDS, POI_CLASS_FIELDS, guess_field
from .fit import StatusLabel
from .log import show_error
from .output_names import new_output, slug
from .tasks import CoreTask, TaskProgress, start_panel_task

DEFAULT_CLUSTERS = 6


class ImageryPanel(QWidget):
    """Needs ``current_model_folder()``: the CaLLiPer model the tie term may share a space with."""

    layer_added = pyqtSignal(object)

    def __init__(self, iface, current_model_folder: Callable[[], str], parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.current_model_folder = current_model_folder
        self.task: CoreTask | None = None
        self.region_path: Path | None = None
        self.model_folder: Path | None = None
        self._build()

    def _build(self) -> None:
        form = QFormLayout()
        self.image = QgsMapLayerComboBox()
        self.image.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.bands = QgsCheckableComboBox()
        self.pois = QgsMapLayerComboBox()
        self.pois.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.class_field, self.category_field = QgsFieldComboBox(), QgsFieldComboBox()
        self.category_field.setAllowEmptyFieldName(True)
        self.tile_metres = QDoubleSpinBox()
        self.tile_metres.setRange(1.0, 10_000.0)
        self.tile_metres.setSuffix(" m")
        self.tile_metres.setValue(settings.load("imagery/tile_metres", 64.0, float))
        self.tile_pixels = QSpinBox()
        self.tile_pixels.setRange(MIN_TILE_PIXELS, MAX_TILE_PIXELS)
        self.tile_pixels.setSuffix(" px")
        self.tile_pixels.setValue(settings.load("imagery/tile_pixels", 64, int))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setValue(settings.load("imagery/epochs", 30, int))
        self.tie = QCheckBox("Tie to the CaLLiPer model")
        self.tie.setToolTip("Share the space of the current CaLLiPer model (a tie term in the loss)")
        self.output_dir = QgsFileWidget()
        self.output_dir.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output_dir.setFilePath(settings.load("imagery/output_dir", str(Path.home() / "calliper_outputs" / "imagery")))
        for label, widget in (("Image", self.image), ("Bands", self.bands), ("POI layer", self.pois),
                              ("Class field", self.class_field), ("Category field", self.category_field),
                              ("Tile size", self.tile_metres), ("Tile pixels", self.tile_pixels),
                              ("Epochs", self.epochs), ("", self.tie), ("Output folder", self.output_dir)):
            form.addRow(label, widget)
        self.train_button = QPushButton("Train MMGR + region maps")
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText("Find tiles like… e.g. a park, restaurants")
        self.phrase_button = QPushButton("Find")
        phrase_row = QHBoxLayout()
        phrase_row.addWidget(self.phrase, 1)
        phrase_row.addWidget(self.phrase_button)
        self.progress = TaskProgress()
        self.status = StatusLabel("Choose an image layer and a POI layer, then train.")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.train_button)
        layout.addLayout(phrase_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.image.layerChanged.connect(self._image_changed)
        self.pois.layerChanged.connect(self._pois_changed)
        self.train_button.clicked.connect(self.train)
        self.phrase_button.clicked.connect(self.find_phrase)
        self.phrase.returnPressed.connect(self.find_phrase)
        self._image_changed(self.image.currentLayer())
        self._pois_changed(self.pois.currentLayer())

    def _image_changed(self, layer) -> None:
        self.bands.clear()
        if layer is None:
            return
        names = [layer.bandName(band) for band in range(1, layer.bandCount() + 1)]
        self.bands.addItems(names)
        provider = layer.dataProvider()  # transparency is a mask, not data: alpha starts unticked
        colours = [name for band, name in enumerate(names, start=1)
                   if provider.colorInterpretation(band) != QgsRaster.ColorInterpretation.AlphaBand]
        self.bands.setCheckedItems(colours or names)

    def _pois_changed(self, layer) -> None:
        self.class_field.setLayer(layer)
        self.category_field.setLayer(layer)
        guess_field(self.class_field, layer, POI_CLASS_FIELDS, text_only=True)
        guess_field(self.category_field, layer, POI_CATEGORY_FIELDS)

    def chosen_bands(self) -> tuple[int, ...] | None:
        """1-based bands ticked in the picker; None when all are (the image's every band)."""
        ticked = set(self.bands.checkedItems())
        names = [self.bands.itemText(i) for i in range(self.bands.count())]
        chosen = tuple(i + 1 for i, name in enumerate(names) if name in ticked)
        return None if len(chosen) == len(names) else chosen

    def _job(self):
        """The MMGR job from the widgets (read on the main thread: layers are not thread-safe)."""
        from ..adapters.layers import point_table_from_layer
        from ..core.imagery.loss import LossWeights
        from ..core.imagery.tiles import ImagerySettings
        from ..core.imagery.train import MMGRJob, MMGRTrainSettings
        from ..core.text.descriptions import TextFields

        image, pois = self.image.currentLayer(), self.pois.currentLayer()
        if image is None or pois is None or not self.class_field.currentField():
            raise CalliperError("Choose an image layer, a POI layer and its class field.")
        if not self.bands.checkedItems():
            raise InputDataError("Tick at least one band of the image.")
        try:
            image_path = raster_file(image, "image")
        except QgsProcessingException as error:
            raise InputDataError(str(error)) from error
        calliper = self.current_model_folder() if self.tie.isChecked() else ""
        if self.tie.isChecked() and not calliper:
            raise CalliperError("The tie term needs a CaLLiPer model: pick one above or untick the option.")
        folder = Path(self.output_dir.filePath() or Path.home() / "calliper_outputs" / "imagery")
        for key, value in (("tile_metres", self.tile_metres.value()), ("tile_pixels", self.tile_pixels.value()),
                           ("epochs", self.epochs.value()), ("output_dir", str(folder))):
            settings.save(f"imagery/{key}", value)
        return MMGRJob(
            image=Path(image_path), points=point_table_from_layer(pois),
            fields=TextFields(self.class_field.currentField(), self.category_field.currentField() or None),
            out=new_output(folder, "mmgr", ""),
            imagery=ImagerySettings(bands=self.chosen_bands(), tile_metres=self.tile_metres.value(),
                                    tile_pixels=self.tile_pixels.value()),
            train=MMGRTrainSettings(epochs=self.epochs.value(), loss=LossWeights(tie=0.5 if calliper else 0.0)),
            calliper_model=Path(calliper) if calliper else None,
            layer_name=f"the layer '{pois.name()}'",
        )

    def train(self) -> None:
        from ..core.imagery.region_maps import mmgr_cluster_names, write_region_raster
        from ..core.imagery.train import train_mmgr
        from ..core.maps.clusters import ClusterSettings, cluster_raster
        from ..core.maps.rasters import rgb_preview

        try:
            job = self._job()
        except CalliperError as error:
            show_error(self.iface, error)
            self.status.setText(error.message)
            return

        def work(control):
            outcome = train_mmgr(job, control.part(0.0, 0.85))
            model = outcome.model
            region = write_region_raster(model, outcome.tiles, outcome.embeddings, outcome.folder / "region.tif",
                                         control.part(0.85, 0.9))
            rgb = rgb_preview(region, outcome.folder / "region_rgb.tif", control=control.part(0.9, 0.95))
            clusters = cluster_raster(
                region, outcome.folder / "region_clusters.tif", lambda centres, n: mmgr_cluster_names(model, centres, n),
                ClusterSettings(k=DEFAULT_CLUSTERS), control.part(0.95, 1.0),
            )
            return outcome, region, rgb, clusters

        def done(result) -> None:
            outcome, region, rgb, clusters = result
            self.region_path, self.model_folder = Path(region), outcome.folder
            card = outcome.card
            add_raster(region, f"Region embedding ({card.settings.embed_dim} bands)", "embedding", outcome.folder, card,
                       visible=False)
            self.layer_added.emit(add_raster(rgb, "Region RGB preview (PCA)", "rgb", outcome.folder, card))
            self.layer_added.emit(add_raster(clusters.raster, f"Region clusters (k={DEFAULT_CLUSTERS})", "clusters",
                                             outcome.folder, card))
            match = card.metrics["poi_match"]
            self.status.setText(
                f"{len(outcome.tiles.index)} tiles ({outcome.tiles.skipped} without data skipped), "
                f"{card.metrics['seconds_per_epoch']:.1f} s per epoch; each tile's own POI set ranked first for "
                f"{100 * match['top1']:.1f} % of tiles. Clusters: "
                + "; ".join(f"{entry.value}: {entry.label}" for entry in clusters.legend)
            )

        start_panel_task(self, "MMGR training", work, done)

    def find_phrase(self) -> None:
        from ..core.imagery.files import load_mmgr
        from ..core.imagery.region_maps import mmgr_text_query
        from ..core.maps.similarity import similarity_raster

        phrase = self.phrase.text().strip()
        if self.region_path is None or not self.region_path.exists():
            show_error(self.iface, CalliperError("Train MMGR first: the phrase is compared with its region raster."))
            return
        region, folder = self.region_path, self.model_folder
        out = new_output(region.parent, f"similarity_{slug(phrase)}", ".tif")

        def work(control):
            model = load_mmgr(folder)
            return model, similarity_raster(None, region, mmgr_text_query(model, phrase), out, control)

        def done(result) -> None:
            model, path = result
            self.layer_added.emit(add_raster(path, f"Tiles like '{phrase}'", "similarity", folder, model.card))
            self.status.setText(f"Tiles like '{phrase}': {path}")

        start_panel_task(self, f"tiles like '{phrase}'", work, done)
