"""The history's errors, under plugyard's one root (``PlugyardError``)::

    PlugyardError
    └── HistoryError             the history database is unreachable or its schema is not at head
        ├── SchemaBehind         the schema is older than this plugyard (run ``plugyard db upgrade``)
        └── UnknownCall          no recorded call of this user has that id (rating a call)

``HistoryError`` and ``SchemaBehind`` are on the public face (``plugyard``): a host refuses to start
with them, so whoever drives a host may meet them. A ``PlugyardError`` raised by a ``startup`` hook
stops the host; the command line exits 3 with its message.
"""

from __future__ import annotations

from plugyard.core.errors import PlugyardError


class HistoryError(PlugyardError):
    """The history database cannot be used."""


class SchemaBehind(HistoryError):
    """The database schema is older than this version of plugyard expects."""


class UnknownCall(HistoryError):
    """No recorded call has this id (for this user): it cannot be rated."""
