"""Calliper for QGIS: learn location embeddings from POIs and paint them on the map.

QGIS calls ``classFactory``; nothing heavy is imported here so QGIS starts fast and
the plugin loads even when torch is missing (the dock then offers to install it). The
packages the dock installs live in the profile's ``python/dependencies/calliper``,
which goes on ``sys.path`` here, before anything imports them.
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    from .adapters.profile_packages import activate_profile_packages

    activate_profile_packages()
    from .plugin import CalliperPlugin

    return CalliperPlugin(iface)
