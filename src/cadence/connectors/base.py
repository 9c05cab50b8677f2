"""The contract between the sync job and a connector, in plain types.

A connector knows its API and nothing of the database: the job hands each round a
:class:`MailboxJob`, the connector yields :class:`Page` records of
:class:`cadence.normalised.Event`, and the job saves them. The one thing a reader needs from
earlier syncs (what this mailbox's calendar held before, to tell what a sparse or removed item
means) reaches it through :class:`StoredCopies`, which the store implements with plain
:class:`cadence.normalised.StoredCopy` records; tests can hand in a dict-backed one.

It also owns the one rule for putting data into a URL path (:func:`path_segment`): a mailbox
address, an event id or a series id is exactly one segment, whatever characters it holds. A
``/`` kept as it is would let ``../users/someone-else@acme.test`` in the org chart climb to another
person's calendar (HTTP clients and servers resolve ``..``) and make ``a/b@acme.test`` unreadable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

from cadence.connectors.places import Unfilled
from cadence.errors import SyncError
from cadence.normalised import Event, OrgPerson, StoredCopy

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def rfc3339_utc(t: datetime) -> str:
    """An instant as both APIs take it in a query: RFC 3339, UTC, whole seconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_segment(value: str) -> str:
    """``value`` unchanged, once it is sure to stay one path segment when percent-encoded.

    Encoding keeps ``.`` as it is, and an empty segment, ``.`` or ``..`` would be dropped or
    resolved by the client or the server: such a value names no mailbox or event and is refused.
    The Google connector calls this alone, since google-api-python-client encodes its path
    parameters itself (uritemplate's ``quote(value, safe="")``) and encoding twice would turn
    ``%`` into ``%25``.
    """
    if value in ("", ".", ".."):
        raise SyncError(f"{value!r} cannot be one segment of a URL path")
    return value


def path_segment(value: str) -> str:
    """``value`` as exactly one percent-encoded URL path segment: ``/``, ``?``, ``#``, ``%`` and
    every other reserved character encoded (``urllib.parse.quote`` alone keeps ``/``)."""
    return quote(one_segment(value), safe="")


@dataclass(frozen=True)
class DirectoryListing:
    """Everyone a directory lists, and why it could not say where some of them work."""

    people: list[OrgPerson]
    unfilled: Unfilled = field(default_factory=Unfilled)


@dataclass(frozen=True)
class Window:
    """The span a full round reads and its token then watches (fixed for the token's life)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Page:
    """One page of a mailbox's events; ``token`` only on the last page of a round."""

    events: Sequence[Event]
    token: str | None = None


class StoredCopies(Protocol):
    """What earlier syncs stored of one mailbox's calendar (never another mailbox's)."""

    def copies(self, event_ids: Iterable[str]) -> dict[str, StoredCopy]:
        """The stored copies of these events, by event id (unknown ids are left out)."""
        ...

    def series_copies(self, series_ids: Iterable[str]) -> dict[str, list[StoredCopy]]:
        """The stored occurrences of these series, by series id."""
        ...

    def organised_live(self, start: datetime, end: datetime) -> list[str]:
        """The ids of the copies this mailbox organises, not cancelled, whose original start
        and start both lie in ``[start, end)``."""
        ...


@dataclass(frozen=True)
class MailboxJob:
    """One round of one mailbox, as a reader sees it."""

    source: str
    mailbox: str
    token: str | None  # None: a full round over ``window``
    window: Window
    stored: StoredCopies
    seen_at: datetime | None = None  # the time this run records for what it sees


class MailboxReader(Protocol):
    """Per-thread state of a connector (its HTTP connection, say); used by one thread only."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far, retries included."""
        ...

    def pages(self, job: MailboxJob) -> Iterator[Page]:
        """The pages of one round; raises TokenExpired when ``job.token`` is no longer valid."""
        ...

    def close(self) -> None: ...


class RunCache(Generic[K, V]):
    """What a connector fetches once a run and shares between its mailboxes (Google's series,
    Graph's series masters): each key's answer as a future, so that of two workers meeting the
    same series at once, one fetches it and the other waits. A connector makes its own; the
    cluster nightly hands one to every connector a worker process opens during the night, so
    its batches share what earlier batches fetched."""

    def __init__(self) -> None:
        self._futures: dict[K, Future[V]] = {}
        self._lock = threading.Lock()

    def claim(self, keys: Iterable[K]) -> tuple[dict[K, Future[V]], set[K]]:
        """The futures of ``keys``, and which of them the caller must fetch and settle (no one
        else has claimed them): two workers meeting a series at once fetch it once."""
        with self._lock:
            mine = {k for k in keys if k not in self._futures}
            for k in mine:
                self._futures[k] = Future()
            return {k: self._futures[k] for k in keys}, mine

    def forget(self, key: K) -> None:
        """A fetch failed: the next mailbox that meets the key tries again."""
        with self._lock:
            self._futures.pop(key, None)


Throttle = Callable[[int], None]
"""Called with a request's cost in the provider's quota unit before it is sent; blocks while the
source's request budget is spent (the sync job passes one in; it knows the budget's store)."""


def no_throttle(cost: int) -> None:
    """Send at once: the default, and a source with no budget."""


class CalendarConnector(Protocol):
    """A configured source: readers for its mailboxes, and its directory."""

    throttle: Throttle
    series_cache: RunCache[Any, Any]

    def open_worker(self) -> MailboxReader: ...

    def fetch_directory(self, skip: Callable[[str], bool] | None = None) -> DirectoryListing:
        """Everyone the directory lists; ``skip(email)`` true: that person's own calendar or
        mailbox settings are not read (their time zone stays unknown), for people who opted out
        or were forgotten, whose mailboxes cadence never touches."""
        ...
