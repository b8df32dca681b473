"""The Maps panel: embedding raster + RGB preview, similarity from a click or a phrase, clusters.

Each job runs as a QgsTask; its outputs become styled layers in the model's group.
The latest embedding raster is reused by every similarity and cluster query, so a
click only reads it (no model inference over the whole extent). An embedding raster
is named after its model and grid, so one that was cancelled (or lost to a crash)
resumes from its finished blocks when it is made again with the same settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from qgis.core import QgsCoordinateReferenceSystem, QgsMapLayerProxyModel, QgsPointXY
from qgis.gui import (
    QgsCollapsibleGroupBox,
    QgsExtentWidget,
    QgsFileWidget,
    QgsMapLayerComboBox,
    QgsMapToolEmitPoint,
    QgsVertexMarker,
)
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..adapters.layers import point_table_from_layer
from ..adapters.output_layers import add_raster, add_vector
from ..adapters.ranked_layer import style_ranked, write_ranked_layer
from ..core.context.ranking import text_scores
from ..core.errors import CalliperError
from ..core.maps.blocks import fingerprint
from ..core.maps.clusters import ClusterSettings, cluster_raster
from ..core.maps.grid import RasterGrid, estimate_raster
from ..core.maps.rasters import embedding_grid, embedding_raster, raster_mask, rgb_preview
from ..core.maps.similarity import location_query, phrase_raster, similarity_raster
from ..core.model.evidence import load_evidence
from ..core.model.files import LoadedModel
from ..core.model.settings import CONTEXT_ENCODER
from . import settings
from .describe_panel import DescribePanel
from .fit import ButtonRow, StatusLabel
from .log import show_error
from .map_marker import click_marker
from .output_names import new_output, slug
from .profiles_panel import AcrossCitiesPanel
from .tasks import CoreTask, TaskProgress, start_panel_task

PHRASE_MAP_CHOICES = (("Matched POIs (default)", "evidence"), ("Model only", "model"))

# Measured by bench/raster_speed.py on a 2-core CPU (whole write, compression included);
# only used for the "about N s" hint.
CPU_PIXELS_PER_SECOND = 70_000
# The context-graph encoder gathers each pixel's neighbourhood: 1,500 to 6,000
# locations/s in bench/ranking.py on the same CPU.
CONTEXT_PIXELS_PER_SECOND = 4_000


def raster_stem(model: LoadedModel, grid: RasterGrid) -> str:
    """A file stem fixed by the model and the grid, so an interrupted raster is found again and resumed."""
    digest = fingerprint({
        "model": str(Path(model.folder).absolute()), "created": model.card.created, "crs": grid.crs.to_wkt(),
        "size": [grid.width, grid.height], "transform": list(grid.transform)[:6],
    })
    return f"embedding_{digest[:12]}"


class MapsPanel(QWidget):
    """Needs a model provider: a callable returning the current LoadedModel (or raising CalliperError)."""

    layer_added = pyqtSignal(object)

    def __init__(self, iface, current_model, parent=None) -> None:
        super().__init__(parent)
        self.iface = iface
        self.current_model = current_model
        self.task: CoreTask | None = None
        self.embedding_path: Path | None = None
        self.marker: QgsVertexMarker | None = None
        self.map_tool = QgsMapToolEmitPoint(iface.mapCanvas())
        self.map_tool.canvasClicked.connect(self.similarity_at)
        self._build()

    def _build(self) -> None:
        form = QFormLayout()
        canvas = self.iface.mapCanvas()
        self.extent = QgsExtentWidget(None, QgsExtentWidget.WidgetStyle.CondensedStyle)
        self.extent.setMapCanvas(canvas)
        self.extent.setOriginalExtent(canvas.extent(), canvas.mapSettings().destinationCrs())
        self.extent.setOutputCrs(canvas.mapSettings().destinationCrs())
        self.extent.setOutputExtentFromOriginal()
        self.extent.setToolTip("The extent to map: the canvas, a layer's extent, or drawn on the canvas (the … button)")
        self.pixel_size = QDoubleSpinBox()
        self.pixel_size.setRange(0.1, 100_000)
        self.pixel_size.setSuffix(" m")
        self.pixel_size.setValue(settings.load("maps/pixel_size", 10.0, float))
        self.size_hint = StatusLabel()
        self.near_pois = QCheckBox("Near POIs only")
        self.near_pois.setChecked(settings.load("maps/near_pois", "true") == "true")
        self.near_pois.setToolTip("Compute pixels only within this distance of the POIs the model learned from: "
                                  "elsewhere (the sea, fields) it has no evidence and paints stripes. "
                                  "Unchecked: the whole extent.")
        self.near_distance = QDoubleSpinBox()
        self.near_distance.setRange(1, 100_000)
        self.near_distance.setSuffix(" m")
        self.near_distance.setToolTip("Chosen from the POIs' spacing when a model is picked; editable")
        self.workers = QSpinBox()
        self.workers.setRange(1, os.cpu_count() or 1)
        self.workers.setValue(min(settings.load("maps/workers", 1, int), self.workers.maximum()))
        self.workers.setToolTip("Processes computing blocks of the embedding raster at once (CPU models only); "
                                "each loads its own copy of the model.")
        self.output_dir = QgsFileWidget()
        self.output_dir.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output_dir.setFilePath(settings.load("maps/output_dir", str(Path.home() / "calliper_outputs")))
        self.raster_button = QPushButton("Embedding raster")
        self.raster_button.setToolTip("The model's embedding of every pixel (one band per dimension) and an RGB "
                                      "preview of its first three principal components")
        self.click_button = QPushButton("Click a point")
        self.click_button.setCheckable(True)
        self.click_button.setToolTip("Click on the map: similarity of every pixel to that place")
        self.feature_button = QPushButton("Selected feature")
        self.feature_button.setToolTip("Similarity of every pixel to the selected feature of the active layer")
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText("Find places like… e.g. nightlife")
        self.phrase.setToolTip("A phrase, e.g. nightlife, a place to buy clothes, heavy industry")
        self.phrase_button = QPushButton("Find")
        self.phrase_button.setToolTip("Where the phrase fits: every pixel scored for it")
        self.phrase_map = QComboBox()
        for label, kind in PHRASE_MAP_CHOICES:
            self.phrase_map.addItem(label, kind)
        self.phrase_map.setToolTip(
            "Matched POIs: the training POIs of the classes the phrase is about, weighed by distance (the default: it "
            "beat the model alone on places the model never saw). Model only: the model's similarity to the phrase."
        )
        chosen = self.phrase_map.findData(settings.load("maps/phrase_map", "evidence"))
        self.phrase_map.setCurrentIndex(max(chosen, 0))
        self.rank_layer = QgsMapLayerComboBox()
        self.rank_layer.setFilters(QgsMapLayerProxyModel.Filter.VectorLayer)
        self.rank_layer.setToolTip("The layer whose features are ranked for the phrase above")
        self.rank_top = QSpinBox()
        self.rank_top.setRange(1, 9_999)
        self.rank_top.setValue(settings.load("maps/rank_top", 20, int))
        self.rank_top.setPrefix("top ")
        self.rank_top.setToolTip("How many of the best-ranked features are selected")
        self.rank_button = QPushButton("Rank features")
        self.rank_button.setToolTip("A new layer with the chosen layer's features, their score and rank for the "
                                    "phrase, coloured by score, the best ones selected")
        self.k = QSpinBox()
        self.k.setRange(2, 254)
        self.k.setValue(settings.load("maps/k", 6, int))
        self.cluster_button = QPushButton("Cluster map")
        self.cluster_button.setToolTip("k-means clusters of the embedding raster, named by POI classes")
        self.progress = TaskProgress()
        self.status = StatusLabel("No embedding raster yet: make one first.")
        near_row = QHBoxLayout()
        near_row.addWidget(self.near_pois, 1)
        near_row.addWidget(self.near_distance)
        form.addRow("Extent", self.extent)
        form.addRow("Pixel size", self.pixel_size)
        form.addRow(self.size_hint)
        form.addRow(near_row)
        form.addRow("Output folder", self.output_dir)
        advanced = QgsCollapsibleGroupBox("Advanced")
        advanced.setSettingGroup("calliper_maps_advanced")
        advanced.setCollapsed(True)
        advanced_form = QFormLayout(advanced)
        advanced_form.addRow("CPU workers", self.workers)
        advanced_form.addRow("Phrase maps", self.phrase_map)
        query_row = ButtonRow(self.click_button, self.feature_button, stretches=(1, 1))
        phrase_row, rank_row, cluster_row = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        rank_row.addWidget(self.rank_top)
        rank_row.addWidget(self.rank_button, 1)
        phrase_row.addWidget(self.phrase, 1)
        phrase_row.addWidget(self.phrase_button)
        cluster_row.addWidget(QLabel("k"))
        cluster_row.addWidget(self.k)
        cluster_row.addWidget(self.cluster_button, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(advanced)
        for item in (self.raster_button, query_row, phrase_row, self.rank_layer, rank_row, cluster_row, self.progress,
                     self.status):
            layout.addLayout(item) if isinstance(item, QHBoxLayout) else layout.addWidget(item)
        self.describe = DescribePanel(self.iface, self.current_model, self.status, self.progress)
        layout.addWidget(self.describe)
        self.across = AcrossCitiesPanel(self)
        layout.addWidget(self.across)
        layout.addStretch(1)
        self.extent.extentChanged.connect(self.update_size_hint)
        self.pixel_size.valueChanged.connect(self.update_size_hint)
        self.near_pois.toggled.connect(self.near_distance.setEnabled)
        self.near_pois.toggled.connect(lambda on: settings.save("maps/near_pois", "true" if on else "false"))
        self.raster_button.clicked.connect(self.make_embedding_raster)
        self.click_button.toggled.connect(self._toggle_tool)
        self.feature_button.clicked.connect(self.similarity_to_selected_feature)
        self.phrase_button.clicked.connect(self.similarity_to_phrase)
        self.phrase.returnPressed.connect(self.similarity_to_phrase)
        self.cluster_button.clicked.connect(self.make_clusters)
        self.phrase_map.currentIndexChanged.connect(
            lambda _: settings.save("maps/phrase_map", self.phrase_map.currentData()))
        self.rank_button.clicked.connect(self.rank_features)
        self.update_size_hint()

    def model_changed(self) -> None:
        """A model was picked: its POIs' spacing gives the default distance; the size hint follows."""
        try:
            evidence = load_evidence(self.current_model().folder)
        except CalliperError:
            evidence = None
        self.near_pois.setEnabled(evidence is not None)
        self.near_distance.setEnabled(evidence is not None and self.near_pois.isChecked())
        if evidence is not None:
            self.near_distance.setValue(evidence.default_distance())
        else:
            self.near_pois.setToolTip("This model was trained before Calliper kept its POIs: it maps the whole extent.")
        self.update_size_hint()

    # --- helpers -------------------------------------------------------------------------
    def output_folder(self) -> Path:
        folder = Path(self.output_dir.filePath() or Path.home() / "calliper_outputs")
        settings.save("maps/output_dir", str(folder))
        return folder

    def map_extent(self) -> tuple[tuple[float, float, float, float], str]:
        rect = self.extent.outputExtent()
        return (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()), self.extent.outputCrs().toWkt()

    def near_limit(self) -> float | None:
        """The distance to the training POIs that pixels are computed within; None for the whole extent."""
        return self.near_distance.value() if self.near_pois.isChecked() and self.near_pois.isEnabled() else None

    def update_size_hint(self) -> None:
        try:
            model = self.current_model()
            extent, crs = self.map_extent()
            grid = embedding_grid(model, extent, self.pixel_size.value(), extent_crs=crs)
        except CalliperError as error:
            self.size_hint.setText(error.message)
            return
        estimate = estimate_raster(grid, model.card.settings.embed_dim, "float32")
        rate = CONTEXT_PIXELS_PER_SECOND if model.card.settings.encoder == CONTEXT_ENCODER else CPU_PIXELS_PER_SECOND
        seconds = estimate.pixels / rate
        megabytes = estimate.bytes_uncompressed / 1e6
        self.size_hint.setText(f"{grid.width} x {grid.height} pixels, {megabytes:.1f} MB uncompressed, about {seconds:.0f} s")

    def run_job(self, title: str, work, on_done) -> None:
        """``work(model, control)`` in a task with the chosen model, then ``on_done(model, result)``."""
        try:
            model = self.current_model()
        except CalliperError as error:
            show_error(self.iface, error)
            return
        start_panel_task(self, title, lambda control: work(model, control), lambda result: on_done(model, result))

    def _need_embedding(self) -> Path | None:
        if self.embedding_path is None or not self.embedding_path.exists():
            show_error(self.iface, CalliperError("Make an embedding raster first (Maps > Embedding raster)."))
            return None
        return self.embedding_path

    # --- jobs ----------------------------------------------------------------------------
    def make_embedding_raster(self) -> None:
        extent, crs = self.map_extent()
        pixel, workers = self.pixel_size.value(), self.workers.value()
        settings.save("maps/pixel_size", pixel)
        settings.save("maps/workers", workers)
        folder = self.output_folder()

        near = self.near_limit()
        whole = near is None

        def work(model: LoadedModel, control):
            grid = embedding_grid(model, extent, pixel, extent_crs=crs)
            mask, key = raster_mask(model, grid, near_pois=near, whole_extent=whole)
            control.log(f"Pixels computed: {key if mask is not None else 'the whole extent'}.")
            stem = raster_stem(model, grid)
            if (folder / f"{stem}.tif").exists():  # finished before: a new file, not an overwrite
                stem = new_output(folder, stem, ".tif").stem
            emb = embedding_raster(model, grid, folder / f"{stem}.tif", mask=mask, control=control.part(0, 0.85),
                                   workers=workers, resume_key=f"dock embedding raster, {key}")
            rgb = rgb_preview(emb, folder / f"{stem.replace('embedding', 'rgb', 1)}.tif", control=control.part(0.85, 1))
            return emb, rgb

        def done(model: LoadedModel, paths) -> None:
            self.embedding_path = Path(paths[0])
            add_raster(paths[0], "Embedding (128 bands)", "embedding", model.folder, model.card, visible=False)
            self.layer_added.emit(add_raster(paths[1], "Embedding RGB preview (PCA)", "rgb", model.folder, model.card))
            self.status.setText(f"Embedding raster: {paths[0]}")

        self.run_job("embedding raster", work, done)

    def _similarity(self, make_query, name: str, file_stem: str) -> None:
        self.map_from_embedding(
            lambda model, embedding, out, control: similarity_raster(model, embedding, make_query(model), out, control),
            name, f"similarity_{slug(file_stem)}")

    def map_from_embedding(self, write, name: str, file_stem: str) -> None:
        """Run ``write(model, embedding raster, out, control)`` in a task and add its single-band map, styled."""
        embedding = self._need_embedding()
        if embedding is None:
            return
        out = new_output(self.output_folder(), file_stem, ".tif")

        def work(model: LoadedModel, control):
            return write(model, embedding, out, control)

        def done(model: LoadedModel, path) -> None:
            self.layer_added.emit(add_raster(path, name, "similarity", model.folder, model.card))
            self.status.setText(f"{name}: {path}")

        self.run_job(name, work, done)

    def similarity_at(self, point: QgsPointXY, button=None) -> None:
        """Similarity of every pixel to the clicked canvas point (canvas CRS); the point is marked."""
        crs: QgsCoordinateReferenceSystem = self.iface.mapCanvas().mapSettings().destinationCrs()
        self.marker = self.marker or click_marker(self.iface.mapCanvas(), "#d62728")
        self.marker.setCenter(point)
        xy, wkt = (point.x(), point.y()), crs.toWkt()
        self._similarity(lambda model: location_query(model, xy, wkt), f"Similarity to {xy[0]:.0f}, {xy[1]:.0f}",
                         f"point_{xy[0]:.0f}_{xy[1]:.0f}")

    def similarity_to_selected_feature(self) -> None:
        """Similarity to a point on the surface of the active layer's (first) selected feature."""
        layer = self.iface.activeLayer()
        features = layer.selectedFeatures() if layer is not None and hasattr(layer, "selectedFeatures") else []
        if not features or features[0].geometry().isEmpty():
            show_error(self.iface, CalliperError("Select a feature in the active vector layer first."))
            return
        point = features[0].geometry().pointOnSurface().asPoint()
        xy, wkt = (point.x(), point.y()), layer.crs().toWkt()
        name = f"Similarity to feature {features[0].id()} of {layer.name()}"
        self._similarity(lambda model: location_query(model, xy, wkt), name, f"feature_{features[0].id()}")

    def similarity_to_phrase(self) -> None:
        """The phrase's map: from the matched POIs (default) or the model alone, as chosen under Advanced."""
        phrase, kind = self.phrase.text().strip(), self.phrase_map.currentData()
        self.map_from_embedding(
            lambda model, embedding, out, control: phrase_raster(model, embedding, phrase, out, control, kind=kind),
            f"'{phrase}' ({'matched POIs' if kind == 'evidence' else 'model only'})",
            f"phrase_{slug(phrase)}" + ("" if kind == "evidence" else f"_{kind}"))

    def rank_features(self) -> None:
        """The chosen layer's features ranked for the phrase, as a new styled layer with the best selected."""
        phrase, layer, top = self.phrase.text().strip(), self.rank_layer.currentLayer(), self.rank_top.value()
        settings.save("maps/rank_top", top)
        try:
            table = point_table_from_layer(layer)  # read here: a layer is not read from a worker thread
        except CalliperError as error:
            show_error(self.iface, error)
            return
        out = new_output(self.output_folder(), f"ranked_{slug(layer.name())}_{slug(phrase)}", ".gpkg")

        def work(model: LoadedModel, control):
            return text_scores(model, phrase, table.xy, table.crs, control)

        def done(model: LoadedModel, scores) -> None:
            out.parent.mkdir(parents=True, exist_ok=True)
            ranked = add_vector(write_ranked_layer(layer, scores, out), f"{layer.name()} ranked for '{phrase}'",
                                model.folder, model.card)
            style_ranked(ranked, top)
            self.layer_added.emit(ranked)
            self.status.setText(f"Ranked {len(scores)} features of {layer.name()} for '{phrase}': {out}")

        self.run_job(f"ranking {layer.name()}", work, done)

    def make_clusters(self) -> None:
        embedding = self._need_embedding()
        if embedding is None:
            return
        k = self.k.value()
        settings.save("maps/k", k)
        out = new_output(self.output_folder(), f"clusters_k{k}", ".tif")

        def work(model: LoadedModel, control):
            return cluster_raster(embedding, out, model, ClusterSettings(k=k), control=control)

        def done(model: LoadedModel, result) -> None:
            self.layer_added.emit(add_raster(result.raster, f"Clusters (k={k})", "clusters", model.folder, model.card))
            self.status.setText("Clusters: " + "; ".join(f"{e.value}: {e.label}" for e in result.legend))

        self.run_job("cluster map", work, done)

    def _toggle_tool(self, active: bool) -> None:
        canvas = self.iface.mapCanvas()
        if active:
            canvas.setMapTool(self.map_tool)
        elif canvas.mapTool() is self.map_tool:
            canvas.unsetMapTool(self.map_tool)
