"""CaLLiPer itself: location encoders, network, loss, scales, training, model folders and inference.

May import the foundation, data and text.
"""

# Epochs without a better validation loss before training stops (here so front ends read it without torch).
DEFAULT_PATIENCE = 10
# Distinct descriptions up to which names given by a name field are appended (a few minutes of encoding on a CPU).
NAMED_TEXTS_LIMIT = 200_000
