"""Places in words: profiles over a named vocabulary, comparable between models and cities.

Every model has its own embedding space, but all models of one text encoder score
the same words. A location's profile is its model's scores over a vocabulary (the
model's class descriptions, or a user's phrases), so "places like this" and land use
can cross from one city's model to another's.

May import everything below it: the foundation, data, text, model, context, catalog, maps, imagery and landuse.
"""

PROFILE_PREFIX = "pr_"
