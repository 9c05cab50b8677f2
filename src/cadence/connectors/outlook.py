"""The Microsoft 365 connector: calendars by Graph's calendarView delta, the org chart by
``/users?$expand=manager``, app-only sign-in by msal (:mod:`cadence.connectors.outlook_auth`).

One :class:`OutlookConnector` serves a run: one msal app (its token cache answers every worker),
one ``requests`` connection pool, one cache of series masters, and one :class:`DeltaReadAhead`.
Each worker thread reads mailboxes through an :class:`OutlookReader`:

- a full round asks ``/users/{mailbox}/calendarView/delta`` for the sync job's window (Graph fixes
  the window for the delta link's life; the job re-baselines it), then follows
  ``@odata.nextLink`` to the ``@odata.deltaLink``, which the job saves with the last page;
- an incremental round calls the saved delta link, and that first call is read ahead: the sync
  job tells the connector which mailboxes its workers will take, in order, and how to find each
  one's saved link (:meth:`OutlookConnector.read_ahead`); the links of the next 20 travel in one
  ``POST /$batch``, and each mailbox's sync takes its own part's answer as its first page. The
  rest of the round (further pages, a full round after a 410, a part retried after a 429 or
  5xx) is the mailbox's worker's own, one request at a time, and the token is still saved with
  the round's last page: a round cut after its batched page replays from the old link;
- each series master is fetched once per run, by the first mailbox that meets the series
  (several at once by ``$batch``), for its recurrence and its ``cancelledOccurrences``.

What a night costs: a full round is a request per page of up to 1,000 events, and the series
masters, 20 a request. A night in which nothing changed is one HTTP request per 20 mailboxes
(0.05 a mailbox, and the sign-in's two), whatever ``concurrency`` is. Batching only the first
calls that workers happen to make at the same moment (what this connector did before) fills a
batch with at most ``concurrency`` parts: 0.125 a mailbox at the default 8. Running more threads
than ``concurrency`` fills batches only as far as the threads waiting at one moment (measured
with 20: 0.059 a mailbox, at the mercy of timing). Reading ahead fills every batch but the last,
and since the next batch is asked while the workers store the answers of the one before, a
no-change night's wall time is the store's work rather than Graph's round trips (1,000
mailboxes, 50 ms a request: 2.8 s, against 8.9 s batching the workers' concurrent calls).

Every mailbox address and id put into a path is one percent-encoded segment
(:func:`~cadence.connectors.base.path_segment`), so no address in the org chart can reach
another user's calendar and an address holding ``/`` reads its own.

Cancellations are recognised in every way Graph shows them, each stored as status
``cancelled`` (with ``lastModifiedDateTime`` as its time when the copy has one): ``isCancelled``
(an attendee's copy); an occurrence whose master lists it in ``cancelledOccurrences``; and an
event this mailbox organises, stored by an earlier sync inside the window (the job's
:class:`~cadence.connectors.base.StoredCopies` says what was stored), that the delta now
reports ``@removed`` (the organizer's calendar drops cancelled occurrences). ``@removed`` of an
event never stored, outside the window, or in an attendee's mailbox (where it also means the
attendee deleted or declined it) changes nothing. A full round that is not the mailbox's first
(a re-baseline, ``--full``, after a 410) has no ``@removed``: there, an event this mailbox
organises, stored live inside the window, that the round no longer lists is cancelled.

Errors, all in :func:`classify`: 429 and 5xx and dropped connections are retried by the shared
policy (``Retry-After`` honoured), 401 once more with a fresh token, 410 is
:class:`~cadence.errors.TokenExpired` (the job does a full round), 403 is
:class:`~cadence.errors.AuthError`, anything else a :class:`~cadence.errors.SyncError` with
Graph's error code. No message names the mailbox: the sync job does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from cadence.config import Config, OutlookSource
from cadence.connectors.base import (
    DirectoryListing,
    MailboxJob,
    Page,
    RunCache,
    Throttle,
    no_throttle,
    path_segment,
    rfc3339_utc,
)
from cadence.connectors.outlook_auth import GraphAuth, make_session
from cadence.connectors.outlook_events import Series, map_event, read_master, series_uid
from cadence.connectors.places import Unfilled, country_of, iana_zone
from cadence.connectors.retry import (
    MalformedAnswer,
    Retryable,
    RetryPolicy,
    Verdict,
    parse_retry_after,
)
from cadence.errors import AuthError, SyncError, TokenExpired
from cadence.normalised import Event, OrgPerson, normalise_email

MAX_BATCH = 20
PAGE_SIZE = 1000  # events per delta page (Prefer: odata.maxpagesize)
USERS_PAGE = 999
TIMEOUT = (10, 60)  # connect, read (seconds)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MASTER_FIELDS = "id,type,iCalUId,recurrence,cancelledOccurrences"


class GraphError(Exception):
    """A Graph answer other than 2xx (a whole request, or one part of a ``$batch``)."""

    def __init__(self, status: int, body: Any, retry_after: float | None, url: str) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.status = status
        self.code = str(error.get("code") or "")
        self.message = " ".join(str(error.get("message") or "").split())[:300]
        self.retry_after = retry_after
        self.url = url
        super().__init__(f"HTTP {status} {self.code}: {self.message}".strip(": "))


def classify(exc: BaseException) -> Verdict:
    """What a failed Graph call means: retry (how), or fail the mailbox (why): the one map from
    Graph's answers and ``requests``' errors to cadence's."""
    if isinstance(exc, GraphError):
        if exc.status in RETRYABLE_STATUS:
            return Retryable(f"Graph answered {exc}", retry_after=exc.retry_after)
        if exc.status == 410 or (exc.status in (400, 404) and _expired_state(exc.code)):
            return TokenExpired(f"the delta link expired ({exc.code or 410})")
        if exc.status in (401, 403):
            return AuthError(
                f"Graph refused access ({exc}); the app needs the Calendars.Read "
                "and User.Read.All application permissions, with admin consent"
            )
        if exc.status == 404:
            return SyncError(f"not found in the tenant ({exc})")
        return SyncError(str(exc))
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return Retryable(f"connection failed: {type(exc).__name__}")
    if isinstance(exc, MalformedAnswer):
        return Retryable(f"malformed answer: {exc}")
    return None


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        if response.ok:
            raise MalformedAnswer(f"{response.url}: body is not JSON") from exc
        return None


Answer = tuple[int, dict[str, str], Any]  # (status, lower-case headers, parsed JSON body)
TokenOf = Callable[[str], str | None]  # mailbox -> the delta link its round starts from, or None


@dataclass
class _Block:
    """One ``$batch`` of first delta pages; ``cost`` is what it took in HTTP requests when a
    thread of no mailbox sent it, paid by the first mailbox that takes an answer from it."""

    cost: int = 0


@dataclass(eq=False)
class _Ahead:
    """A mailbox's first delta page, asked for ahead of its sync."""

    mailbox: str
    url: str
    block: _Block
    answer: Future[Answer] = field(default_factory=Future)


class DeltaReadAhead:
    """Reads the first delta page of the rounds ahead, 20 mailboxes a ``POST /$batch``.

    The sync job says which mailboxes its workers will take, in order, and how to find the
    delta link each will start from (:meth:`OutlookConnector.read_ahead`). Blocks are formed one
    at a time, each from the next mailboxes of that order that have a delta link, so every
    ``$batch`` but the last carries 20 parts, whatever the number of workers: a batch no longer
    waits for workers to fill it. A block is sent by a thread of its own as soon as fewer than
    20 answers wait to be taken (its round trip overlaps the workers' store work), or by a
    worker whose mailbox no block holds yet (it would wait anyway). A mailbox's sync takes its
    part's answer (or failure) and retries it alone; one whose round starts otherwise than
    planned (its window came due meanwhile, or no read-ahead was set up) asks its delta link
    itself. Each mailbox has one part in one block, asked before its sync makes any other call,
    so a mailbox never has two requests in flight at once (Graph allows 4).
    """

    def __init__(self, connector: OutlookConnector) -> None:
        self._c = connector
        self._lock = threading.Lock()
        self._forming = threading.Lock()  # one block at a time: each takes the next mailboxes
        self._queue: list[str] = []
        self._index: dict[str, int] = {}
        self._token_of: TokenOf = lambda mailbox: None
        self._cursor = 0  # the mailboxes before it were planned: read ahead, or left alone
        self._ready: dict[str, _Ahead] = {}  # read ahead (or on the way), not yet taken
        self._reading_ahead = False

    def expect(self, mailboxes: Sequence[str], token_of: TokenOf) -> None:
        with self._lock:
            self._queue = list(mailboxes)
            self._index = {m: i for i, m in enumerate(self._queue)}
            self._token_of = token_of
            self._cursor = 0
            self._ready = {}

    def first_page(self, mailbox: str, url: str, reader: OutlookReader) -> Answer | None:
        """The answer to ``url``, this mailbox's first call, read ahead; ``None``: ask it."""
        with self._lock:
            index = self._index.pop(mailbox, None)
        if index is None:
            return None
        while True:
            with self._lock:
                planned = index < self._cursor
                ahead = self._ready.pop(mailbox, None) if planned else None
            if planned:
                break
            block = self._form(until=index)
            if block:  # this thread waits anyway: it carries the block, and counts it
                self._send(block, reader, owed=False)
        self._keep_ahead()
        if ahead is None or ahead.url != url:
            return None
        answer = ahead.answer.result()
        with self._lock:
            cost, ahead.block.cost = ahead.block.cost, 0
        reader.requests += cost
        return answer

    def _form(self, until: int | None = None) -> list[_Ahead]:
        """The next block: up to 20 mailboxes with a delta link, in the workers' order. With
        ``until``, none if another thread has planned that far meanwhile."""
        with self._forming:
            block = _Block()
            parts: list[_Ahead] = []
            while len(parts) < MAX_BATCH:
                with self._lock:
                    done = until is not None and until < self._cursor and not parts
                    if done or self._cursor >= len(self._queue):
                        break
                    mailbox = self._queue[self._cursor]
                url = self._planned(mailbox)
                with self._lock:
                    self._cursor += 1
                    if url is not None:
                        ahead = _Ahead(mailbox, url, block)
                        self._ready[mailbox] = ahead
                        parts.append(ahead)
            return parts

    def _planned(self, mailbox: str) -> str | None:
        try:
            url = self._token_of(mailbox)
        except Exception:  # the store failing: the mailbox's own sync meets it and says so
            return None
        return url if url is not None and url.startswith(self._c.graph + "/") else None

    def _keep_ahead(self) -> None:
        """Starts the next block once fewer than 20 answers wait, unless one is being formed."""
        with self._lock:
            go = (
                not self._reading_ahead
                and self._cursor < len(self._queue)
                and len(self._ready) < MAX_BATCH
            )
            self._reading_ahead = self._reading_ahead or go
        if go:
            threading.Thread(target=self._read_ahead, name="graph-read-ahead", daemon=True).start()

    def _read_ahead(self) -> None:
        try:
            block = self._form()
        finally:
            with self._lock:
                self._reading_ahead = False
        if block:
            self._send(block, OutlookReader(self._c), owed=True)

    def _send(self, parts: list[_Ahead], reader: OutlookReader, *, owed: bool) -> None:
        """Asks the block's parts and hands each its answer, or the failure, whatever happens
        (a worker waits for it). ``owed``: ``reader`` is no mailbox's, so the requests it made
        are owed by the first mailbox to take an answer."""
        before = reader.requests
        try:
            answers = self._ask(parts, reader)
        except Exception as exc:
            answers = [exc] * len(parts)
        if owed:
            with self._lock:
                parts[0].block.cost += reader.requests - before
        for p, answer in zip(parts, answers, strict=True):
            if isinstance(answer, Exception):
                p.answer.set_exception(answer)
            else:
                p.answer.set_result(answer)

    def _ask(self, parts: list[_Ahead], reader: OutlookReader) -> list[Answer | Exception]:
        if len(parts) == 1:  # a batch of one is just a slower GET
            return [reader.raw("GET", parts[0].url)]
        graph = self._c.graph
        body = {
            "requests": [
                {
                    "id": str(i),
                    "method": "GET",
                    "url": p.url[len(graph) :],
                    "headers": {"Prefer": self._c.prefer},
                }
                for i, p in enumerate(parts)
            ]
        }
        answer = self._c.retry.call(lambda: reader.call("POST", f"{graph}/$batch", body), classify)
        by_id = {str(r.get("id")): r for r in answer.get("responses") or []}
        out: list[Answer | Exception] = []
        for i in range(len(parts)):
            r = by_id.get(str(i))
            if r is None:
                out.append(MalformedAnswer("a $batch answer left a part out"))
                continue
            headers = {str(k).lower(): str(v) for k, v in (r.get("headers") or {}).items()}
            out.append((int(r.get("status") or 0), headers, r.get("body")))
        return out


class OutlookConnector:
    """A configured Microsoft 365 source, shared by every worker of a run."""

    def __init__(self, config: Config, source: OutlookSource, retry: RetryPolicy) -> None:
        self.config = config
        self.source = source
        self.retry = retry
        self.workers = source.concurrency or config.sync.concurrency
        self.session = make_session(config, source, self.workers + 2)
        self.auth = GraphAuth(config, source, self.session)
        self.prefer = f'outlook.timezone="UTC", odata.maxpagesize={PAGE_SIZE}'
        self.ahead = DeltaReadAhead(self)
        self.series_cache: RunCache[tuple[str, ...], Series | None] = RunCache()
        # Graph counts each part of a $batch against the limits as a request of its own.
        self.throttle: Throttle = no_throttle

    @property
    def graph(self) -> str:
        return self.source.graph_url.rstrip("/")

    def open_worker(self) -> OutlookReader:
        return OutlookReader(self)

    def read_ahead(self, mailboxes: Sequence[str], token_of: TokenOf) -> None:
        """The mailboxes this run's workers will take, in order, and how to find the delta link
        each round starts from (``None``: a full round): their first pages are read ahead, 20 a
        ``$batch`` (:class:`DeltaReadAhead`)."""
        self.ahead.expect(mailboxes, token_of)

    # -- series masters: fetched once per run -------------------------------------------------
    # Keyed by the series' UID when the occurrence's iCalUId gives it (every participant's copy
    # of a series has the same master: the first mailbox to meet it fetches it for all), else by
    # (mailbox, master id).

    def claim_masters(
        self, keys: Iterable[tuple[str, ...]]
    ) -> tuple[dict[tuple[str, ...], Future[Series | None]], set[tuple[str, ...]]]:
        """The futures of these masters, and which of them the caller must fetch (no one else
        has): two workers meeting a series at once fetch it once."""
        return self.series_cache.claim(keys)

    def forget_master(self, key: tuple[str, ...]) -> None:
        """A fetch failed: the next mailbox that meets the series tries again."""
        self.series_cache.forget(key)

    # -- directory ------------------------------------------------------------------------------

    def fetch_directory(self, skip: Callable[[str], bool] | None = None) -> DirectoryListing:
        """Everyone in the tenant's directory with a mailbox address and an enabled account, with
        the country from ``usageLocation`` (else ``country``, a code or a name; ``state`` for the
        subdivision) and the time zone of their mailbox settings (one request per user: Graph
        gives ``mailboxSettings`` only for one user at a time)."""
        reader = self.open_worker()
        url: str | None = (
            f"{self.graph}/users?$select=id,mail,userPrincipalName,displayName,accountEnabled,"
            "usageLocation,country,state"
            f"&$expand=manager($select=mail,userPrincipalName)&$top={USERS_PAGE}"
        )
        people: list[OrgPerson] = []
        ids: list[str | None] = []
        unfilled = Unfilled()
        try:
            while url:
                try:
                    body = reader.get(url)
                except SyncError as exc:
                    raise exc.about("the directory") from exc.__cause__
                for u in body.get("value") or []:
                    address = u.get("mail") or u.get("userPrincipalName")
                    if not address or u.get("accountEnabled") is False:
                        continue
                    boss = u.get("manager") or {}
                    boss_address = boss.get("mail") or boss.get("userPrincipalName")
                    email = normalise_email(address)
                    people.append(
                        OrgPerson(
                            email=email,
                            name=str(u.get("displayName") or address),
                            manager_email=normalise_email(boss_address) if boss_address else None,
                            source=self.source.name,
                            country=_user_country(u, email, unfilled),
                        )
                    )
                    ids.append(u.get("id") if isinstance(u.get("id"), str) else None)
                url = body.get("@odata.nextLink")
            zones = _MailboxZones(self, unfilled)
            # Whose mailbox cadence must never read (opted out, forgotten) is not asked its zone.
            read = [
                (i or p.email, p.email)
                for p, i in zip(people, ids, strict=True)
                if skip is None or not skip(p.email)
            ]
            with ThreadPoolExecutor(max(1, self.workers)) as pool:
                found = dict(
                    zip(
                        [email for _, email in read],
                        pool.map(zones.zone, [u for u, _ in read], [e for _, e in read]),
                        strict=True,
                    )
                )
            people = [replace(p, timezone=found.get(p.email)) for p in people]
        finally:
            reader.close()
        return DirectoryListing(people, unfilled)


def _user_country(user: dict[str, Any], email: str, unfilled: Unfilled) -> str | None:
    """``usageLocation`` (an ISO code, where the licence is used), else ``country`` (free text:
    a code or an English name), with ``state`` as the subdivision when it is one's code."""
    said = [v for v in (user.get("usageLocation"), user.get("country")) if isinstance(v, str)]
    said = [v.strip() for v in said if v.strip()]
    if not said:
        unfilled.add("country", "without usageLocation or country", email)
        return None
    state = user.get("state") if isinstance(user.get("state"), str) else None
    for value in said:
        found = country_of(value, state)
        if found is not None:
            return found
    unfilled.add("country", "whose country names none the holidays package knows", email, said[0])
    return None


class _MailboxZones:
    """Each user's time zone from ``GET /users/{id}/mailboxSettings`` (a Windows zone name,
    mapped to IANA, or an IANA one), read by as many threads as a sync of the source uses, each
    with its reader. A refusal is counted for that user alone: an application access policy may
    open some mailboxes to the app and not others."""

    def __init__(self, connector: OutlookConnector, unfilled: Unfilled) -> None:
        self.connector = connector
        self.unfilled = unfilled
        self._readers = threading.local()

    def zone(self, user: str, email: str) -> str | None:
        reader = getattr(self._readers, "reader", None)
        if reader is None:
            reader = self._readers.reader = self.connector.open_worker()
        url = f"{self.connector.graph}/users/{path_segment(user)}/mailboxSettings"
        try:
            body = reader.get(url)
        except SyncError as exc:
            reason = "whose mailbox settings could not be read"
            self.unfilled.add("timezone", reason, email, str(exc))
            return None
        said = body.get("timeZone") if isinstance(body, dict) else None
        zone = iana_zone(said) if isinstance(said, str) else None
        if zone is None:
            if isinstance(said, str) and said.strip():
                reason = "whose time zone is neither IANA nor a Windows zone cadence maps"
            else:
                reason = "without a time zone in their mailbox settings"
            self.unfilled.add("timezone", reason, email, said if isinstance(said, str) else None)
        return zone


class OutlookReader:
    """One worker's view of the connector: counts its requests, reads one mailbox at a time."""

    def __init__(self, connector: OutlookConnector) -> None:
        self.c = connector
        self.requests = 0

    def close(self) -> None:
        """Nothing of its own: the connection pool belongs to the connector."""

    # -- HTTP -------------------------------------------------------------------------------------

    def raw(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        """One request with a bearer token: (status, lower-case headers, parsed JSON body)."""
        parts = body.get("requests") if isinstance(body, dict) else None
        self.c.throttle(len(parts) if isinstance(parts, list) else 1)  # before the token: it ages
        token = self.c.auth.token()
        headers = {"Authorization": f"Bearer {token}", "Prefer": self.c.prefer}
        self.requests += 1
        response = self.c.session.request(method, url, headers=headers, json=body, timeout=TIMEOUT)
        parsed = _json(response)
        if response.status_code == 401:
            self.c.auth.invalidate(token)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, parsed

    def call(self, method: str, url: str, body: Any = None) -> Any:
        status, headers, parsed = self.raw(method, url, body)
        return _checked(status, headers, parsed, url)

    def get(self, url: str) -> Any:
        """GET with the shared retry policy; failures become cadence's errors (:func:`classify`)."""
        refreshed = False

        def attempt() -> Any:
            nonlocal refreshed
            try:
                return self.call("GET", url)
            except GraphError as exc:
                if exc.status == 401 and not refreshed:
                    refreshed = True  # the token was revoked or expired early: one fresh try
                    return self.call("GET", url)
                raise

        return self.c.retry.call(attempt, classify)

    # -- a mailbox's round ------------------------------------------------------------------------

    def pages(self, job: MailboxJob) -> Iterator[Page]:
        if job.token:
            body = self._first_incremental(job.mailbox, job.token)
        else:
            w = job.window
            url = (
                f"{self.c.graph}/users/{path_segment(job.mailbox)}/calendarView/delta"
                f"?startDateTime={rfc3339_utc(w.start)}&endDateTime={rfc3339_utc(w.end)}"
            )
            body = self.get(url)
        listed: set[str] = set()
        while True:
            values = body.get("value") or []
            events = self._events(job, values)
            listed.update(str(v["id"]) for v in values if "@removed" not in v and v.get("id"))
            next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
            if delta_link:
                if not job.token:
                    events += self._vanished(job, listed)
                yield Page(events, token=str(delta_link))
                return
            if not next_link:
                raise SyncError("Graph ended a delta page with neither link")
            yield Page(events)
            body = self.get(str(next_link))

    def _first_incremental(self, mailbox: str, url: str) -> Any:
        """The delta link's call: its first try read ahead in a ``$batch``, retries alone."""
        tries = 0

        def attempt() -> Any:
            nonlocal tries
            tries += 1
            answer = self.c.ahead.first_page(mailbox, url, self) if tries == 1 else None
            if answer is not None:
                return _checked(*answer, url)
            return self.call("GET", url)

        return self.c.retry.call(attempt, classify)

    def _events(self, job: MailboxJob, values: Sequence[Mapping[str, Any]]) -> list[Event]:
        live = [v for v in values if "@removed" not in v and v.get("id")]
        removed = [str(v["id"]) for v in values if "@removed" in v and v.get("id")]
        masters = self._masters(
            job.mailbox,
            {
                str(v["seriesMasterId"]): _series_key(v, job.mailbox)
                for v in live
                if v.get("seriesMasterId")
            },
        )
        events: list[Event] = []
        for v in live:
            series = masters.get(str(v.get("seriesMasterId") or ""))
            try:
                events.append(map_event(v, source=job.source, mailbox=job.mailbox, series=series))
            except (ValueError, KeyError, TypeError) as exc:
                raise SyncError(f"event {v.get('id')} has an unreadable field: {exc}") from exc
        if removed:
            events += self._removals(job, removed)
        return events

    def _removals(self, job: MailboxJob, ids: list[str]) -> list[Event]:
        """Removed events that count as cancelled: see the module's docstring."""
        out = []
        for ident, copy in job.stored.copies(ids).items():
            when: datetime | None = copy.original_start or copy.start
            inside = when is not None and job.window.start <= when < job.window.end
            if copy.organizer == job.mailbox and copy.status != "cancelled" and inside:
                out.append(
                    Event(
                        source=job.source, mailbox=job.mailbox, event_id=ident, status="cancelled"
                    )
                )
        return out

    def _vanished(self, job: MailboxJob, listed: set[str]) -> list[Event]:
        """After a full round (a re-baseline, ``--full``, a 410), what this mailbox organises,
        stored live inside the window, that the round no longer listed: gone from the
        organizer's calendar view, so cancelled (the ``@removed`` it would have had in a delta
        round went with the expired link)."""
        stored = job.stored.organised_live(job.window.start, job.window.end)
        return [
            Event(source=job.source, mailbox=job.mailbox, event_id=ident, status="cancelled")
            for ident in stored
            if ident not in listed
        ]

    def _masters(
        self, mailbox: str, keys: Mapping[str, tuple[str, ...]]
    ) -> dict[str, Series | None]:
        """The series masters of these ids (id -> cache key), from the run's cache or fetched
        (20 a request)."""
        futures, mine = self.c.claim_masters(set(keys.values()))
        missing = sorted(ident for ident in keys if keys[ident] in mine)
        try:
            for i in range(0, len(missing), MAX_BATCH):
                chunk = missing[i : i + MAX_BATCH]
                for ident, master in self._fetch_masters(mailbox, chunk).items():
                    futures[keys[ident]].set_result(master)
                    mine.discard(keys[ident])
        except BaseException as exc:
            for key in mine:
                self.c.forget_master(key)
                futures[key].set_exception(exc)
            raise
        found: dict[str, Series | None] = {}
        for ident in keys:
            try:
                found[ident] = futures[keys[ident]].result()
            except Exception:  # another mailbox could not fetch it: this one tries its own copy
                found[ident] = self._one_master(mailbox, ident)
        return found

    def _master_url(self, mailbox: str, ident: str) -> str:
        user, event = path_segment(mailbox), path_segment(ident)
        return f"/users/{user}/events/{event}?$select={MASTER_FIELDS}"

    def _fetch_masters(self, mailbox: str, ids: list[str]) -> dict[str, Series | None]:
        if len(ids) == 1:
            return {ids[0]: self._one_master(mailbox, ids[0])}
        body = {
            "requests": [
                {"id": str(i), "method": "GET", "url": self._master_url(mailbox, ident)}
                for i, ident in enumerate(ids)
            ]
        }
        answer = self.c.retry.call(
            lambda: self.call("POST", f"{self.c.graph}/$batch", body), classify
        )
        parts = {str(r.get("id")): r for r in answer.get("responses") or []}
        out: dict[str, Series | None] = {}
        for i, ident in enumerate(ids):
            r = parts.get(str(i)) or {}
            status = int(r.get("status") or 0)
            if status == 200 and isinstance(r.get("body"), dict):
                out[ident] = read_master(r["body"])
            elif status == 404:
                out[ident] = None  # the series is gone: its occurrences say what they can
            else:  # throttled or failed on its own: that one again, alone, with retries
                out[ident] = self._one_master(mailbox, ident)
        return out

    def _one_master(self, mailbox: str, ident: str) -> Series | None:
        try:
            return read_master(self.get(self.c.graph + self._master_url(mailbox, ident)))
        except SyncError as exc:
            if isinstance(exc.__cause__, GraphError) and exc.__cause__.status == 404:
                return None
            raise


def _series_key(occurrence: Mapping[str, Any], mailbox: str) -> tuple[str, ...]:
    """The master cache's key of an occurrence's series (see OutlookConnector)."""
    raw_uid = occurrence.get("iCalUId")
    uid = series_uid(raw_uid)
    if uid and uid != raw_uid:  # a GlobalObjectId: the series is known in every mailbox
        return ("uid", uid)
    return ("id", mailbox, str(occurrence["seriesMasterId"]))


def _checked(status: int, headers: Mapping[str, str], parsed: Any, url: str) -> Any:
    if 200 <= status < 300:
        if not isinstance(parsed, dict):
            raise MalformedAnswer(f"{urlsplit(url).path}: not a JSON object")
        return parsed
    raise GraphError(status, parsed, parse_retry_after(headers.get("retry-after")), url)


def _expired_state(code: str) -> bool:
    """Graph's codes for a delta link whose sync state is gone (sent with 400 as well as 410)."""
    code = code.lower()
    return "syncstate" in code or code in {"resyncrequired", "resyncapplicationrequired"}
