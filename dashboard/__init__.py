"""Streamlit helpers shared by the pages: the sidebar form, the run getter and rendering sections.

Everything here may import streamlit; aecore never does.

Environment:
  AECORE_STUDIO_TEST_DEFAULTS=1  shrinks every form's defaults (1 epoch, 256 training
      images, a narrow conv net) so tests and quick demos train in seconds.
"""
