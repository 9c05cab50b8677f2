"""Reading calendars and directories from Google Workspace and Microsoft 365.

::

    connectors/
     ├── base.py       the contract with the sync job: MailboxJob in, Page of normalised
     │                 events out; StoredCopies, what earlier syncs stored (the store implements
     │                 it); the CalendarConnector / MailboxReader protocols; Window
     ├── retry.py      the failure map's shape (Retryable | SyncError | None), MalformedAnswer,
     │                 and RetryPolicy: exponential backoff, full jitter, Retry-After
     ├── kinds.py      connect(config, source_name): kind -> connector class
     ├── directory.py  fetch_directory(config, source_name): the org chart (``cadence org pull``)
     ├── places.py     a directory's country and time zone (Windows names too) as the chart's
     ├── google.py     Google Calendar v3 + Admin SDK Directory (service account, delegation)
     └── outlook.py    Microsoft Graph (msal client credentials; outlook_events.py maps events)

A connector calls its ``throttle(cost)`` before each request to the API (a ``$batch`` costs its
parts): the sync job sets it to the source's request budget, which lives in the store, so the
connector paces itself without knowing where the budget is kept. A connector implements
``open_worker() -> MailboxReader`` (per-thread state such as an
``httplib2.Http``) and ``fetch_directory() -> DirectoryListing``; a reader implements
``pages(job) -> Iterator[Page]``, a ``requests`` counter and ``close()``. Readers yield
:class:`cadence.normalised.Event` records only and know no database: the sync job
(:mod:`cadence.jobs.sync`) saves what they yield, and hands them what they need of earlier syncs
as plain :class:`cadence.normalised.StoredCopy` records.

Exceptions (from :mod:`cadence.errors`) and who handles them: each connector has one
``classify`` that maps its libraries' exceptions, and nothing else does::

    library exception (HttpError, RefreshError, GraphError, requests' and socket errors, ...)
      └─ connector's classify ──> Retryable   -> RetryPolicy sleeps and tries again
                               ├─> SyncError   -> RetryPolicy raises it, chained to the original
                               │     ├── TokenExpired  the job drops the token, does a full round
                               │     ├── AuthError     mailbox fails: not delegated / bad creds
                               │     └── SyncError     mailbox fails with the reason
                               └─> None        -> propagates (a bug: recorded as "unexpected")
    RetryPolicy out of retries  -> SyncError("gave up after N attempts: <reason>")

No connector names the mailbox in a message: the sync job names it once
(:meth:`cadence.errors.SyncError.about`), records every mailbox's outcome (``cadence status``)
and never raises for one mailbox; only bad usage (``ConfigError``/``InputError``) and store
failures stop a run.
"""
