"""Every kind of model keyed by encoder: the one entry that trains and the one that loads any of them.

May import the foundation, data, text, model and context.
"""
