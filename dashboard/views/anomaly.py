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


def different_groups(data: Dataset) -> tuple[dict[str, np.ndarray], str | None]:
    """({inputs name: images}, the test images first, then clearly different inputs; a sentence if the other
    dataset is not on this machine). Made again at each rerun: seeded, and quick next to a reconstruction."""
    x = data.x_test[:VIEW_EXAMPLES]
    foreign_name = anomaly.foreign_dataset(data.name)
    foreign = None if foreign_name is None else anomaly.load_offline(foreign_name, tuple(x.shape[1:]))
    note = None  # an upload or another built-in has no natural opposite: no other dataset, no note
    if foreign_name is not None and foreign is None:
        note = (f"{foreign_name} is not on this machine, so it is left out: this page never downloads "
                "(choosing it as the dataset on an architecture page downloads it once).")
    groups = {f"test images ({data.name})": x,
              **anomaly.different_inputs(x, seed=0, foreign=None if foreign is None else (foreign_name, foreign))}
    return groups, note


def held_out_groups(data: Dataset, label: int) -> dict[str, np.ndarray]:
    """{inputs name: images}: the test images of the classes a model trained on, then those of the one it never saw."""
    x, y = data.x_test, data.y_test
    return {"test images of the other classes": x[y != label][:VIEW_EXAMPLES],
            f"test images of {label_text(label, data.label_names)} (never seen)": x[y == label][:VIEW_EXAMPLES]}


@st.cache_data(max_entries=8, show_spinner="Reconstructing the images...")
def reconstruction_errors(key: str, groups_key: str, _model, _groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{inputs name: per-image MSE} of the run of key on the groups groups_key names."""
    return {name: M.per_example_mse(x, reconstruct(_model, x)) for name, x in _groups.items()}


def anomaly_scores(key: str, run: Run, data: Dataset) -> None:
    """The test images against clearly different inputs (inverted, noise, another dataset): scores_view."""
    groups, note = different_groups(data)
    scores_view(key, reconstruction_errors(key, "different", run.model, groups), groups, run.model, note)


def scores_view(key: str, errors: dict[str, np.ndarray], groups: dict[str, np.ndarray], model,
                note: str | None = None) -> None:
    """Histogram of errors, a threshold slider, precision, recall and ROC-AUC at that threshold with the counts,
    and per-pixel error maps of the worst and best scored images; errors and groups (the images): the normal
    images' first, then each set of anomalies'."""
    if note:
        st.caption(note)
    _at_threshold(key, errors)
    _error_maps(errors, groups, model)


@st.fragment
def _at_threshold(key: str, errors: dict[str, np.ndarray]) -> None:
    """The threshold slider and what depends on it: a fragment, so a move redraws none of the maps below."""
    normal_name = next(iter(errors))
    normal = errors[normal_name]
    different = {name: e for name, e in errors.items() if name != normal_name}
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
    flagged_anomalies = sum(int((e > threshold).sum()) for e in different.values())
    st.caption(f"Anomalies are the positive class. Precision depends on the mix: here {len(normal)} {normal_name} "
               f"against {counts}. At this threshold {flagged_anomalies + int((normal > threshold).sum())} images "
               f"are flagged: {flagged_anomalies} anomalies and {int((normal > threshold).sum())} false alarms. "
               "ROC-AUC does not depend on the threshold.")


MAPS = 6  # images in each row of error maps: the worst scored, the best scored


def _error_maps(errors: dict[str, np.ndarray], groups: dict[str, np.ndarray], model) -> None:
    """The worst and best scored images of every set, each above its reconstruction and its per-pixel squared
    error, all maps on one colour scale."""
    scored = [(float(e[i]), name, i) for name, e in errors.items() for i in range(len(e))]
    scored.sort()
    picks = scored[::-1][:MAPS] + scored[:MAPS]
    images = np.stack([groups[name][i] for _, name, i in picks])
    recons = reconstruct(model, images)
    first = next(iter(errors))

    def tag(name: str) -> str:  # "normal", "inverted", "never seen": short enough to sit over a 28-pixel tile
        return "normal" if name == first else name.split("(")[-1].rstrip(")") if "(" in name else name

    titles = [f"{tag(name)}<br>{mse:.3g}" for mse, name, i in picks]
    st.subheader("Where the error is")
    # theme=None: Streamlit's theme would swap the maps' colour scale for its own.
    st.plotly_chart(figures.error_maps(images[:MAPS], recons[:MAPS], titles[:MAPS]), key="anomaly.maps.worst",
                    theme=None)
    st.caption(f"The {MAPS} worst scored images of all sets (MSE per pixel), their reconstructions and their "
               "squared error per pixel.")
    st.plotly_chart(figures.error_maps(images[MAPS:], recons[MAPS:], titles[MAPS:],
                                       zmax=float(((images[:MAPS] - recons[:MAPS]) ** 2).max())),
                    key="anomaly.maps.best", theme=None)
    st.caption(f"The {MAPS} best scored, on the same colour scale as the worst: a dark map is a faithful copy.")
