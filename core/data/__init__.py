"""Reading POI and vector files, whole or streamed in chunks, and the embedded demo city.

May import the foundation only.
"""
