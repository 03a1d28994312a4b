"""The pages, one script each, run by st.navigation in app.py (a package only so that the import contracts see them)."""
