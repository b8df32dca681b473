"""Calliper for QGIS: learn location embeddings from POIs and paint them on the map.

QGIS calls ``classFactory``; nothing heavy is imported here so QGIS starts fast and
the plugin loads even when torch is missing (the dock then says what to install).
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    from .plugin import CalliperPlugin

    return CalliperPlugin(iface)
