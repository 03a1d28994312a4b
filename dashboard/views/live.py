"""The live panel of a training this session follows: its place in the queue, then the training as it goes.

A fragment that reruns itself every POLL_S seconds (and tells the queue the page is
still open); when the job has ended it reruns the whole page, which shows the run (while
the job waits or trains, the page draws no run below the panel: run_page). The
replay images' reconstructions show from before the first step and move at every tick
(aecore.train.LIVE_FRAME_S is shorter than POLL_S); the loss curves so far and the VAE's
latent scatter after each epoch. What it draws is made once per job and frame or epoch and shared by
every session that watches.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore import figures, jobs
from aecore.models import get_spec, specs
from dashboard import state
from dashboard.views import replay as replay_view

# Each tick makes the browser redraw the page, on the CPU the training needs when both share a machine; a slower
# tick would leave the first picture and the end of a training waiting longer.
POLL_S = 1.5


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@st.fragment(run_every=POLL_S)
def live_panel(arch: str) -> None:
    """The panel of the job this session follows on the page of arch; nothing once it follows none."""
    # Read at every tick, not captured at the first: a tick scheduled before the page moved on (the run
    # shown, Stop) finds no job, and one after another Train finds the new one.
    job = state.followed_job(arch)
    if job is None:
        return
    queue = state.training_queue()
    if not job.active:
        st.rerun()  # the whole page: it shows the run, or why there is none
    queue.heartbeat(job, state.subscriber_id())
    with st.container(border=True, key=f"live.{arch}"):
        if job.state is jobs.JobState.QUEUED:
            _queued(queue, job)
        else:
            _training(job)
        if st.button("Stop", key=f"live.{arch}.stop", icon=":material/stop_circle:",
                     help="Stop following this training; one nobody follows stops and stores nothing."):
            state.stop(arch)
            st.rerun()


def shared_with(job: jobs.Job) -> str:
    """' (with N other sessions)' when other sessions follow the job too, else ''."""
    others = len(job.subscribers) - 1
    return f" (with {others} other session{'s' if others > 1 else ''})" if others > 0 else ""


def _queued(queue: jobs.TrainingQueue, job: jobs.Job) -> None:
    position, wait = queue.position(job), queue.wait_seconds(job)
    about = f", about {max(1, round(wait))} s" if wait is not None else ""
    st.markdown(f"**Waiting to train {job.config.describe()}**{shared_with(job)}: "
                f"{ordinal(max(1, position))} in line{about}.")


def _training(job: jobs.Job) -> None:
    # Read once: the job moves on while this draws, and every line below speaks of the same moment.
    p, snapshot, trace, frame = job.progress, job.snapshot, job.loss_trace, job.live_frame
    st.markdown(f"**Training {job.config.describe()}**{shared_with(job)}")
    unit = get_spec(job.config.arch).loss_unit(job.config, "pixel" if job.data.is_image else "coordinate")
    if p is None:
        since = 0.0 if job.started_at is None else max(0.0, state.training_queue().clock() - job.started_at)
        st.progress(0.0, text=f"Building the model and preparing the data · {since:.1f} s")
    elif not p.started:
        st.progress(0.0, text=f"Preparing the first training step (tracing and compiling) · {p.seconds:.1f} s")
    else:
        loss = p.logs.get("loss")
        loss_text = f" · loss {loss:.4g} ({unit})" if loss is not None else ""
        st.progress(p.fraction, text=f"Epoch {p.epoch} of {p.epochs}, batch {p.batch} of {p.batches}{loss_text} · "
                                     f"{p.seconds:.1f} s")
    if frame is not None:
        st.image(figures.data_url(_replay_png(job.key, job.number, frame.epoch, frame.batch, job, frame.replay_frame)),
                 caption=f"{_frame_time(frame)}. {replay_view.rows_described(job.config)}; bottom: their "
                         "reconstructions.")
    if not trace:
        return
    at = trace[-1][0]
    curves = figures.live_loss(trace, snapshot.history if snapshot else {}, unit,
                               f"Loss to epoch {at:.1f} of {job.config.epochs}")
    if snapshot is None or snapshot.latent_points is None:
        st.plotly_chart(curves, key="live.loss")
        return
    left, right = st.columns(2)
    left.plotly_chart(curves, key="live.loss")
    right.plotly_chart(_latent_figure(job.key, job.number, snapshot.epoch, snapshot, job.data.label_names),
                       key="live.latent")


# Made once per (job, epoch) and shared by the sessions watching it: never mutate what these return.


def _frame_time(p) -> str:
    """When a live frame's reconstructions were made, as its caption starts."""
    if not p.started:
        return "Before training"
    if p.batch == p.batches:
        return f"After epoch {p.epoch} of {p.epochs}"
    return f"After {p.batch} of {p.batches} batches of epoch {p.epoch} of {p.epochs}"


@st.cache_resource(max_entries=16, show_spinner=False)
def _replay_png(key: str, number: int, epoch: int, batch: int, _job: jobs.Job, _frame: np.ndarray) -> bytes:
    rows, _ = replay_view.replay_rows(_job.data, _job.config, len(_frame))
    return figures.png_grid([np.asarray(r, np.float32) for r in [*rows, _frame]])


@st.cache_resource(max_entries=16, show_spinner=False)
def _latent_figure(key: str, number: int, epoch: int, _snapshot: jobs.EpochSnapshot,
                   label_names: tuple[str, ...] | None):
    fig = figures.latent_scatter_base(_snapshot.latent_points, _snapshot.latent_labels, _snapshot.latent_axis,
                                      label_names)
    fig.update_layout(height=320, margin=dict(t=40), legend=dict(orientation="h", y=-0.25), title=dict(
        text=f"The first {len(_snapshot.latent_points)} test images' codes after epoch {_snapshot.epoch}",
        font=figures.TITLE_FONT))
    return fig


def elsewhere(current_page: str) -> None:
    """In the sidebar, the trainings this session follows on other pages: kept alive (their pages do not poll
    them now), each with its state and a link back."""
    followed = [(spec, job) for spec in specs() if spec.name != current_page and (job := state.followed_job(spec.name))]
    if followed:
        with st.sidebar:
            _elsewhere(followed)


@st.fragment(run_every=POLL_S * 2)
def _elsewhere(followed: list) -> None:
    queue = state.training_queue()
    for spec, job in followed:
        queue.heartbeat(job, state.subscriber_id())
        if job.state is jobs.JobState.QUEUED:
            status = f"{ordinal(max(1, queue.position(job)))} in line"
        elif job.state is jobs.JobState.TRAINING:
            status = f"epoch {job.progress.epoch} of {job.progress.epochs}" if job.progress else "starting"
        else:
            status = job.state.value
        st.page_link(f"app_pages/{spec.name}.py", label=f"{spec.title}: {status}", icon=":material/model_training:")
