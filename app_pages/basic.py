"""Basic: the linear undercomplete autoencoder 3 -> 2 -> 3 on a 3D point cloud, against PCA."""

import streamlit as st

from aecore import figures
from aecore.models import get_spec
from dashboard import sections
from dashboard.runs import current_run, reconstructions

st.title("Basic autoencoder")
st.caption(get_spec("basic").description)

if view := current_run("basic"):
    sections.header(view)
    x = view.x_view
    three_d = x.shape[1] == 3
    tabs = st.tabs(["Point cloud", "Codes", "Against PCA", "Reconstructions", "Training", "Model"])
    with tabs[0]:
        if three_d:
            st.plotly_chart(figures.points_3d(x, reconstructions(view.key, view.run.model, x)))
            st.caption("Test points and their reconstructions, joined by grey error lines: "
                       "every reconstruction lies on the plane the decoder spans.")
        else:
            st.info(f"This dataset has {x.shape[1]}-D points; the 3D view needs 3-D points such as points3d.")
    with tabs[1]:
        sections.latent(view)
    with tabs[2]:
        m = view.run.metrics
        left, middle, right = st.columns(3)
        left.metric("Autoencoder MSE (per coordinate)", f"{m['test_mse']:.4f}")
        middle.metric("PCA MSE (per coordinate)", f"{m['pca_mse']:.4f}" if "pca_mse" in m else "n/a")
        if "pca_angle_deg" in m:
            right.metric("Angle between the planes (degrees)", f"{m['pca_angle_deg']:.2f}")
        else:
            right.metric("Angle between the planes", "n/a", help="Only defined for a linear code smaller than the input.")
        st.markdown(
            "**Why they agree:** with linear layers and a squared-error loss, the network can only map each point "
            "onto a k-dimensional plane, and the plane that loses the least squared error is the one spanned by "
            "the top k principal components, so training converges to PCA's plane "
            "(though not necessarily to its axes, which is why the planes, not the axes, are compared)."
        )
    with tabs[3]:
        sections.reconstruction_grid(view)
    with tabs[4]:
        sections.training(view)
    with tabs[5]:
        sections.model_summary(view)
