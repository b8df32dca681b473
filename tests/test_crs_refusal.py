"""CRSs that cannot be moved to lon/lat (undefined, engineering, unknown units) are refused before any work."""

from __future__ import annotations

import numpy as np
import pytest
from calliper.core.crs import parse_crs
from calliper.core.errors import CrsError

UNDEFINED = ('LOCAL_CS["Undefined SRS",LOCAL_DATUM["unknown",32767],UNIT["unknown",0],'
             'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
ENGINEERING = ('ENGCRS["Site grid",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],'
               'AXIS["y",north,LENGTHUNIT["metre",1]]]')
LONLAT_POINTS = np.array([[24.94, 60.17], [24.95, 60.16]])
METRE_POINTS = np.array([[385900.0, 6672100.0], [386100.0, 6672300.0]])


@pytest.mark.parametrize("wkt", [UNDEFINED, ENGINEERING])
def test_a_crs_not_placed_on_the_earth_is_refused_with_a_hint_when_points_look_like_lonlat(wkt):
    with pytest.raises(CrsError, match="not placed on the Earth") as refused:
        parse_crs(wkt, "The layer shops.gpkg", LONLAT_POINTS)
    assert "shops.gpkg" in refused.value.message and "set EPSG:4326" in refused.value.message
    with pytest.raises(CrsError) as metric:
        parse_crs(wkt, "The layer shops.gpkg", METRE_POINTS)
    assert "EPSG:4326" not in metric.value.message  # metres are not longitudes: no false hint


def test_ordinary_crss_still_pass():
    for value in ("EPSG:4326", "EPSG:32635", "EPSG:3067", "EPSG:27700", "+proj=utm +zone=35 +datum=WGS84"):
        assert parse_crs(value).is_geographic or parse_crs(value).is_projected


def test_cli_train_on_an_undefined_crs_says_so_in_one_line_and_writes_nothing(tmp_path, capsys):
    from calliper.cli.main import main

    pois = tmp_path / "pois.csv"
    pois.write_text("lon,lat,class\n" + "".join(f"{24.9 + i / 1000},{60.16 + i / 2000},{'cafe' if i % 2 else 'bar'}\n"
                                                 for i in range(40)))
    out = tmp_path / "model"
    assert main(["train", "--pois", str(pois), "--class-field", "class", "--csv-crs", UNDEFINED, "--epochs", "1",
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "not placed on the Earth" in error and "EPSG:4326" in error and "Traceback" not in error
    assert len(error.splitlines()) == 1 and not out.exists() and list(tmp_path.iterdir()) == [pois]


def test_a_qgis_layer_with_an_engineering_crs_is_refused_before_train_is_enabled(qgis_iface, qgis_new_project):
    from calliper.adapters.layers import point_table_from_layer
    from calliper.ui.dock import CalliperDock
    from qgis.core import QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsVectorLayer
    from test_dock import dispose

    layer = QgsVectorLayer("Point?field=class:string", "site survey", "memory")
    layer.setCrs(QgsCoordinateReferenceSystem.fromWkt(ENGINEERING))
    features = []
    for i in range(10):
        feature = QgsFeature(layer.fields())
        feature.setAttributes(["cafe" if i % 2 else "bar"])
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(24.9 + i / 1000, 60.16 + i / 1000)))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    QgsProject.instance().addMapLayer(layer)
    with pytest.raises(CrsError, match="not placed on the Earth"):
        point_table_from_layer(layer)
    dock = CalliperDock(qgis_iface)
    assert dock.ensure_panels()
    panel = dock.train_panel
    panel.layer.setLayer(layer)
    assert not panel.train_button.isEnabled() and "not placed on the Earth" in panel.status.text()
    assert "EPSG:4326" in panel.train_button.toolTip()
    dispose(dock)
