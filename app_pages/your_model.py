"""Your model: upload a trained .keras autoencoder, check it against a dataset, store it, and see it as a run."""

import streamlit as st

from aecore import own_models
from dashboard.views import your_model

st.title("Your model")
st.caption("An autoencoder you trained elsewhere, saved with Keras's model.save('name.keras'): loaded in Keras's safe "
           "mode with no custom code (a Lambda layer or a layer class of your own is refused), checked against a "
           "dataset (its input and output must both be one of its examples) and never trained here. Sub-models "
           "named encoder and decoder, as keras.io's examples build them, also give the latent view and what its "
           "codes are worth.")

just_stored = your_model.upload_section()
models = own_models.stored_models()
st.subheader("Stored models")
if not models:
    st.caption("No model has been uploaded yet.")
    st.stop()
your_model.stored_table(models)
chosen = your_model.choose(models, just_stored)
if (view := your_model.view_of(chosen)) is not None:
    your_model.show(view)
