"""The calliper command line, a front end beside ui and processing_provider: parser, terminal progress, commands.

May import core only; never ui, processing_provider or adapters.
"""
