"""QGIS <-> core adapters shared by the dock and Processing: layers into core tables, outputs into styled layers.

May import core, qgis and PyQt; never ui, processing_provider or cli.
"""
