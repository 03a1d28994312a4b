"""The Anomaly scores view: per-example reconstruction errors of normal examples against anomalies: the test
examples against clearly different inputs, another dataset of the same example shape or an uploaded file, or the
test images of the classes a model trained on against one it never saw. Images get per-pixel error maps, vectors
per-feature ones."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from aecore import anomaly, figures
from aecore import metrics as M
from aecore.datasets import DataError, Dataset, label_text
from aecore.datasets.uploads import FORMATS, UPLOAD_TYPES, inspect
from aecore.models import reconstruct
from aecore.run import Run
from dashboard.run_view import VIEW_EXAMPLES

UNIT, VECTOR_UNIT = anomaly.error_unit(True), anomaly.error_unit(False)
DIFFERENT, UPLOAD = "Clearly different inputs", "A file you upload (scored, not stored)"


def _is_vectors(groups: dict[str, np.ndarray]) -> bool:
    return next(iter(groups.values())).ndim == 2


def unit_of(groups: dict[str, np.ndarray]) -> str:
    """The unit of the groups' per-example errors: per pixel for images, per feature for vectors."""
    return VECTOR_UNIT if _is_vectors(groups) else UNIT


def normal_name(data: Dataset) -> str:
    """The name of a dataset's test examples as the normal set: 'test images (mnist-sample)'."""
    return f"test {'images' if data.is_image else 'vectors'} ({data.name})"


def different_groups(data: Dataset) -> tuple[dict[str, np.ndarray], str | None]:
    """({inputs name: examples}, the test examples first, then clearly different inputs; a sentence saying what a
    vector's different inputs are, or that the other dataset is not on this machine). Made again at each rerun:
    seeded, and quick next to a reconstruction."""
    x = data.x_test[:VIEW_EXAMPLES]
    if not data.is_image:
        note = (f"For vectors: {anomaly.SCALED} (each test vector {anomaly.FAR_SCALE:g} times further from the "
                f"training data's mean), {anomaly.SHUFFLED} (each feature shuffled across the rows on its own: real "
                f"values, unreal combinations) and {anomaly.GAUSSIAN} (of the training data's mean and spread per "
                "feature).")
        return {normal_name(data): x, **anomaly.different_vectors(x, data.x_train, seed=0)}, note
    foreign_name = anomaly.foreign_dataset(data.name)
    foreign = None if foreign_name is None else anomaly.load_offline(foreign_name, tuple(x.shape[1:]))
    note = None  # an upload or another built-in has no natural opposite: no other dataset, no note
    if foreign_name is not None and foreign is None:
        note = (f"{foreign_name} is not on this machine, so it is left out: this page never downloads "
                "(choosing it as the dataset on an architecture page downloads it once).")
    groups = {normal_name(data): x,
              **anomaly.different_inputs(x, seed=0, foreign=None if foreign is None else (foreign_name, foreign))}
    return groups, note


def held_out_groups(data: Dataset, label: int) -> dict[str, np.ndarray]:
    """{inputs name: images}: the test images of the classes a model trained on, then those of the one it never saw."""
    x, y = data.x_test, data.y_test
    return {"test images of the other classes": x[y != label][:VIEW_EXAMPLES],
            f"test images of {label_text(label, data.label_names)} (never seen)": x[y == label][:VIEW_EXAMPLES]}


@st.cache_data(max_entries=8, show_spinner="Reconstructing the examples...")
def reconstruction_errors(key: str, groups_key: str, _model, _groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{inputs name: per-image MSE} of the run of key on the groups groups_key names."""
    return {name: M.per_example_mse(x, reconstruct(_model, x)) for name, x in _groups.items()}


def score_set_choice(data: Dataset) -> tuple[str, dict[str, np.ndarray], str | None] | None:
    """Choose the data to score against the test examples: clearly different inputs, another dataset on this
    machine of the same example shape, or a file uploaded here (scored, not stored). (groups key, groups, note), or
    None when there is nothing to score yet or the file cannot be (its one sentence shown)."""
    others = [name for name in anomaly.same_shape_datasets(data.input_shape)
              if not anomaly.same_test_split(name, data.name)]
    shape = anomaly.examples_text(data.input_shape)  # e.g. images of 28 x 28 x 1
    choice = st.selectbox(
        "Data to score", [DIFFERENT, *others, UPLOAD], key=f"anomaly.score.{data.name}",
        format_func=lambda name: name if name in (DIFFERENT, UPLOAD) else f"The test examples of {name}",
        help=f"Scored against the {normal_name(data)}: made from them, another dataset on this machine of "
             f"{shape} like these (none is downloaded), or a file of your own.")
    if choice == DIFFERENT:
        groups, note = different_groups(data)
        return "different", groups, note
    normal = {normal_name(data): data.x_test[:VIEW_EXAMPLES]}
    if choice != UPLOAD:
        try:
            other = anomaly.score_dataset(choice, data)
        except DataError as exc:
            st.error(str(exc))
            return None
        return f"dataset {choice}", {**normal, f"test examples ({choice})": other[:VIEW_EXAMPLES]}, None
    file = st.file_uploader(f"A file to score: {FORMATS}", type=list(UPLOAD_TYPES), key=f"anomaly.upload.{data.name}",
                            help=f"It must hold {shape} like {data.name}; it is scored here and not stored.")
    if file is None:
        st.info(f"Upload a file of {shape} to score them against the {normal_name(data)}.")
        return None
    content = file.getvalue()
    try:
        x = anomaly.upload_examples(inspect(file.name, content), data)
    except DataError as exc:
        st.error(str(exc))
        return None
    digest = hashlib.sha256(content).hexdigest()[:16]
    return f"upload {digest}", {**normal, f"{file.name} (uploaded)": x[:VIEW_EXAMPLES]}, None


def anomaly_scores(key: str, run: Run, data: Dataset) -> None:
    """The test examples against the data chosen to score (score_set_choice): scores_view."""
    chosen = score_set_choice(data)
    if chosen is None:
        return
    groups_key, groups, note = chosen
    scores_view(key, reconstruction_errors(key, groups_key, run.model, groups), groups, run.model, note)


def scores_view(key: str, errors: dict[str, np.ndarray], groups: dict[str, np.ndarray], model,
                note: str | None = None) -> None:
    """Histogram of errors, a threshold slider, precision, recall and ROC-AUC at that threshold with the counts,
    and error maps of the worst and best scored examples (per pixel for images, per feature for vectors); errors
    and groups (the examples): the normal examples' first, then each set of anomalies'."""
    if note:
        st.caption(note)
    vectors = _is_vectors(groups)
    _at_threshold(key, errors, unit_of(groups), "vectors" if vectors else "images")
    (_feature_maps if vectors else _error_maps)(errors, groups, model)


@st.fragment
def _at_threshold(key: str, errors: dict[str, np.ndarray], unit: str = UNIT, word: str = "images") -> None:
    """The threshold slider and what depends on it: a fragment, so a move redraws none of the maps below."""
    normal_name = next(iter(errors))
    normal = errors[normal_name]
    different = {name: e for name, e in errors.items() if name != normal_name}
    default = anomaly.default_threshold(normal)
    choices = anomaly.threshold_choices(np.concatenate(list(errors.values())), include=(default,))
    threshold = st.select_slider(
        f"Threshold ({unit}): {word} above it are flagged as anomalies", choices,
        value=anomaly.nearest(choices, default),
        format_func=lambda v: f"{v:.3g}", key=f"anomaly.threshold.{key}",
        help=f"It starts where 5% of the {normal_name} are flagged (false alarms).")
    pooled = anomaly.score(normal, np.concatenate(list(different.values())), threshold)
    shown = [("Precision (%)", f"{pooled.precision:.1%}", f"Of the flagged {word}, the share that are anomalies."),
             ("Recall (%)", f"{pooled.recall:.1%}", "Of the anomalies, the share flagged."),
             ("False alarms (%)", f"{pooled.false_alarms:.1%}", f"Of the {normal_name}, the share flagged."),
             ("ROC-AUC (0 to 1)", f"{pooled.roc_auc:.3f}",
              (f"The chance that an anomaly has a larger error than one of the {normal_name}: 0.5 is chance, "
               "1 perfect. It does not depend on the threshold."))]
    for column, (label, value, meaning) in zip(st.columns(len(shown)), shown):
        column.metric(label, value, help=meaning)

    st.plotly_chart(figures.error_histogram(errors, threshold, unit, examples=word), key="anomaly.histogram")
    rows = []
    for name, e in errors.items():
        scores = None if name == normal_name else anomaly.score(normal, e, threshold)
        rows.append({
            "inputs": name + (" (normal)" if scores is None else ""),
            word: len(e),
            f"median error ({unit})": float(np.median(e)),
            "flagged (%)": 100 * float((e > threshold).mean()),
            # Text: the normal images' own row says what it is rather than a blank or "None".
            f"ROC-AUC against the normal {word}": f"{scores.roc_auc:.3f}" if scores else "(these are the normal)",
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        f"median error ({unit})": st.column_config.NumberColumn(format="%.4f"),
        "flagged (%)": st.column_config.NumberColumn(format="%.1f"),
    })
    counts = ", ".join(f"{len(e)} {name}" for name, e in different.items())
    flagged_anomalies = sum(int((e > threshold).sum()) for e in different.values())
    st.caption(f"Anomalies are the positive class. Precision depends on the mix: here {len(normal)} {normal_name} "
               f"against {counts}. At this threshold {flagged_anomalies + int((normal > threshold).sum())} {word} "
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
                                       zmax=float(((images[:MAPS] - recons[:MAPS]) ** 2).mean(axis=-1).max())),
                    key="anomaly.maps.best", theme=None)
    st.caption(f"The {MAPS} best scored, on the same colour scale as the worst: a dark map is a faithful copy.")


def _feature_maps(errors: dict[str, np.ndarray], groups: dict[str, np.ndarray], model) -> None:
    """The worst and best scored vectors of every set, their squared error per feature as rows of a heatmap, both
    heatmaps on one colour scale: where the pixel maps are for images."""
    scored = sorted((float(e[i]), name, i) for name, e in errors.items() for i in range(len(e)))
    picks = scored[::-1][:MAPS] + scored[:MAPS]
    vectors = np.stack([groups[name][i] for _, name, i in picks])
    recons = reconstruct(model, vectors)
    first = next(iter(errors))
    titles = [f"{'normal' if name == first else name} #{i} ({mse:.3g})" for mse, name, i in picks]
    worst_max = float(((vectors[:MAPS] - recons[:MAPS]) ** 2).max())
    titles_px = 8 * max(len(t) for t in titles) + 16  # both maps' columns in line, whatever their titles' widths
    st.subheader("Where the error is")
    st.plotly_chart(figures.feature_error_map(vectors[:MAPS], recons[:MAPS], titles[:MAPS], titles_px=titles_px),
                    key="anomaly.maps.worst", theme=None)
    st.caption(f"The {MAPS} worst scored vectors of all sets ({VECTOR_UNIT} in brackets): the squared error of "
               "each feature.")
    st.plotly_chart(figures.feature_error_map(vectors[MAPS:], recons[MAPS:], titles[MAPS:], zmax=worst_max,
                                              titles_px=titles_px),
                    key="anomaly.maps.best", theme=None)
    st.caption(f"The {MAPS} best scored, on the same colour scale as the worst: a dark row is a faithful copy.")
