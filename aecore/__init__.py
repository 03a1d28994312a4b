"""aecore: the autoencoders of the design notes in Keras 3, with data, training and a run cache.

"The notes" in this package's docstrings are those design notes (README says which).
Architectures are registered in aecore.models, one model file each.
"""

__version__ = "0.1.0"
