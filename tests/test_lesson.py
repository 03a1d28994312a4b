"""The Lesson page (app_pages/lesson.py, dashboard/lesson/): every step opens at once on its shipped runs, with the
notes' claim and a live figure; the step lives in the URL (a link opens it, Previous / Next move it); a URL naming no
step is one sentence. The steps' own figures and "try it" actions: tests/test_lesson_dense.py and _images.py."""

import pytest
from streamlit.testing.v1 import AppTest

import aecore.train
from dashboard.lesson import STEPS, step_index
from tests.helpers import APP, TIMEOUT, assert_clean, open_page, refuse_training, texts


def _open_step(step: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if step is not None:
        at.query_params["step"] = step
    at.run()
    at.switch_page("app_pages/lesson.py").run()
    assert_clean(at)
    return at


def _title(at: AppTest) -> str:
    (title,) = texts(at.title)
    return title


def test_the_url_names_a_step_by_its_slug_or_number_and_anything_else_is_one_sentence():
    assert step_index("loss") == (len(STEPS) - 1, None)
    assert step_index("2") == (1, None) and step_index(None) == (0, None) and step_index("") == (0, None)
    for bad in ("0", str(len(STEPS) + 1), "-1", "Loss", "x" * 500):
        index, sentence = step_index(bad)
        assert index == 0 and "no step" in sentence and len(sentence) < 300
        assert sentence.endswith(".") and sentence.replace("...", "").count(".") == 1  # one sentence
    assert len({step.slug for step in STEPS}) == len(STEPS) == 6


@pytest.mark.slow  # six steps, each drawing its figures from shipped runs
def test_every_step_opens_at_once_on_its_shipped_runs_with_the_claim_and_a_figure(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    monkeypatch.setattr(aecore.train, "train", refuse_training)  # opens at once: nothing trains to draw a step
    for number, step in enumerate(STEPS, start=1):
        at = _open_step(step.slug)
        assert _title(at) == f"{number}. {step.title}"
        assert at.query_params["step"] == [step.slug] or at.query_params["step"] == step.slug
        assert any(step.claim[:40] in m.value for m in at.markdown), step.slug
        assert at.get("plotly_chart") or at.get("imgs"), f"step {step.slug} draws no figure"
        assert not texts(at.error), (step.slug, texts(at.error))


def test_next_and_previous_move_the_step_and_the_url_and_a_bad_step_opens_the_first(monkeypatch):
    monkeypatch.setenv("AECORE_READY_MADE", "1")
    at = _open_step("undercomplete")
    assert _title(at).startswith("2. ")
    (next_button,) = [b for b in at.button if b.label == "Next"]
    next_button.click().run()
    assert_clean(at)
    assert _title(at).startswith("3. ") and at.query_params["step"] in (["stacked"], "stacked")
    (previous,) = [b for b in at.button if b.label == "Previous"]
    previous.click().run()
    previous.click().run()
    assert _title(at).startswith("1. ") and at.query_params["step"] in (["copy"], "copy")
    (previous,) = [b for b in at.button if b.label == "Previous"]
    assert previous.disabled
    at = _open_step("no-such-step")
    assert _title(at).startswith("1. ")
    (warning,) = texts(at.warning)
    assert "no step 'no-such-step'" in warning


def test_home_links_to_the_lesson():
    at = open_page("home")
    links = [link for link in at.get("page_link") if "lesson" in link.proto.page.lower()]
    assert links, "Home has no link to the Lesson"
