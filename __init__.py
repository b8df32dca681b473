"""Calliper for QGIS: learn location embeddings from POIs and paint them on the map.

QGIS calls ``classFactory``; nothing heavy is imported here so QGIS starts fast and
the plugin loads even when torch is missing (the dock then offers to install it). The
packages the dock installs live in the profile's ``python/dependencies/calliper``,
which goes on ``sys.path`` here, before anything imports them. Here too, before anything
imports torch, ``guard_torch_import`` makes sure torch will run on its own BLAS in QGIS.
"""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    from .adapters.profile_packages import activate_profile_packages
    from .core.torch_loading import guard_torch_import
    from .ui.log import show_warning

    activate_profile_packages()
    guard_torch_import(lambda error: show_warning(iface, error))
    from .plugin import CalliperPlugin

    return CalliperPlugin(iface)
