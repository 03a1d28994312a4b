"""The Anomaly scores view: per-image reconstruction errors of normal images against anomalies: the test images
against clearly different inputs, or the test images of the classes a model trained on against one it never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from aecore import anomaly, figures
from aecore import metrics as M
from aecore.datasets import Dataset, label_text
from aecore.models import reconstruct
from aecore.run import Run
from dashboard.run_view import VIEW_EXAMPLES

UNIT = "MSE per pixel"


@st.cache_data(max_entries=8, show_spinner="Reconstructing the test images and the different inputs...")
def reconstruction_errors(key: str, dataset: str, _model, _x: np.ndarray) -> tuple[dict[str, np.ndarray], str | None]:
    """({inputs name: per-image MSE}, test images first; a sentence if the other dataset is not on this machine)."""
    foreign_name = anomaly.foreign_dataset(dataset)
    shape = tuple(_x.shape[1:])
    foreign = None if foreign_name is None else anomaly.load_offline(foreign_name, shape)
    note = None  # an upload or another built-in has no natural opposite: no other dataset, no note
    if foreign_name is not None and foreign is None:
        note = (f"{foreign_name} is not on this machine, so it is left out: this page never downloads "
                "(choosing it as the dataset on an architecture page downloads it once).")
    groups = {f"test images ({dataset})": _x,
              **anomaly.different_inputs(_x, seed=0, foreign=None if foreign is None else (foreign_name, foreign))}
    return {name: M.per_example_mse(x, reconstruct(_model, x)) for name, x in groups.items()}, note


@st.cache_data(max_entries=8, show_spinner="Reconstructing the test images...")
def held_out_errors(key: str, label: int, _model, _data: Dataset) -> dict[str, np.ndarray]:
    """{inputs name: per-image MSE}: the test images of the classes the model trained on first, then those of
    the class it never saw."""
    x, y = _data.x_test, _data.y_test
    name = label_text(label, _data.label_names)
    groups = {"test images of the other classes": x[y != label][:VIEW_EXAMPLES],
              f"test images of {name} (never seen)": x[y == label][:VIEW_EXAMPLES]}
    return {group: M.per_example_mse(images, reconstruct(_model, images)) for group, images in groups.items()}


def anomaly_scores(key: str, run: Run, data: Dataset) -> None:
    """The test images against clearly different inputs (inverted, noise, another dataset): scores_view."""
    errors, note = reconstruction_errors(key, data.name, run.model, data.x_test[:VIEW_EXAMPLES])
    scores_view(key, errors, note)


def scores_view(key: str, errors: dict[str, np.ndarray], note: str | None = None) -> None:
    """Histogram of errors, a threshold slider, and precision, recall and ROC-AUC at that threshold; errors: the
    normal images' first, then each set of anomalies'."""
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
        help=f"It starts where 5% of the {normal_name} are flagged (false alarms).")
    pooled = anomaly.score(normal, np.concatenate(list(different.values())), threshold)
    shown = [("Precision (%)", f"{pooled.precision:.1%}", "Of the flagged images, the share that are anomalies."),
             ("Recall (%)", f"{pooled.recall:.1%}", "Of the anomalies, the share flagged."),
             ("False alarms (%)", f"{pooled.false_alarms:.1%}", f"Of the {normal_name}, the share flagged."),
             ("ROC-AUC (0 to 1)", f"{pooled.roc_auc:.3f}",
              (f"The chance that an anomaly has a larger error than one of the {normal_name}: 0.5 is chance, "
               "1 perfect. It does not depend on the threshold."))]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)

    st.plotly_chart(figures.error_histogram(errors, threshold, UNIT), key="anomaly.histogram")
    rows = []
    for name, e in errors.items():
        scores = None if name == normal_name else anomaly.score(normal, e, threshold)
        rows.append({
            "inputs": name + (" (normal)" if scores is None else ""),
            "images": len(e),
            f"median error ({UNIT})": float(np.median(e)),
            "flagged (%)": 100 * float((e > threshold).mean()),
            # Text: the normal images' own row says what it is rather than a blank or "None".
            "ROC-AUC against the normal images": f"{scores.roc_auc:.3f}" if scores else "(these are the normal)",
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        f"median error ({UNIT})": st.column_config.NumberColumn(format="%.4f"),
        "flagged (%)": st.column_config.NumberColumn(format="%.1f"),
    })
    counts = ", ".join(f"{len(e)} {name}" for name, e in different.items())
    st.caption(f"Anomalies are the positive class. Precision depends on the mix: here {len(normal)} {normal_name} "
               f"against {counts}. ROC-AUC does not depend on the threshold.")
