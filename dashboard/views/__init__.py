"""The views of the pages: one module a view or a family of views (tabs, panels, tables)."""
