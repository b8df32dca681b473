"""Imagery tiles + POIs (MMGR): tiles, OSM rendering, augmentation, model, loss, training and region maps.

May import everything below it: the foundation, data, text, model, context, catalog and maps.
"""
