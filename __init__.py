"""Calliper for QGIS: learn location embeddings from POIs and paint them on the map.

QGIS calls ``classFactory``; nothing heavy is imported here so QGIS starts fast and
the plugin loads even when torch is missing (the dock then offers to install it). The
packages the dock installs live in the profile's ``python/dependencies/calliper``,
which goes on ``sys.path`` here, before anything imports them; ``guard_native_imports``
makes sure that their native libraries (torch's BLAS, shapely's GEOS, rasterio's GDAL) will
not bind to QGIS's own copies of those libraries.
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    from .adapters.profile_packages import activate_profile_packages
    from .core.native_imports import guard_native_imports
    from .ui.log import show_warning

    folder = activate_profile_packages()
    guard_native_imports(folder, lambda error: show_warning(iface, error))
    from .plugin import CalliperPlugin

    return CalliperPlugin(iface)
