"""Rasters from a model: the block-wise grid writer, embedding rasters, similarity and cluster maps.

May import the foundation, data, text, model, context and catalog.
"""

# What a phrase map is made from (similarity.phrase_raster); here so front ends list them without heavy imports.
PHRASE_MAPS = ("evidence", "model")
