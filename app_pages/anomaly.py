"""Anomaly scores: a trained model's reconstruction error separating its test images from clearly different inputs."""

import streamlit as st

from dashboard.views import run_table
from dashboard.views.anomaly import anomaly_scores
from dashboard.run_page import show_store_problems
from dashboard.state import get_store

st.title("Anomaly scores")
st.caption("An autoencoder reconstructs images like its training data well and others badly, so its per-image "
           "reconstruction error can flag inputs that do not belong: here the test images against inverted "
           "test images, uniform random noise and, when it is on this machine, another dataset.")

store = get_store()
runs = run_table.image_runs(store)
if runs.empty:
    run_table.no_runs_yet()
    st.stop()
left, right = st.columns(2)
with left:
    chosen = run_table.choose_dataset(runs, key="anomaly.dataset")
if chosen is None:
    st.stop()
dataset, data = chosen
with right:
    picked = run_table.choose_run(runs[runs["dataset"] == dataset], store, key=f"anomaly.run.{dataset}")
if picked is not None:
    anomaly_scores(*picked, data)
show_store_problems(store)
