"""QGIS front end: translates layers into core inputs and core outputs into layers."""
