"""The Lesson: the design notes one claim at a time, each shown live on a real model (dashboard.lesson)."""

import streamlit as st

from dashboard.lesson import STEPS, step_index

index, problem = step_index(st.query_params.get("step"))
if problem:
    st.warning(problem)
titles = [f"{i + 1} {step.word}" for i, step in enumerate(STEPS)]


def _go(to: int) -> None:
    st.query_params["step"] = STEPS[to].slug  # the URL holds the step: a teacher can link to it


def _picked() -> None:
    if (picked := st.session_state["lesson.step"]) in titles:  # None: the shown step clicked again
        _go(titles.index(picked))


st.session_state["lesson.step"] = titles[index]  # the URL's step, whatever was clicked before (a link, Back)
st.segmented_control("Step", titles, key="lesson.step", label_visibility="collapsed", on_change=_picked)
st.query_params["step"] = STEPS[index].slug
step = STEPS[index]

st.title(f"{index + 1}. {step.title}")  # short: one line on a projector; the step bar above says where it is
st.markdown(step.claim)
step.draw()

back, _, forward = st.columns([1, 4, 1])
back.button("Previous", icon=":material/arrow_back:", disabled=index == 0, on_click=_go, args=(max(index - 1, 0),),
            width="stretch")
forward.button("Next", icon=":material/arrow_forward:", disabled=index == len(STEPS) - 1, on_click=_go,
               args=(min(index + 1, len(STEPS) - 1),), width="stretch")
