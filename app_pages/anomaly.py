"""Anomaly scores: a trained model's reconstruction error separating its test images from clearly different inputs."""

import streamlit as st

from dashboard import held_out
from dashboard.views import run_table
from dashboard.views.anomaly import anomaly_scores
from dashboard.run_page import show_store_problems
from dashboard.state import get_store

st.title("Anomaly scores")
st.caption("An autoencoder reconstructs examples like its training data well and others badly, so its per-example "
           "reconstruction error can flag inputs that do not belong: a stored run's test examples against clearly "
           "different inputs, another dataset of the same shape on this machine or a file you upload; or a class "
           "left out of training.")

store = get_store()
DIFFERENT, HELD_OUT = "A stored model against other data", "A class the model never saw"
set_up = st.segmented_control("Anomalies", [DIFFERENT, HELD_OUT], default=DIFFERENT, key="anomaly.setup") or DIFFERENT
if set_up == HELD_OUT:
    st.caption("A model trained on every class but one, scored on the test images of the one it never saw against "
               "those of the others: the harder, more honest test. Its training runs through the queue once and "
               "stays in the run cache.")
    held_out.section(store)
else:
    runs = run_table.scorable_runs(store)  # image and vector runs: the normal data is the chosen run's dataset
    if runs.empty:
        run_table.no_runs_yet()
        st.stop()
    left, right = st.columns(2)
    with left:
        chosen = run_table.choose_dataset(runs, key="anomaly.dataset", vectors=True)
    if chosen is None:
        st.stop()
    dataset, data = chosen
    with right:
        picked = run_table.choose_run(runs[runs["dataset"] == dataset], store, key=f"anomaly.run.{dataset}")
    if picked is not None:
        anomaly_scores(*picked, data)
show_store_problems(store)
