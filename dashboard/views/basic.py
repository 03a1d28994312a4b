"""The basic page's views: its 3D reconstructions beside PCA's plane, and its MSE against PCA's."""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore import figures
from aecore.metrics import pca_baseline
from aecore.models import get_spec
from dashboard.model_cache import reconstructions
from dashboard.run_view import RunView


@st.cache_data(max_entries=12, show_spinner=False)
def pca_reconstructions(key: str, _x_train: np.ndarray, _x: np.ndarray, k: int) -> np.ndarray:
    """PCA's reconstructions of the view's points with k components fitted on the training set (key names the data)."""
    _, pca = pca_baseline(_x_train, _x[:1], k)
    return pca.inverse_transform(pca.transform(_x))


def point_cloud(view: RunView) -> None:
    """Test points, the autoencoder's reconstructions and PCA's, in 3D."""
    x = view.x_view
    if x.shape[1] != 3:
        st.info(f"This dataset has {x.shape[1]}-D points; the 3D view needs 3-D points such as points3d or swiss-roll.")
        return
    k = view.config.latent_dim
    pca = pca_reconstructions(view.key, view.data.x_train, x, k) if k < 3 else None
    st.plotly_chart(figures.points_3d(x, reconstructions(view.key, view.run.model, x), pca, f"PCA (k = {k})"))
    st.caption("Test points and the autoencoder's reconstructions, joined by grey error lines; PCA's reconstructions "
               "in light grey lie on its flat plane. Hide a trace by clicking its name in the legend.")


def against_pca(view: RunView) -> None:
    """The test MSE beside PCA's with as many components, the angle between the planes where defined, and why."""
    m, config = view.run.metrics, view.config
    unit = "per coordinate" + (", standardised" if view.config.dataset in ("swiss-roll", "s-curve") else "")
    pca_mse = m.get("pca_mse")
    # The header holds the numbers; here they are set side by side to be seen, then said in words.
    if pca_mse is not None:
        st.plotly_chart(figures.error_against_pca(m["test_mse"], pca_mse, config.latent_dim, f"test MSE ({unit})",
                                                  get_spec(config.arch).colour),
                        key="basic.against_pca")
    if "pca_angle_deg" not in m:
        st.caption("The angle between the planes (in the header where defined) is only defined for a linear network "
                   "whose code is smaller than the input.")
    if pca_mse:
        ratio = m["test_mse"] / pca_mse
        if ratio < 0.95:
            st.success(f"This run beats PCA: its test error is {ratio:.0%} of PCA's plane's.")
        elif ratio <= 1.05:
            st.info(f"This run matches PCA: its test error is {ratio:.0%} of PCA's plane's.")
        else:
            st.warning(f"This run does worse than PCA: its test error is {ratio:.0%} of PCA's plane's.")
    st.markdown(
        "**Where an autoencoder cannot beat PCA:** with no hidden layer the decoder is linear, so every "
        "reconstruction lies on a k-dimensional plane whatever the activation, and the plane that loses the least "
        "squared error is the one spanned by the top k principal components: with linear layers training converges "
        "to PCA's plane (though not necessarily to its axes, which is why the planes, not the axes, are compared).\n\n"
        "**Where it can:** with a hidden width and a non-linear activation (tanh, selu, relu) the decoder can bend "
        "its surface to follow a curved one such as the swiss roll or the S-curve, and reconstruct with a lower "
        "error than PCA's plane. A 2-unit code still has to lay the whole surface out flat, so where the roll folds "
        "back on itself neighbouring layers can be confused: look for long error lines in the 3D view."
    )
