"""The exceptions cadence raises, one tree so callers can catch as broadly as they need.

::

    CadenceError
     ├── UsageError            bad input or configuration; nothing was changed (exit 2)
     │    ├── ConfigError      a config key or file is wrong (names the file and the key)
     │    └── InputError       an input file is wrong (names the file and the line)
     ├── StoreError            the database cannot be used as asked (exit 1)
     │    └── SchemaOutOfDate  the schema is behind the code: run ``cadence init``
     ├── SyncError             one mailbox could not be synced (reported per mailbox, named by
     │    │                    ``where``: the job reading it sets it, the connector need not)
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
    """A mailbox (or a directory) could not be read; other mailboxes go on.

    ``reason`` says what went wrong in the words of the API; ``where`` names what it was about
    (a mailbox's address, or "the directory"). A connector raises it with the reason alone, and
    the code that knows which mailbox it was reading (the sync job, the directory pull) names it
    once with :meth:`about`, so every message reads ``<where>: <reason>`` whoever raised it.
    """

    def __init__(self, reason: str, *, where: str | None = None, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where
        self.retryable = retryable

    def about(self, where: str) -> SyncError:
        """This error naming ``where``, unless something more precise was already named: a copy,
        since one error may be re-raised in several mailboxes (a failed ``$batch`` answers every
        part, a series every mailbox that waited for it)."""
        if self.where is not None:
            return self
        # Not copy.copy: once tblib's pickling support is installed (Dask's distributed does it),
        # a copy of an exception shares its __dict__ with the original.
        named = type(self).__new__(type(self), *self.args)
        named.__dict__.update(vars(self))
        named.where = where
        return named

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}" if self.where else self.reason


class AuthError(SyncError):
    """Credentials were refused, or a mailbox is not delegated to cadence."""


class TokenExpired(SyncError):
    """The saved sync token or delta link expired (HTTP 410): a full resync is needed."""


class LockHeld(CadenceError):
    """Another run holds the nightly lock."""
