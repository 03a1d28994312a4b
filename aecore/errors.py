"""The errors a user can cause: each message is one sentence a person can act on.

A leaf: imports nothing of aecore, so every module may raise these. The CLI turns any of
USER_ERRORS into one line on stderr and exit status 2; the pages show the sentence.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration a user asked for that cannot be run."""


class DataError(ValueError):
    """A dataset (a name, a file, an upload) that cannot be loaded or stored."""


class StoreError(OSError):
    """The run-cache folder cannot be used."""


class ExportError(ValueError):
    """An export that cannot be written."""


class DistributeError(ValueError):
    """A placement (strategy, devices) that cannot be had here."""


class ModelError(ValueError):
    """An uploaded model file (aecore.own_models) that cannot be read, loaded, checked or stored."""


USER_ERRORS = (ConfigError, DataError, StoreError, ExportError, DistributeError, ModelError)
