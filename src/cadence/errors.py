"""The exceptions cadence raises, one tree so callers can catch as broadly as they need.

::

    CadenceError
     ├── UsageError            bad input or configuration; nothing was changed (exit 2)
     │    ├── ConfigError      a config key or file is wrong (names the file and the key)
     │    └── InputError       an input file is wrong (names the file and the line)
     ├── StoreError            the database cannot be used as asked (exit 1)
     │    └── SchemaOutOfDate  the schema is behind the code: run ``cadence init``
     ├── SyncError             one mailbox could not be synced (reported per mailbox)
     │    ├── AuthError        credentials refused or delegation missing
     │    └── TokenExpired     a saved sync token is no longer valid: resync in full
     └── LockHeld              another nightly run holds the lock (exit 1)

Domain code raises these; only the CLI turns them into ``click.ClickException`` and exit codes.
"""

from __future__ import annotations


class CadenceError(Exception):
    """Base of every error cadence raises on purpose."""

    exit_code = 1


class UsageError(CadenceError):
    """Bad usage or bad input: nothing was changed."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or key is wrong."""


class InputError(UsageError):
    """An input file (an org chart CSV, a key file) is wrong."""


class StoreError(CadenceError):
    """The database cannot be reached or used as asked."""


class SchemaOutOfDate(StoreError):
    """The database schema is older than this version of cadence."""


class SyncError(CadenceError):
    """A mailbox could not be synced; other mailboxes go on."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class AuthError(SyncError):
    """Credentials were refused, or a mailbox is not delegated to cadence."""


class TokenExpired(SyncError):
    """The saved sync token or delta link expired (HTTP 410): a full resync is needed."""


class LockHeld(CadenceError):
    """Another run holds the nightly lock."""
