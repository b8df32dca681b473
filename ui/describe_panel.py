"""Describe this place: click the map, read what is there by the model and by the training POIs, copy it as text.

The panel sits in the Maps tab. A click runs ``describe_place`` in a task (the text
encoder may need a second to load) and lists the model's class descriptions, best
first, each with its blended score and both parts (the model's, the POIs' nearby), the
user's extra phrases (scored by the model), and the training POIs nearest to the click.
"""

from __future__ import annotations

from html import escape

from qgis.gui import QgsCollapsibleGroupBox, QgsMapToolEmitPoint, QgsVertexMarker
from qgis.PyQt.QtWidgets import QApplication, QLineEdit, QPushButton, QTextBrowser, QVBoxLayout

from ..core.errors import CalliperError
from ..core.maps.describe import PlaceDescription, describe_place
from . import settings
from .fit import ButtonRow
from .log import show_error
from .map_marker import click_marker
from .tasks import CoreTask, start_panel_task

SHOWN_DESCRIPTIONS = 10


def place_html(place: PlaceDescription) -> str:
    """The description as a small HTML page: each class's score with both of its parts, phrases, nearest POIs."""
    cell = "<td align='right'>{}</td>"
    head = "<tr><th>score</th><th>model</th><th>POIs near</th><th></th></tr>"
    rows = "".join("<tr>" + "".join(cell.format(f"{v:.1%}") for v in (d.score, d.model, d.evidence))
                   + f"<td>{escape(d.text)}</td></tr>" for d in place.descriptions)
    phrases = "".join(f"<tr>{cell.format(f'{d.score:.1%}')}<td>{escape(d.text)}</td></tr>" for d in place.phrases)
    pois = "".join(f"<tr>{cell.format(f'{p.distance_m:.0f} m')}<td>{escape(p.poi_class)}"
                   f"{' (' + escape(p.name) + ')' if p.name else ''}</td></tr>" for p in place.nearest_pois)
    return (f"<b>{place.location[0]:.6g}, {place.location[1]:.6g}</b> ({escape(place.crs)})"
            f"<p><b>What is here</b> ({escape(place.blend_label())})</p><table>{head}{rows}</table>"
            + (f"<p><b>Your phrases</b> (the model alone, each beside the classes)</p><table>{phrases}</table>"
               if place.phrases else "")
            + f"<p><b>Nearest training POIs</b></p><table>{pois}</table>")


class DescribePanel(QgsCollapsibleGroupBox):
    """A 'Describe' map tool, extra phrases, the description of the last click, and Copy."""

    def __init__(self, iface, current_model, status, progress, parent=None) -> None:
        super().__init__("Describe a place", parent)
        self.setSettingGroup("calliper_describe")
        self.iface, self.current_model = iface, current_model
        self.status, self.progress = status, progress  # the Maps tab's: start_panel_task reports there
        self.task: CoreTask | None = None
        self.place: PlaceDescription | None = None
        self.marker: QgsVertexMarker | None = None
        self.tool = QgsMapToolEmitPoint(iface.mapCanvas())
        self.tool.canvasClicked.connect(self.describe_at)
        self.describe_button = QPushButton("Describe")
        self.describe_button.setCheckable(True)
        self.describe_button.setToolTip("Click on the map: the POI classes of that place, best first, by the model "
                                        "and by the training POIs nearby, and the training POIs nearest to it")
        self.phrases = QLineEdit(settings.load("describe/phrases", ""))
        self.phrases.setPlaceholderText("More phrases; separated by ;")
        self.phrases.setToolTip("Phrases the model scores beside its class descriptions, e.g. nightlife; quiet")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the description as text")
        self.copy_button.setEnabled(False)
        self.result = QTextBrowser()
        self.result.setPlaceholderText("Click Describe, then a place on the map.")
        self.result.setMinimumHeight(160)
        buttons = ButtonRow(self.describe_button, self.copy_button, stretches=(1, 0))
        layout = QVBoxLayout(self)
        layout.addWidget(buttons)
        layout.addWidget(self.phrases)
        layout.addWidget(self.result)
        self.describe_button.toggled.connect(self._toggle_tool)
        self.copy_button.clicked.connect(self.copy)

    def _toggle_tool(self, active: bool) -> None:
        canvas = self.iface.mapCanvas()
        if active:
            canvas.setMapTool(self.tool)
        elif canvas.mapTool() is self.tool:
            canvas.unsetMapTool(self.tool)

    def extra_phrases(self) -> list[str]:
        return [p.strip() for p in self.phrases.text().split(";") if p.strip()]

    def describe_at(self, point, button=None) -> None:
        """Describe the clicked canvas point (canvas CRS); the point is marked."""
        try:
            model = self.current_model()
        except CalliperError as error:
            show_error(self.iface, error)
            return
        settings.save("describe/phrases", self.phrases.text())
        self.marker = self.marker or click_marker(self.iface.mapCanvas(), "#ff7f0e", QgsVertexMarker.IconType.ICON_CIRCLE, 12)
        self.marker.setCenter(point)
        xy = (point.x(), point.y())
        crs = self.iface.mapCanvas().mapSettings().destinationCrs().toWkt()
        phrases = self.extra_phrases()

        def done(place: PlaceDescription) -> None:
            self.place = place
            self.result.setHtml(place_html(place))
            self.copy_button.setEnabled(True)
            self.status.setText(f"Described the place at {xy[0]:.6g}, {xy[1]:.6g}.")

        start_panel_task(self, "describing a place",
                         lambda control: describe_place(model, xy, crs, phrases, SHOWN_DESCRIPTIONS), done)

    def copy(self) -> None:
        if self.place is not None:
            QApplication.clipboard().setText(self.place.as_text())
