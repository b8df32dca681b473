"""The spatial-context graph (UGE): graphs, captions, the context network, its training and ranking.

May import the foundation, data, text and model.
"""
