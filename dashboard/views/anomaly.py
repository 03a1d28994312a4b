"""The Anomaly scores view: per-image reconstruction errors of test images against clearly different inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from aecore import anomaly, figures
from aecore import metrics as M
from aecore.datasets import MNIST_SHAPE, Dataset
from aecore.models import reconstruct
from aecore.run import Run
from dashboard.run_view import VIEW_EXAMPLES

UNIT = "MSE per pixel"


def _shape_words(shape: tuple[int, ...]) -> str:
    """(32, 32, 3) -> '32 x 32 colour images'."""
    return f"{shape[0]} x {shape[1]} {'colour' if shape[-1] == 3 else 'grey'} images"


@st.cache_data(max_entries=8, show_spinner="Reconstructing the test images and the different inputs...")
def reconstruction_errors(key: str, dataset: str, _model, _x: np.ndarray) -> tuple[dict[str, np.ndarray], str | None]:
    """({inputs name: per-image MSE}, test images first; a sentence if the other dataset is not on this machine)."""
    foreign_name = anomaly.foreign_dataset(dataset)
    shape = tuple(_x.shape[1:])
    foreign = None if foreign_name is None else anomaly.load_offline(foreign_name, shape)
    note = None
    if foreign_name is None:
        pass  # an upload or another built-in set: no other dataset is its natural opposite
    elif shape != MNIST_SHAPE:
        note = f"{foreign_name} is left out: its images are 28 x 28 grey, and this model takes {_shape_words(shape)}."
    elif foreign is None:
        note = (f"{foreign_name} is not on this machine, so it is left out: this page never downloads "
                "(choosing it as the dataset on an architecture page downloads it once).")
    groups = {f"test images ({dataset})": _x,
              **anomaly.different_inputs(_x, seed=0, foreign=None if foreign is None else (foreign_name, foreign))}
    return {name: M.per_example_mse(x, reconstruct(_model, x)) for name, x in groups.items()}, note


def anomaly_scores(key: str, run: Run, data: Dataset) -> None:
    """Histogram of errors, a threshold slider, and precision, recall and ROC-AUC at that threshold."""
    errors, note = reconstruction_errors(key, data.name, run.model, data.x_test[:VIEW_EXAMPLES])
    normal_name = next(iter(errors))
    normal = errors[normal_name]
    different = {name: e for name, e in errors.items() if name != normal_name}
    if note:
        st.caption(note)

    default = anomaly.default_threshold(normal)
    choices = anomaly.threshold_choices(np.concatenate(list(errors.values())), include=(default,))
    threshold = st.select_slider(
        f"Threshold ({UNIT}): images above it are flagged as anomalies", choices,
        value=anomaly.nearest(choices, default),
        format_func=lambda v: f"{v:.3g}", key=f"anomaly.threshold.{key}",
        help="It starts where 5% of the test images are flagged (false alarms).")
    pooled = anomaly.score(normal, np.concatenate(list(different.values())), threshold)
    shown = [("Precision (%)", f"{pooled.precision:.1%}", "Of the flagged images, the share that are different inputs."),
             ("Recall (%)", f"{pooled.recall:.1%}", "Of the different inputs, the share flagged."),
             ("False alarms (%)", f"{pooled.false_alarms:.1%}", "Of the test images, the share flagged."),
             ("ROC-AUC (0 to 1)", f"{pooled.roc_auc:.3f}",
              ("The chance that a different input has a larger error than a test image: 0.5 is chance, "
               "1 perfect. It does not depend on the threshold."))]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)

    st.plotly_chart(figures.error_histogram(errors, threshold, UNIT), key="anomaly.histogram")
    rows = []
    for name, e in errors.items():
        scores = None if name == normal_name else anomaly.score(normal, e, threshold)
        rows.append({
            "inputs": name,
            "images": len(e),
            f"median error ({UNIT})": float(np.median(e)),
            "flagged (%)": 100 * float((e > threshold).mean()),
            # Text: the test images' own row says what it is rather than a blank or "None".
            "ROC-AUC against the test images": f"{scores.roc_auc:.3f}" if scores else "(these are the test images)",
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        f"median error ({UNIT})": st.column_config.NumberColumn(format="%.4f"),
        "flagged (%)": st.column_config.NumberColumn(format="%.1f"),
    })
    st.caption(f"Anomalies are the positive class. Precision depends on the mix: here {len(normal)} test images "
               f"against {sum(len(e) for e in different.values())} different inputs "
               f"({', '.join(different)}, {len(normal)} of each). ROC-AUC does not depend on the threshold.")
