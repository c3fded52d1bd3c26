"""Errors a user can fix: every one derives from FacematchError, and its message says how.

The CLIs print such errors as one `error: …` line and the app as one message on the page.
Any other exception is a bug in Facematch and keeps its traceback.
"""


class FacematchError(Exception):
    """Base of every error caused by input, files or settings rather than by a bug."""


class ConfigError(FacematchError, ValueError):
    """An option or setting has a value Facematch cannot use."""


class DatasetError(FacematchError):
    """The input cannot be used at all (bad header, unreadable file, no valid row, incomplete output)."""


class ModelError(FacematchError):
    """A model directory is missing, damaged or incompatible."""


class AssetError(FacematchError):
    """A third-party file is missing or damaged."""


class WeightsError(FacematchError):
    """Backbone weights cannot be found, downloaded or read."""


class StoreError(FacematchError):
    """The score history cannot be read or written."""
