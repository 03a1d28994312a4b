"""Every aecore name the benchmark uses, imported in this one place.

Importing this module loads TensorFlow and Keras: import it inside the functions that
train or infer, never at the top of a benchmark module, so that `import aecore` and the
app benchmark's parent process are measured without it.
"""

from aecore import metrics
from aecore.config import RunConfig
from aecore.datasets import load_dataset
from aecore.models import build_model, decode, encode_distribution, get_spec, names, reconstruct, register
from aecore.models.spec import NATS_PER_IMAGE, NATS_PER_PIXEL, VECTORS
from aecore.runner import get_run
from aecore.store import RunStore
from aecore.train import train

ARCHS = names()

__all__ = [
    "ARCHS",
    "NATS_PER_IMAGE",
    "NATS_PER_PIXEL",
    "RunConfig",
    "RunStore",
    "VECTORS",
    "build_model",
    "decode",
    "encode_distribution",
    "get_run",
    "get_spec",
    "load_dataset",
    "metrics",
    "reconstruct",
    "register",
    "train",
]
