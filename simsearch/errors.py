"""One exception family, so the CLI and UI can turn any expected failure into one clear line.

Every message names what is wrong and how to fix it; anything that is not a
``SimsearchError`` is a bug and is allowed to surface with its traceback.
"""

from __future__ import annotations


class SimsearchError(Exception):
    """Base class for every error a user can cause and fix."""


class InputError(SimsearchError):
    """The input file, its columns or its texts cannot be used."""


class InvalidArgumentError(SimsearchError):
    """An argument is out of range or malformed (an empty query, k < 1, an unsafe name)."""


class IndexNotFoundError(SimsearchError):
    """No index of that name exists in the index directory."""


class IndexExistsError(SimsearchError):
    """An index of that name exists already and the caller did not ask to replace it."""


class CorruptIndexError(SimsearchError):
    """A file of the index is missing, truncated or unreadable."""


class FormatVersionError(SimsearchError):
    """The index was written by a newer simsearch than this one."""


class ModelMismatchError(SimsearchError):
    """The model offered for an index is not the one its vectors were made with."""


class ModelNotFoundError(SimsearchError):
    """The model could not be found locally and could not be fetched."""


class MissingDependencyError(SimsearchError):
    """An optional package is needed for this feature and is not installed."""


class IndexBusyError(SimsearchError):
    """Another process is changing the index; a second writer is refused at once, never queued."""


class StaleWriterError(SimsearchError):
    """The index was rebuilt after this object opened it, so its writes would go to a retired build."""
