"""Rasters from a model: the block-wise grid writer, embedding rasters, similarity and cluster maps.

May import the foundation, data, text, model, context and catalog.
"""

# What a phrase map is made from (similarity.phrase_raster); here so front ends list them without heavy imports.
PHRASE_MAPS = ("evidence", "model")
# Describe's weight of the training POIs nearby against the model (0: the model alone, 1: the POIs alone); here so
# front ends show the default without heavy imports. Chosen on validation blocks, never the test blocks
# (bench/describe.py: 2 km blocks of both shared cities, models trained without them): the best mean Hit@5.
DESCRIBE_EVIDENCE_WEIGHT = 0.9
