"""Compare: every stored run of a dataset in one table, bar charts, and the same test images reconstructed by each."""

import numpy as np
import pandas as pd
import streamlit as st

from aecore import figures, own_models
from aecore import metrics as M
from aecore.datasets import DataError, load_dataset
from aecore.errors import ModelError
from aecore.models import reconstruct
from dashboard.views import probe
from dashboard.views.run_table import UPLOADED_KEY, runs_table, uploaded_table
from dashboard.model_cache import load_stored, uploaded
from dashboard.run_page import show_store_problems
from dashboard.run_view import VIEW_EXAMPLES
from dashboard.state import get_store

MAX_SIDE_BY_SIDE = 6  # models loaded for the image rows: each costs memory
QUALITY_COLUMNS = ("test BCE (nats per pixel)", "test MSE (per pixel)")

st.title("Compare runs")
store = get_store()
entries = store.entries()
own = own_models.stored_models()  # uploaded models (Your model page), each listed with the dataset it was checked for
if not entries and not own:
    st.info("The run cache is empty: train a model on one of the architecture pages first.")
    st.page_link("app_pages/stacked.py", label="Train the stacked autoencoder", icon=":material/arrow_forward:")
    st.stop()

datasets = sorted({e["config"]["dataset"] for e in entries} | {m.dataset for m in own})
dataset = st.selectbox("Dataset", datasets, index=datasets.index("mnist-sample") if "mnist-sample" in datasets else 0)
parts = [runs_table([e for e in entries if e["config"]["dataset"] == dataset]),
         uploaded_table([m for m in own if m.dataset == dataset])]
table = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
is_uploaded = table["architecture"] == own_models.ARCHITECTURE
table.insert(0, "#", range(1, len(table) + 1))  # the scatter's points carry these numbers
trained, uploads = int((~is_uploaded).sum()), int(is_uploaded.sum())
runs, models = "run" if trained == 1 else "runs", "model" if uploads == 1 else "models"
listed = f"{trained} {runs} of {dataset} in the run cache ({store.root}), newest first"
if uploads:
    listed = (f"{listed}, then {uploads} uploaded {models} (Your model page)" if trained else
              f"{uploads} uploaded {models} of {dataset} (Your model page), and no run of it in the run cache")
st.caption(f"{listed}.")
# The run's name already says its architecture, dataset and epochs; what is left fits a projector's width.
st.dataframe(table.drop(columns=["key", "dataset", "architecture", "epochs", "bottleneck size"]), hide_index=True,
             column_config={
                 "#": st.column_config.NumberColumn(width=40),
                 "run": st.column_config.TextColumn(width="large"),
                 "trained at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                 "parameters": st.column_config.NumberColumn(format="localized"),
                 "test MSE (per pixel)": st.column_config.NumberColumn("MSE (per pixel)", format="%.4f"),
                 "test BCE (nats per pixel)": st.column_config.NumberColumn("BCE (nats/pixel)", format="%.4f"),
                 "PSNR (dB)": st.column_config.NumberColumn(format="%.1f"),
                 "training time (s)": st.column_config.NumberColumn("training (s)", format="%.1f"),
             })

bars = {"test BCE (nats per pixel)": "test BCE (nats/pixel)", "test MSE (per pixel)": "test MSE (per pixel)",
        "PSNR (dB)": "PSNR (dB)", "training time (s)": "training time (s)", "parameters": "parameters",
        "bottleneck size": "bottleneck (values)"}
offered = {title: column for column, title in bars.items() if table[column].notna().any()}
by = st.segmented_control("Compare by", list(offered), default=next(iter(offered)), key="compare.by") \
    or next(iter(offered))
st.plotly_chart(figures.compare_bars(table, offered[by], "run", "architecture"), key="compare.bars")

# BCE is what every image model of a dataset reports; vectors have MSE only.
timed = table[table["training time (s)"].notna()]  # uploaded models have no training time
quality = next((c for c in QUALITY_COLUMNS if timed[c].notna().any()), None)
if quality is not None and len(timed):
    st.subheader("Test quality against training time")
    st.caption(f"Each run is a point, numbered as in the table; lower and further left is better "
               f"({quality.split(' (')[0]}: lower is better).")
    st.plotly_chart(figures.quality_against_time(timed, quality, "training time (s)", "run", "architecture", "#"),
                    key="compare.quality_time")

try:
    data = load_dataset(dataset)
except DataError as exc:
    st.error(str(exc))
    st.stop()
if not data.is_image:
    st.caption("Side-by-side reconstructions are drawn for image datasets; the Basic page shows these points in 3D.")
    st.stop()

st.subheader("The same test images, reconstructed by each run")
left, right = st.columns(2)
how_many = left.slider("How many", 2, 12, 8, key="compare.count")
seed = right.number_input("Seed", 0, 10_000, 0, key="compare.seed")
x_view = data.x_test[:VIEW_EXAMPLES]
idx = np.random.default_rng(seed).choice(len(x_view), size=how_many, replace=False)
x = x_view[idx]
rows = [x]
captions = [[data.test_title(i) for i in idx]]
st.markdown("**Test images**")
st.plotly_chart(figures.image_grid([x], captions, tile_px=100), key="compare.originals")


def held(row):
    """The row's run (or uploaded model: its .model as a run's) through the bounded model cache; None if gone."""
    if not row["key"].startswith(UPLOADED_KEY):
        return load_stored(store, row["key"])
    entry = own_models.stored(row["key"].removeprefix(UPLOADED_KEY))
    try:
        return None if entry is None else uploaded(entry)
    except ModelError:
        return None


shown_runs = []  # (label, architecture, key, run) of the runs drawn, for the probes below
# Uploaded models first, so each is drawn whatever the number of runs; then in the table's order.
side_by_side = pd.concat([table[is_uploaded], table[~is_uploaded]]).head(MAX_SIDE_BY_SIDE).sort_values("#")
for _, row in side_by_side.iterrows():
    run = held(row)
    if run is None:
        continue
    # An uploaded model without an encoder has no codes to probe.
    if not row["key"].startswith(UPLOADED_KEY) or own_models.has_parts(run.model, data):
        shown_runs.append((f"#{row['#']} {row['run']}", row["architecture"], row["key"], run))
    recon = reconstruct(run.model, x)
    errors = M.per_example_mse(x, recon)
    rows.append(recon)
    captions.append([f"MSE {e:.4f}" for e in errors])
    whole = "" if pd.isna(row["test MSE (per pixel)"]) else f"; the whole test set: {row['test MSE (per pixel)']:.4f}"
    st.markdown(f"**#{row['#']} {row['run']}**: MSE {errors.mean():.4f} per pixel over these {how_many} images{whole}")
    st.plotly_chart(figures.image_grid([recon], [captions[-1]], tile_px=100), key=f"compare.{row['key']}")
show_store_problems(store)
if len(table) > MAX_SIDE_BY_SIDE:
    st.caption(f"The {MAX_SIDE_BY_SIDE} newest runs are shown.")
st.download_button("Download this comparison (PNG)", lambda: figures.png_grid(rows, captions),
                   f"compare-{dataset}.png", mime="image/png", on_click="ignore")

probe.across_runs(shown_runs, data)
