"""The Codes' worth tab: a linear probe on a run's frozen codes against one on pixels, at few labels and all."""

from __future__ import annotations

import streamlit as st

from aecore import figures, probe
from aecore.datasets import Dataset
from dashboard.run_view import RunView


@st.cache_data(max_entries=16, show_spinner="Fitting the probes: codes and pixels at each label count...")
def fitted_points(key: str, _model, _data: Dataset, fine_tune: bool = False) -> list[probe.ProbePoint]:
    """The probe of the run of key (its page's tab and Compare share it), with the encoder fine-tuned if asked."""
    return probe.codes_worth(_model, _data, fine_tune=fine_tune)


@st.fragment
def codes_worth(view: RunView) -> None:
    """The offer, then the chart of test accuracy against labels for codes and pixels (once per run)."""
    if view.data.y_train is None or view.data.y_test is None:
        st.info(f"'{view.data.name}' has no labels: what its codes are worth with few labels needs some.")
        return
    asked = f"probe.{view.key}"
    st.markdown("What does this model buy when labels are scarce? A logistic regression learns the classes from "
                f"{', '.join(map(str, probe.LABEL_COUNTS))} and all {len(view.data.y_train):,} labelled training "
                f"images, once on the frozen encoder's codes and once on the raw pixels ({probe.DRAWS} seeded draws "
                "of the labelled images each); the test accuracy is on the whole test set.")
    fine_tune = st.toggle(
        "Also fine-tune the encoder", key=f"{view.config.arch}.probe.fine_tune",
        help=f"A copy of the encoder and a softmax head trained together on the labelled images "
             f"({probe.FINE_TUNE_STEPS} steps of {probe.FINE_TUNE_BATCH}, {probe.FINE_TUNE_DRAWS} draws at each "
             "count): a Keras training per draw, so it takes longer than the probes.")
    if not st.session_state.get(asked) and not st.button("Fit the probes", icon=":material/query_stats:",
                                                          key=f"{view.config.arch}.probe.fit"):
        return
    st.session_state[asked] = True
    points = fitted_points(view.key, view.run.model, view.data, fine_tune)
    st.plotly_chart(figures.probe_curves(points), key=f"{view.config.arch}.probe.chart")
    at = {(p.features, p.labels): p for p in points}
    fewest = min(p.labels for p in points)
    codes, pixels = at[("codes", fewest)], at[("pixels", fewest)]
    verdict = "beat" if codes.mean > pixels.mean + codes.std else "do not beat" \
        if codes.mean < pixels.mean - codes.std else "match"
    st.caption(f"With {fewest} labels the codes {verdict} the pixels: {codes.mean:.1%} ± {codes.std:.1%} against "
               f"{pixels.mean:.1%} ± {pixels.std:.1%} test accuracy (mean ± standard deviation over the draws).")
    if fine_tune:
        most = max(p.labels for p in points)
        tuned, frozen = at[(probe.FINE_TUNED, most)], at[("codes", most)]
        few = at[(probe.FINE_TUNED, fewest)]
        overfit = ": so few labels let a whole network fit them and little else" if few.mean < codes.mean else ""
        st.caption(f"Fine-tuning changes the encoder to fit the labels: with all {most:,} it reaches {tuned.mean:.1%} "
                   f"against the frozen codes' {frozen.mean:.1%}; with {fewest}, {few.mean:.1%} against "
                   f"{codes.mean:.1%}{overfit}.")


def across_runs(runs: list[tuple[str, str, str, object]], data: Dataset) -> None:
    """Compare's section: each run's codes (label, architecture, store key, run) and the pixels, test accuracy
    against labels in one chart, once asked (each run's probe is its tab's, cached per run)."""
    if data.y_train is None or data.y_test is None or not runs:
        return
    st.subheader("What the codes are worth with few labels")
    st.caption(f"A logistic regression on each run's frozen codes, and one on the pixels, from "
               f"{', '.join(map(str, probe.LABEL_COUNTS))} and all labelled training images "
               f"({probe.DRAWS} draws each).")
    offer = f"Fit the probes of these {len(runs)} runs"
    if not st.session_state.get("compare.probe") and not st.button(offer, icon=":material/query_stats:",
                                                                    key="compare.probe.fit"):
        return
    st.session_state["compare.probe"] = True
    series = {label: (arch, fitted_points(key, run.model, data)) for label, arch, key, run in runs}
    st.plotly_chart(figures.probe_across_runs(series), key="compare.probe.chart")
