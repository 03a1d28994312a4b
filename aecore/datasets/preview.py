"""Preview: what an upload holds, before it is stored; and what every upload reader shares to make one."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aecore.datasets.dataset import Dataset, split
from aecore.errors import DataError
from aecore.limits import mib

TEST_FRACTION = 0.2
SPLIT_SEED = 0
N_EXAMPLES = 16  # images or vectors a preview shows


@dataclass(frozen=True, eq=False)
class Preview:
    """What an upload holds, before it is stored: enough for a user to say yes or no."""

    filename: str
    format: str  # 'npz', 'zip' or 'csv'
    kind: str  # 'images' or 'vectors'
    n: int  # examples in the file
    n_train: int  # examples that would be stored (fewer than n when over the budget)
    n_test: int
    example_shape: tuple[int, ...]
    value_range: tuple[float, float]  # min and max as found in the file, before scaling to [0, 1]
    label_names: tuple[str, ...] | None  # label i is label_names[i]; None when unlabelled
    label_counts: tuple[int, ...] | None  # examples per label, train and test together
    examples: np.ndarray = field(repr=False)  # up to N_EXAMPLES examples, as they would be stored
    float32_bytes: int  # memory of the whole file's examples as float32
    budget_bytes: int
    suggested_subsample: int | None  # the most examples that fit the budget; None when all fit
    dataset: Dataset | None = field(repr=False)  # None when over the budget (not decoded in full)
    content: bytes = field(repr=False)

    @property
    def over_budget(self) -> bool:
        return self.suggested_subsample is not None


def shown(text: str, most: int = 60) -> str:
    """A name or a cell from an upload as a message quotes it: on one line, and cut short (the suffix kept)."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= most else text[: most - 20] + "…" + text[-19:]


def choose(n: int, per_example: int, budget: int, subsample: int | None) -> tuple[np.ndarray, bool]:
    """Which examples to decode, and whether they are the dataset (False: only a preview's few)."""
    fits = max(budget // per_example, 0)
    if subsample is not None:
        if subsample > fits:
            raise DataError(f"A subsample of {subsample} examples is over the memory budget of {mib(budget)}; "
                            f"keep at most {fits}.")
        if subsample >= n:
            return np.arange(n), True
        return np.sort(np.random.default_rng(SPLIT_SEED).choice(n, subsample, replace=False)), True
    if n <= fits:
        return np.arange(n), True
    return np.arange(min(n, N_EXAMPLES)), False


def split_upload(filename: str, x: np.ndarray, y: np.ndarray | None) -> Dataset:
    n_test = max(1, round(len(x) * TEST_FRACTION))
    return split(filename, x, y, n_test, seed=SPLIT_SEED)


def make_preview(filename, fmt, dataset, n, value_range, names, labels, budget, content,
             examples=None, full_bytes=None) -> Preview:
    full_bytes = dataset.x_train.nbytes + dataset.x_test.nbytes if full_bytes is None else full_bytes
    per_example = full_bytes // n
    over = full_bytes > budget
    if labels is not None and names is None:
        names = tuple(str(k) for k in range(int(labels.max()) + 1))
    if dataset is not None:
        examples = dataset.x_train[:N_EXAMPLES]
        shape = dataset.input_shape
        n_train, n_test = len(dataset.x_train), len(dataset.x_test)
    else:
        shape = examples.shape[1:]
        n_train = n_test = 0
    return Preview(
        filename=filename,
        format=fmt,
        kind="images" if len(shape) == 3 else "vectors",
        n=n,
        n_train=n_train,
        n_test=n_test,
        example_shape=tuple(shape),
        value_range=value_range,
        label_names=names,
        label_counts=None if labels is None else tuple(int(c) for c in np.bincount(labels, minlength=len(names))),
        examples=examples,
        float32_bytes=full_bytes,
        budget_bytes=budget,
        suggested_subsample=budget // per_example if over else None,
        dataset=dataset,
        content=content,
    )
