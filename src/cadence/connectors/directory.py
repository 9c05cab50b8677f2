"""The org chart from a source's directory (Google Admin SDK, Microsoft Graph ``/users``).

``cadence org pull`` calls :func:`fetch_directory`; the connector of the source's kind does the
reading, so its credentials, endpoints and retry policy are the ones ``cadence sync`` uses.
"""

from __future__ import annotations

from collections.abc import Callable

from cadence.config import Config
from cadence.connectors.base import DirectoryListing
from cadence.connectors.kinds import connect
from cadence.connectors.retry import RetryPolicy


def fetch_directory(
    config: Config,
    source_name: str,
    retry: RetryPolicy | None = None,
    skip: Callable[[str], bool] | None = None,
) -> DirectoryListing:
    """Everyone the source's directory lists, each with ``source`` set to ``source_name``, and
    with the country and time zone the directory says (what it could not say is counted in the
    listing's ``unfilled``). ``skip(email)`` true: that person's own calendar or mailbox is not
    read (their time zone stays unknown); the store knows who, and passes this in.

    Raises :class:`cadence.errors.ConfigError` for an unknown source and
    :class:`cadence.errors.SyncError` (``AuthError`` for refused credentials) when the directory
    cannot be read; nothing is changed in the store here.
    """
    return connect(config, source_name, retry).fetch_directory(skip)
