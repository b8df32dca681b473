"""Land-use and socioeconomic studies: labels, spatial splits, probes, metrics, unit features and the report.

May import everything below it: the foundation, data, text, model, context, catalog, maps and imagery.
"""
