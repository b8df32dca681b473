"""Rasters from a model: the block-wise grid writer, embedding rasters, similarity and cluster maps.

May import the foundation, data, text, model, context and catalog.
"""
