"""Your digit: draw or upload a digit, see it the way MNIST would, and let every trained model reconstruct it."""

import streamlit as st

from dashboard.views import run_table, your_digit
from dashboard.run_page import show_store_problems
from dashboard.state import get_store

st.title("Your digit")
st.caption("Draw a digit or upload a picture of one. It is centred and scaled the way MNIST's digits were "
           "(fitted into a 20 x 20 box, its centre of mass in the middle of 28 x 28), then every trained model "
           "of the chosen dataset reconstructs it.")

digit = your_digit.digit_input()

st.subheader("Reconstructed by each trained model")
store = get_store()
runs = run_table.image_runs(store)
if runs.empty:
    run_table.no_runs_yet()
    st.stop()
chosen = run_table.choose_dataset(runs, key="digit.dataset")
if chosen is None:
    st.stop()
dataset, data = chosen
if not your_digit.takes_digit(data):  # said before any model is loaded: none of this dataset can take it
    st.info(your_digit.OTHER_SHAPE)
elif digit is None:
    st.info("Draw a digit or upload an image above to see the models reconstruct it.")
else:
    your_digit.reconstructed_by_each(digit, runs[runs["dataset"] == dataset], store)
    st.page_link("app_pages/vae.py", label="See its encoding in the Variational page's latent space",
                 icon=":material/arrow_forward:")
show_store_problems(store)
