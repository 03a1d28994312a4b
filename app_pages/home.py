"""Home: what an autoencoder is, the architectures as cards, and where to start."""

import streamlit as st

from aecore.datasets import DataError, load_dataset
from aecore.models import specs
from aecore.store import RunStore, run_key
from dashboard.forms import defaults_for


def _measured(arch: str) -> str:
    """' (it trained in 4 s on this server)' from the run cache's run of the page's default, or '' if none: a time
    measured here, not promised. One run.json read; Home imports no Keras."""
    default = defaults_for(arch)
    try:
        meta = RunStore().meta(run_key(default, load_dataset(default.dataset).fingerprint))
    except DataError:
        return ""
    seconds = (meta or {}).get("metrics", {}).get("seconds")
    return f" (it trained in {seconds:.0f} s on this server)" if isinstance(seconds, (int, float)) else ""


st.title("Autoencoder Studio")
st.markdown(
    """
An **autoencoder** learns to copy its input to its output through a narrow middle.
The **encoder** squeezes each example into a short code (the **bottleneck** or latent
vector); the **decoder** rebuilds the example from that code alone. Because the code is
smaller than the input, the network must keep what matters and drop the rest:
it learns a compressed representation without any labels. A **variational**
autoencoder goes one step further and makes the codes a smooth probability
distribution, so that decoding any point of it draws a new, plausible example.
"""
)

cards = specs()
for start in range(0, len(cards), 2):
    for column, spec in zip(st.columns(2), cards[start : start + 2]):
        with column.container(border=True):
            st.subheader(spec.title)
            # Markdown, not st.code: a code block draws empty until its highlighter has loaded.
            st.markdown(f"`{spec.diagram}`")
            st.write(spec.summary)
            st.page_link(f"app_pages/{spec.name}.py", label=f"Open {spec.title}", icon=":material/arrow_forward:")

st.subheader("Where to start")
st.page_link("app_pages/lesson.py", label="The Lesson: the design notes in six steps, each shown on a real model",
             icon=":material/school:")
st.markdown(
    f"""
1. **Basic**: press *Train* and watch a 2D code recover the plane PCA finds{_measured("basic")}.
2. **Variational**: train, then move the latent sliders; the decoded digit follows live.
3. Train **Stacked** and **Convolutional** on the same dataset, then open **Compare** to see
   every trained run side by side: size, error and training time.
4. Beyond the notes: set a **noise level** on Stacked or Convolutional to train a denoiser,
   scrub through any run's **training replay**, draw **your own digit** for every model to
   reconstruct, and see how well reconstruction error flags **anomalies**.

Every run is cached on disk, keyed by its hyperparameters and data: training the same
configuration again loads it at once. The offline dataset `mnist-sample` (5000 real
MNIST digits) needs no network.
"""
)
