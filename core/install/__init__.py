"""Installing the plugin's Python packages into a folder of the QGIS profile: pins, host packages, torch build, pip.

May import the foundation only, and only the standard library besides: it runs before the packages it installs exist.
"""
