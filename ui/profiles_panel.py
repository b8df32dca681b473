"""Across cities, in the Maps tab: places like one of another city's model, and profile rasters.

Profiles (``core/profiles``) are scores over words every model of one text encoder
shares. "Match a click" takes a place under another city's model (pan there and
click) and maps, over the current embedding raster, how alike each pixel's profile
is. "Profile raster" writes the current model's profile over the Maps extent, one
band per POI class.
"""

from __future__ import annotations

from pathlib import Path

from qgis.gui import QgsCollapsibleGroupBox, QgsFileWidget, QgsMapToolEmitPoint, QgsVertexMarker
from qgis.PyQt.QtWidgets import QPushButton, QVBoxLayout

from ..adapters.output_layers import add_raster
from ..core.catalog.loading import load_model
from ..core.errors import CalliperError
from ..core.maps.rasters import embedding_grid, raster_mask
from ..core.model.files import LoadedModel
from ..core.profiles.like_this import like_this_raster
from ..core.profiles.outputs import profile_raster
from ..core.profiles.vocabulary import model_vocabulary
from . import settings
from .fit import ButtonRow
from .log import show_error
from .map_marker import click_marker
from .output_names import new_output


class AcrossCitiesPanel(QgsCollapsibleGroupBox):
    """Needs the Maps panel (``maps``): its model, embedding raster, extent, pixel size, mask and task."""

    def __init__(self, maps, parent=None) -> None:
        super().__init__("Across cities", parent)
        self.setSettingGroup("calliper_across_cities")
        self.maps = maps
        self.marker: QgsVertexMarker | None = None
        self.tool = QgsMapToolEmitPoint(maps.iface.mapCanvas())
        self.tool.canvasClicked.connect(self.like_place_at)
        self.other_model = QgsFileWidget()
        self.other_model.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.other_model.setFilePath(settings.load("maps/like_model", ""))
        self.other_model.setToolTip("The model folder of another city (trained with the same text model)")
        self.like_button = QPushButton("Match a click")
        self.like_button.setCheckable(True)
        self.like_button.setToolTip("Pan to the other city and click a place: the map shows where the current "
                                    "embedding raster's places have the most similar profile over the POI classes "
                                    "both models know")
        self.profile_button = QPushButton("Profile raster")
        self.profile_button.setToolTip("The current model's profile of every pixel of the Maps extent: one band per "
                                       "POI class (a softmax over them)")
        self.other_model.lineEdit().setPlaceholderText("Other city's model folder")
        buttons = ButtonRow(self.like_button, self.profile_button, stretches=(1, 1))
        layout = QVBoxLayout(self)
        layout.addWidget(self.other_model)
        layout.addWidget(buttons)
        self.like_button.toggled.connect(self._toggle_tool)
        self.profile_button.clicked.connect(self.make_profile_raster)

    def _toggle_tool(self, active: bool) -> None:
        canvas = self.maps.iface.mapCanvas()
        if active:
            canvas.setMapTool(self.tool)
        elif canvas.mapTool() is self.tool:
            canvas.unsetMapTool(self.tool)

    def like_place_at(self, point, button=None) -> None:
        """The clicked place (canvas CRS) under the other model, matched over the current embedding raster."""
        folder = self.other_model.filePath().strip()
        if not folder:
            show_error(self.maps.iface, CalliperError("Choose the other city's model folder first."))
            return
        settings.save("maps/like_model", folder)
        self.marker = self.marker or click_marker(self.maps.iface.mapCanvas(), "#2ca02c", QgsVertexMarker.IconType.ICON_BOX)
        self.marker.setCenter(point)
        xy = (point.x(), point.y())
        crs = self.maps.iface.mapCanvas().mapSettings().destinationCrs().toWkt()

        def write(model: LoadedModel, embedding: Path, out: Path, control):
            return like_this_raster(model, embedding, load_model(folder), xy, out, crs, control=control)

        self.maps.map_from_embedding(write, f"Like {xy[0]:.0f}, {xy[1]:.0f} of {Path(folder).name}",
                                      f"like_{Path(folder).name}_{xy[0]:.0f}_{xy[1]:.0f}")

    def make_profile_raster(self) -> None:
        extent, crs = self.maps.map_extent()
        pixel, near = self.maps.pixel_size.value(), self.maps.near_limit()
        folder = self.maps.output_folder()

        def work(model: LoadedModel, control):
            grid = embedding_grid(model, extent, pixel, extent_crs=crs)
            mask, _ = raster_mask(model, grid, near_pois=near, whole_extent=near is None)
            vocabulary = model_vocabulary(model)
            out = new_output(folder, f"profile_{grid.width}x{grid.height}_{pixel:g}m", ".tif")
            return profile_raster(model, vocabulary, grid, out, mask, control), vocabulary

        def done(model: LoadedModel, result) -> None:
            path, vocabulary = result
            name = f"Profiles over {len(vocabulary)} POI classes (band 1: {vocabulary.labels[0]})"
            self.maps.layer_added.emit(add_raster(path, name, "similarity", model.folder, model.card))
            self.maps.status.setText(f"Profile raster ({len(vocabulary)} bands, one per POI class): {path}")

        self.maps.run_job("profile raster", work, done)
