"""CaLLiPer itself: location encoders, network, loss, scales, training, model folders and inference.

May import the foundation, data and text.
"""
