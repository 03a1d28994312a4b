"""Home: what an autoencoder is, the four architectures as cards, and where to start."""

import streamlit as st

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

CARDS = [
    ("app_pages/basic.py", "Basic", "3 → 2 → 3",
     "Dense, undercomplete and linear, trained with MSE on a 3D point cloud: it finds the same plane as PCA."),
    ("app_pages/stacked.py", "Stacked", "784 → 128 → 64 → 32 → 64 → 128 → 784",
     "Dense layers around a 32-unit bottleneck on MNIST digits, mirrored decoder, BCE or MSE."),
    ("app_pages/conv.py", "Convolutional", "28×28×1 → 14×14×64 → 7×7×128 → 7×7×256 → 28×28×1",
     "Conv + pooling down to a 7×7 feature map, upsampling back up; BCE per pixel."),
    ("app_pages/vae.py", "Variational", "28×28×1 → (mean, log_var) of size k → z → 28×28×1",
     "Convolutional VAE with BatchNorm; loss = summed BCE + KL per image. Slide through its latent space."),
]

for row in (CARDS[:2], CARDS[2:]):
    for column, (page, name, shape, text) in zip(st.columns(2), row):
        with column.container(border=True):
            st.subheader(name)
            st.code(shape, language=None)
            st.write(text)
            st.page_link(page, label=f"Open {name}", icon=":material/arrow_forward:")

st.subheader("Where to start")
st.markdown(
    """
1. **Basic**: press *Train* and watch a 2D code recover the plane PCA finds (a few seconds).
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
