"""POI descriptions, the corpus of described POIs training reads, and the frozen sentence-transformer.

May import the foundation and data.
"""
