"""The domain package: plain Python, torch, numpy, geopandas, rasterio and pyproj; never qgis, PyQt or osgeo.

Foundation modules at this level (errors, jobs, atomic, crs, devices, dependencies) import nothing above them.
"""
