"""aecore: four autoencoders (basic, stacked, conv, vae) in Keras 3, with data, training and a run cache."""

__version__ = "0.1.0"
