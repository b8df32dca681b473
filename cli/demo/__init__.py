"""The end-to-end demo on the embedded Helsinki data (the calliper demo command).

May import core and the rest of cli.
"""
