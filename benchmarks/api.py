"""Every aecore name the benchmark uses, imported in this one place.

aecore's API is being reorganised (get_run moving to aecore.runner, per-architecture
settings moving to spec objects); when a name moves, only the import here changes.
Importing this module loads TensorFlow and Keras: import it inside the functions that
train or infer, never at the top of a benchmark module, so that `import aecore` and the
app benchmark's parent process are measured without it.
"""

from aecore import metrics
from aecore.config import ARCHS, RunConfig
from aecore.data import load_dataset
from aecore.models import build_model, decode, encode_distribution, reconstruct
from aecore.store import RunStore
from aecore.train import get_run, train

__all__ = [
    "ARCHS",
    "RunConfig",
    "RunStore",
    "build_model",
    "decode",
    "encode_distribution",
    "get_run",
    "load_dataset",
    "metrics",
    "reconstruct",
    "train",
]
