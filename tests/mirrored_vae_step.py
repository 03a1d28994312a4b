"""One plain-SGD step of the VAE on one batch, on one device and mirrored over two logical CPU devices.

Run as a script (a fresh process: the CPU is split before TensorFlow starts); prints the
size of each step's weight update as JSON. Under SGD an update is proportional to the
gradient, so the two are alike only when each replica's loss is its share of the mean.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from aecore.distribute import Placement  # noqa: E402

mirrored = Placement("mirrored", "cpu", 2).checked(64).start()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from aecore.config import RunConfig  # noqa: E402
from aecore.datasets import load_dataset  # noqa: E402
from aecore.models import build_model  # noqa: E402

config = RunConfig.for_arch("vae", latent_dim=2, batch_size=64)
x = load_dataset("mnist-sample").x_train[:64]


def update_size(strategy) -> float:
    with strategy.scope():
        model = build_model(config, x.shape[1:])
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    before = [w.numpy() for w in model.trainable_weights]
    model.fit(x, x, batch_size=64, epochs=1, shuffle=False, verbose=0)
    return float(np.sqrt(sum(((w.numpy() - b) ** 2).sum() for w, b in zip(model.trainable_weights, before))))


print(json.dumps({"one": update_size(tf.distribute.get_strategy()), "mirrored": update_size(mirrored)}))
