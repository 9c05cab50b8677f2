"""Reading calendars and directories from Google Workspace and Microsoft 365.

::

    connectors/
     ├── runner.py     the sync loop for any kind: mailboxes, thread pool, window planning,
     │                 page + token saved together, 410 -> full round, per-mailbox outcomes;
     │                 the CalendarConnector / MailboxReader protocols, Page, Window, MailboxJob
     ├── retry.py      RetryPolicy: exponential backoff, full jitter, Retry-After; the connector
     │                 says what is retryable through a classifier
     ├── kinds.py      connect(config, source_name): kind -> connector class
     ├── directory.py  fetch_directory(config, source_name): the org chart (``cadence org pull``)
     ├── google.py     Google Calendar v3 + Admin SDK Directory (service account, delegation)
     └── outlook.py    Microsoft Graph (msal client credentials)

A connector implements ``open_worker() -> MailboxReader`` (per-thread state such as an
``httplib2.Http``) and ``fetch_directory() -> list[OrgPerson]``; a reader implements
``pages(job) -> Iterator[Page]``, a ``requests`` counter and ``close()``. Readers yield
:class:`cadence.normalised.Event` records only; the runner alone writes to the store.

Exceptions (from :mod:`cadence.errors`) and who handles them::

    library exception (HttpError, RefreshError, socket errors, ...)
      └─ connector classifier ──> Retryable  -> RetryPolicy sleeps and tries again
                               ├─> None       -> propagates (a bug: recorded as "unexpected")
                               └─> raises SyncError
                                     ├── TokenExpired  runner drops the token, does a full round
                                     ├── AuthError     mailbox fails: not delegated / bad creds
                                     └── SyncError     mailbox fails with the reason
    RetryPolicy out of retries  -> SyncError("gave up after N attempts: <reason>")

The runner records every mailbox's outcome (``cadence status``) and never raises for one
mailbox; only bad usage (``ConfigError``/``InputError``) and store failures stop a run.
"""
