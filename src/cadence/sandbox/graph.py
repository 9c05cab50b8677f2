"""A loopback stand-in for Microsoft Graph (v1.0) and its tenant's token endpoint, over TLS.

It serves the :class:`~cadence.sandbox.world.World`'s people whose ``side`` is ``outlook`` in
Graph's shapes, on the shared :class:`~cadence.sandbox.server.StandIn` (faults, latency,
counters), and answers what the Outlook connector calls:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials; see :mod:`cadence.sandbox.entra`);
- ``GET /v1.0/users/{id}/calendarView/delta`` with ``startDateTime``/``endDateTime``, ``Prefer:
  odata.maxpagesize=N`` and ``outlook.timezone``, paged by ``@odata.nextLink`` until an
  ``@odata.deltaLink``; a delta link returns what changed since its round, with ``{"id": ...,
  "@removed": {"reason": "deleted"}}`` for what left the view. ``{id}`` is the user's object id or
  their address, one percent-decoded path segment (``..`` in a path climbs, as in any server, and
  ``%2F`` stays inside its segment: an address that is no user's is ``ErrorInvalidUser``);
- ``GET /v1.0/users/{id}/events/{id}``: an event, or a series master with ``recurrence`` and
  ``cancelledOccurrences``;
- ``GET /v1.0/users`` with ``$expand=manager``, ``$top`` and ``@odata.nextLink`` paging, and
  ``usageLocation``, ``country`` and ``state`` when ``$select`` names them (as Graph, which gives
  them only then);
- ``GET /v1.0/users/{id}/mailboxSettings``: the mailbox's ``timeZone`` (a Windows name, as
  Outlook sets it), absent when the world gives them none;
- ``POST /v1.0/$batch`` with up to 20 parts, each answered (or failed) on its own.

How the world shows in a mailbox follows docs/outlook.md (with its assumptions where Graph's
behaviour is unconfirmed): an occurrence the organizer cancelled
leaves the organizer's calendar view (``@removed`` in the next delta) and stays in each
attendee's with ``isCancelled: true``; a deleted series likewise; someone taken off a series sees
it cancelled. Occurrence ids and ``iCalUId`` differ per occurrence; ``iCalUId`` is the same in
every mailbox (Exchange's GlobalObjectId in hex, wrapping the world's UID). Ids are opaque to
clients but encode (mailbox, series, original start), so the stand-in needs no table of them.

Like Outlook, it allows 4 concurrent requests per mailbox: a fifth gets 429 with ``Retry-After``
(:attr:`GraphStandIn.mailbox_concurrency`). Over the stand-in's quota (``quota_per_minute``, the
bucket's rule is in :mod:`cadence.sandbox.server`) a request gets 429 ``TooManyRequests`` with
``Retry-After`` (the seconds until the budget has room). The unit is Graph's: every request, each
part of a ``$batch`` one request; the ``$batch`` envelope costs nothing of its own, is answered
200, and its parts over the budget fail one by one with 429 and ``Retry-After``. The identity
platform's endpoints (OpenID configuration, token) are another service's and are free.
:meth:`GraphStandIn.expire_delta_links` makes every outstanding delta link answer 410, as Graph
does when its sync state is gone.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import tempfile
import threading
import time
import uuid
from array import array
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509

from cadence.connectors.outlook_events import GLOBAL_OBJECT_CLASS, VCAL_UID
from cadence.sandbox.entra import Entra, RegisteredApp
from cadence.sandbox.server import Request, Response, StandIn, retry_seconds
from cadence.sandbox.tls import TLSFiles, make_tls
from cadence.sandbox.world import Guest, Occurrence, Person, Series, World

GRAPH_VERSION = "v1.0"
MAX_BATCH = 20
DEFAULT_PAGE = 100
MAX_PAGE = 1000
USERS_PAGE = 100
CONCURRENCY = 4
# Not charged to the quota: the identity platform's calls, and a $batch envelope (its parts are).
FREE_OF_QUOTA = frozenset({"openid", "token", "batch"})
NEVER = "0001-01-01T00:00:00Z"
RESPONSE_NAMES = {
    "needsAction": "none",
    "accepted": "accepted",
    "tentative": "tentativelyAccepted",
    "declined": "declined",
}
DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
BYDAY = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_MAXPAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")
_TIMEZONE = re.compile(r'outlook\.timezone\s*=\s*"([^"]+)"')


def graph_time(t: datetime, tz: ZoneInfo | None = None) -> dict[str, str]:
    """A ``dateTimeTimeZone`` in the zone the client asked for (UTC by default)."""
    local = t.astimezone(tz or UTC).replace(tzinfo=None)
    return {
        "dateTime": local.isoformat(timespec="microseconds") + "0",
        "timeZone": str(tz or "UTC"),
    }


def instant(t: datetime | None) -> str:
    """A Graph DateTimeOffset (``...Z``), or Graph's "never"."""
    if t is None:
        return NEVER
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _b64(text: str) -> str:
    return "AAMk" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(ident: str) -> list[str] | None:
    if not ident.startswith("AAMk"):
        return None
    body = ident[4:]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("\x1f")
    except (ValueError, UnicodeDecodeError):
        return None


def master_id(mailbox: str, uid: str) -> str:
    return _b64(f"{mailbox}\x1f{uid}\x1fM")


def occurrence_id(mailbox: str, s: Series, original_start: datetime) -> str:
    if s.recurrence is None:
        return _b64(f"{mailbox}\x1f{s.uid}\x1fS")
    return _b64(f"{mailbox}\x1f{s.uid}\x1f{original_start.astimezone(UTC).isoformat()}")


def global_object_id(uid: str, day: date | None = None) -> str:
    """Graph's ``iCalUId``: Exchange's GlobalObjectId in hex, wrapping the series' iCalendar UID
    (``vCal-Uid``, as for a meeting that came from another system), with ``day`` written in for
    an occurrence (so it differs per occurrence and is the same in every mailbox)."""
    data = VCAL_UID + uid.encode() + b"\x00"
    when = bytes([day.year >> 8, day.year & 0xFF, day.month, day.day]) if day else bytes(4)
    size = len(data).to_bytes(4, "little")
    return (GLOBAL_OBJECT_CLASS + when + bytes(16) + size + data).hex().upper()


def occurrence_ical_uid(s: Series, original_start: datetime) -> str:
    if s.recurrence is None:
        return global_object_id(s.uid)
    return global_object_id(s.uid, original_start.astimezone(UTC).date())


def user_id(email: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email}"))


def graph_recurrence(s: Series) -> dict[str, Any] | None:
    """The world's RRULE as Graph's ``patternedRecurrence``."""
    r = s.recurrence
    if r is None:
        return None
    pattern: dict[str, Any] = {"interval": r.interval, "firstDayOfWeek": "sunday"}
    if r.freq == "DAILY":
        pattern["type"] = "daily"
    elif r.freq == "WEEKLY":
        days = [BYDAY[d] for d in r.byday] or [s.start.weekday()]
        pattern.update(type="weekly", daysOfWeek=[DAY_NAMES[d] for d in sorted(days)])
    else:
        pattern.update(type="absoluteMonthly", dayOfMonth=s.start.day)
    rng: dict[str, Any] = {
        "type": "noEnd",
        "startDate": s.start.date().isoformat(),
        "recurrenceTimeZone": "UTC",
    }
    if r.until is not None:
        rng.update(type="endDate", endDate=r.until.astimezone(UTC).date().isoformat())
    elif r.count is not None:
        rng.update(type="numbered", numberOfOccurrences=r.count)
    return {"pattern": pattern, "range": rng}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _key(original_start: datetime) -> int:
    """An occurrence's original start as an integer, what the delta state keys it by."""
    return (original_start - EPOCH) // MICROSECOND


def _pack(entries: dict[int, tuple[int, dict[str, Any]]]) -> array[int]:
    """A series' part of a delta state: (key, fingerprint) pairs, flat.

    A dict of id strings and hex digests took ~38 KB a mailbox, 2 GB for 50,000 mailboxes;
    this takes 16 bytes an entry."""
    return array("q", [n for key, (fingerprint, _) in entries.items() for n in (key, fingerprint)])


def _unpack(packed: array[int] | None) -> dict[int, int]:
    return dict(zip(packed[::2], packed[1::2], strict=True)) if packed else {}


@dataclass
class DeltaState:
    """What a delta link stands for: a mailbox's view of a window as of a world sequence."""

    mailbox: str
    start: datetime
    end: datetime
    seq: int
    # series uid -> the entries the client was last given, as packed (key, fingerprint) pairs
    view: dict[str, array[int]]


@dataclass
class PendingRound:
    """The rest of a delta round, served page by page through ``$skiptoken``."""

    mailbox: str
    entries: list[dict[str, Any]]
    offset: int
    final: DeltaState
    tz: ZoneInfo | None


def _graph_error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def _prefer(request: Request) -> tuple[int, ZoneInfo | None]:
    prefer = request.headers.get("prefer", "")
    size = _MAXPAGE.search(prefer)
    zone = _TIMEZONE.search(prefer)
    tz: ZoneInfo | None = None
    if zone and zone.group(1).upper() != "UTC":
        try:
            tz = ZoneInfo(zone.group(1))
        except (ZoneInfoNotFoundError, ValueError):
            tz = None  # Graph answers in UTC for a zone it does not know
    return min(int(size.group(1)), MAX_PAGE) if size else DEFAULT_PAGE, tz


def _parse_when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class GraphStandIn(StandIn):
    """Microsoft Graph and one tenant's token endpoint, serving a :class:`World` over TLS.

    Use as a context manager; then :attr:`graph_url`, :attr:`authority` and :attr:`ca_file` are
    what a connector is configured with (:meth:`source_config` gives them as a config table).
    """

    def __init__(
        self,
        world: World,
        tls: TLSFiles | None = None,
        *,
        tenant_id: str = "cadence-tenant",
        latency: float = 0.0,
        mailbox_concurrency: int = CONCURRENCY,
        throttle_retry_after: int = 1,
        quota_per_minute: float | None = None,
        quota_burst: float | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cadence-graph-tls-")
            tls = make_tls(Path(self._tmp.name))
        super().__init__(
            ssl_context=tls.server_context(),
            latency=latency,
            quota_per_minute=quota_per_minute,
            quota_burst=quota_burst,
        )
        self.world = world
        self.tls = tls
        self.entra = Entra(tenant_id=tenant_id, resource="")
        self.mailbox_concurrency = mailbox_concurrency
        self.throttle_retry_after = throttle_retry_after
        self.batch_parts = 0
        self._deltas: dict[str, DeltaState] = {}
        self._pending: dict[str, PendingRound] = {}
        self._in_flight: dict[str, int] = {}
        self._ids: dict[str, str] = {}
        self._state_lock = threading.Lock()

    # -- set-up -----------------------------------------------------------------------------------

    def start(self) -> GraphStandIn:
        super().start()
        self.entra.resource = self.url
        return self

    def stop(self) -> None:
        super().stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def tenant_id(self) -> str:
        return self.entra.tenant_id

    @property
    def graph_url(self) -> str:
        return f"{self.url}/{GRAPH_VERSION}"

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def token_requests(self) -> int:
        return self.entra.token_requests

    @property
    def http_requests(self) -> int:
        """HTTP requests served (the parts of a ``$batch`` not counted apart; those refused
        over the quota are in :attr:`quota_refused`)."""
        return self.total - self.batch_parts

    def register_app(
        self,
        client_id: str,
        secret: str | None = None,
        certificate: x509.Certificate | None = None,
    ) -> None:
        self.entra.register(
            RegisteredApp(
                client_id,
                secrets=(secret,) if secret else (),
                certificates=(certificate,) if certificate else (),
            )
        )

    def source_config(self, client_id: str, **keys: Any) -> dict[str, Any]:
        """A ``[sources.NAME]`` table pointing an outlook source at this stand-in."""
        return {
            "kind": "outlook",
            "tenant_id": self.tenant_id,
            "client_id": client_id,
            "authority": self.authority,
            "validate_authority": False,
            "graph_url": self.graph_url,
            "ca_file": str(self.ca_file),
            **keys,
        }

    def expire_delta_links(self, mailbox: str | None = None) -> None:
        """Forget the sync state behind delta links (all, or one mailbox's): they answer 410."""
        with self._state_lock:
            for token in [t for t, s in self._deltas.items() if mailbox in (None, s.mailbox)]:
                del self._deltas[token]

    # -- what the base server asks ----------------------------------------------------------------

    def _mailbox(self, ident: str) -> str | None:
        """The address a (decoded) ``/users/{id}`` segment names: an address, or an object id."""
        if "@" in ident:
            return ident.strip().lower()
        with self._state_lock:
            if ident not in self._ids:
                self._ids = {user_id(e): e for e in list(self.world.people)}
            return self._ids.get(ident)

    def classify(self, request: Request) -> tuple[str, str | None]:
        parts = list(request.segments) or [""]
        if parts[-1] == "openid-configuration":
            return "openid", None
        if parts[-1] == "token":
            return "token", None
        if parts[:1] != [GRAPH_VERSION]:
            return "other", None
        rest = parts[1:]
        if rest == ["$batch"]:
            return "batch", None
        if rest == ["users"]:
            return "users", None
        if len(rest) == 4 and rest[0] == "users" and rest[2:] == ["calendarView", "delta"]:
            return "delta", self._mailbox(rest[1])
        if len(rest) == 4 and rest[0] == "users" and rest[2] == "events":
            return "event", self._mailbox(rest[1])
        if len(rest) == 3 and rest[0] == "users" and rest[2] == "mailboxSettings":
            return "mailboxSettings", self._mailbox(rest[1])
        return "other", None

    def admit(self, kind: str, mailbox: str | None) -> Response | None:
        """Outlook's 4 concurrent requests per mailbox: a fifth is throttled."""
        if mailbox is None:
            return None
        with self._state_lock:
            if self._in_flight.get(mailbox, 0) >= self.mailbox_concurrency:
                return self._throttled()
            self._in_flight[mailbox] = self._in_flight.get(mailbox, 0) + 1
        return None

    def release(self, kind: str, mailbox: str | None) -> None:
        if mailbox is None:
            return
        with self._state_lock:
            self._in_flight[mailbox] -= 1

    def charges_quota(self, request: Request, kind: str) -> bool:
        return kind not in FREE_OF_QUOTA

    def quota_refusal(self, retry_after: float) -> Response:
        return Response(
            429,
            {
                "error": {
                    "code": "TooManyRequests",
                    "message": "Too many requests: the tenant's request quota is spent. "
                    "Please retry again later.",
                }
            },
            {"Retry-After": retry_seconds(retry_after)},
        )

    def _throttled(self) -> Response:
        return Response(
            429,
            {
                "error": {
                    "code": "ApplicationThrottled",
                    "message": "Application is over its MailboxConcurrency limit.",
                }
            },
            {"Retry-After": str(self.throttle_retry_after)},
        )

    # -- routing ----------------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        kind, mailbox = self.classify(request)
        if kind == "openid":
            return Response(200, self.entra.openid_configuration(self.url))
        if kind == "token":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            status, body = self.entra.token(form, self.token_endpoint)
            return Response(status, body)
        if kind == "other":
            return _graph_error(
                404, "BadRequest", f"Resource not found for the segment {request.path!r}."
            )
        if not self.entra.valid(request.headers.get("authorization")):
            return _graph_error(
                401, "InvalidAuthenticationToken", "Access token is empty or not valid."
            )
        if kind == "batch":
            return self._batch(request)
        if kind == "users":
            return self._users(request)
        person = self.world.person(mailbox) if mailbox else None
        if person is None or person.side != "outlook" or person.suspended:
            return _graph_error(404, "ErrorInvalidUser", "The requested user is invalid.")
        if kind == "delta":
            return self._delta(person.email, request)
        if kind == "mailboxSettings":
            return self._mailbox_settings(person)
        return self._event(person.email, request.segments[-1])

    # -- $batch -----------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        try:
            parts = json.loads(request.body or b"{}").get("requests")
        except (ValueError, AttributeError):
            parts = None
        if not isinstance(parts, list) or not parts:
            return _graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(parts) > MAX_BATCH:
            return _graph_error(400, "BadRequest", f"The batch has more than {MAX_BATCH} requests.")
        responses = [self._part(p, request.headers) for p in parts]
        # Graph answers parts in any order: so does the stand-in, to keep clients honest.
        responses.reverse()
        return Response(200, {"responses": responses})

    def _part(self, part: dict[str, Any], outer: dict[str, str]) -> dict[str, Any]:
        ident = str(part.get("id", ""))
        url = str(part.get("url", ""))
        split = urlsplit(url if url.startswith("/") else "/" + url)
        headers = {**outer, **{k.lower(): str(v) for k, v in (part.get("headers") or {}).items()}}
        sub = Request(
            method=str(part.get("method", "GET")).upper(),
            path=f"/{GRAPH_VERSION}{split.path}",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=b"",
        )
        kind, mailbox = self.classify(sub)
        wait = self.spend_quota(sub, kind)
        if wait is not None:
            refused = self.quota_refusal(wait)
            return {
                "id": ident,
                "status": refused.status,
                "headers": {"Content-Type": "application/json", **refused.headers},
                "body": refused.body,
            }
        with self._state_lock:
            self.batch_parts += 1
        # Each part counts against the mailbox's limits and may fail on its own, as in Graph.
        fault = self._take_fault(kind, mailbox)
        if fault is not None and fault.action == "status":
            headers_out = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return {"id": ident, "status": fault.status, "headers": headers_out, "body": fault.body}
        if fault is not None and fault.action in {"drop", "malformed"}:
            return {"id": ident, "status": 502, "body": {"error": {"code": "BadGateway"}}}
        if fault is not None and fault.action == "slow":
            time.sleep(fault.delay)
        throttled = self.admit(kind, mailbox)
        if throttled is not None:
            response = throttled
        else:
            try:
                response = (
                    _graph_error(400, "BadRequest", "Only GET parts are supported.")
                    if sub.method != "GET" or kind == "batch"
                    else self.route(sub)
                )
            finally:
                self.release(kind, mailbox)
        return {
            "id": ident,
            "status": response.status,
            "headers": {"Content-Type": "application/json", **response.headers},
            "body": response.body,
        }

    # -- directory --------------------------------------------------------------------------------

    def _mailbox_settings(self, p: Person) -> Response:
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#users('{user_id(p.email)}')"
            "/mailboxSettings",
            "language": {"locale": "en-US", "displayName": "English (United States)"},
        }
        if p.timezone is not None:
            body["timeZone"] = p.timezone
            body["workingHours"] = {"timeZone": {"name": p.timezone}}
        return Response(200, body)

    def _users(self, request: Request) -> Response:
        people = sorted(
            (p for p in self.world.people.values() if p.side == "outlook"), key=lambda p: p.email
        )
        top = min(int(request.arg("$top") or USERS_PAGE), 999)
        offset = int(request.arg("$skiptoken") or 0)
        expand = "manager" in (request.arg("$expand") or "")
        selected = {name.strip() for name in (request.arg("$select") or "").split(",")}
        page = people[offset : offset + top]
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#users",
            "value": [self._user(p, expand, selected) for p in page],
        }
        if offset + top < len(people):
            query = {k: v[0] for k, v in request.query.items()}
            query["$skiptoken"] = str(offset + top)
            body["@odata.nextLink"] = f"{self.graph_url}/users?" + "&".join(
                f"{k}={quote(v, safe='(),=$')}" for k, v in query.items()
            )
        return Response(200, body)

    def _user(self, p: Person, expand: bool, selected: set[str]) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id(p.email),
            "displayName": p.name,
            "mail": p.email,
            "userPrincipalName": p.email,
            "accountEnabled": not p.suspended,
        }
        code, sub, name = p.country_parts()
        # Graph gives null for a property selected and not set.
        for key, value in (("usageLocation", code), ("state", sub), ("country", name or code)):
            if key in selected:
                user[key] = value
        if expand:
            boss = self.world.person(p.manager) if p.manager else None
            if boss is not None:
                user["manager"] = {
                    "@odata.type": "#microsoft.graph.user",
                    "id": user_id(boss.email),
                    "mail": boss.email,
                    "userPrincipalName": boss.email,
                }
        return user

    # -- calendar view delta ----------------------------------------------------------------------

    def _delta(self, email: str, request: Request) -> Response:
        size, tz = _prefer(request)
        skip, delta = request.arg("$skiptoken"), request.arg("$deltatoken")
        if skip is not None:
            with self._state_lock:
                pending = self._pending.get(skip)
            if pending is None or pending.mailbox != email:
                return _graph_error(400, "ErrorInvalidSyncState", "The skip token is not valid.")
            return self._page(email, pending, size)
        if delta is not None:
            with self._state_lock:
                state = self._deltas.get(delta)
            if state is None:
                return _graph_error(
                    410, "SyncStateNotFound", "The sync state generation is not found; resync."
                )
            if state.mailbox != email:
                return _graph_error(400, "ErrorInvalidSyncState", "The delta token is not valid.")
            seq = self.world.seq
            changed = {c.uid for c in self.world.changes_for(email, state.seq, seq)}
            view = dict(state.view)
            entries: list[dict[str, Any]] = []
            # Every series with a change here is in the calendar (or was: it leaves the view).
            for uid in sorted(changed):
                s = self.world.series[uid]
                now = self._series_view(email, state.start, state.end, s)
                before = _unpack(state.view.get(uid))
                for key, (fingerprint, entry) in now.items():
                    if before.get(key) != fingerprint:
                        entries.append(entry)
                entries += [
                    {
                        "id": occurrence_id(email, s, EPOCH + key * MICROSECOND),
                        "@removed": {"reason": "deleted"},
                    }
                    for key in before
                    if key not in now
                ]
                if now:
                    view[uid] = _pack(now)
                else:
                    view.pop(uid, None)
            final = DeltaState(email, state.start, state.end, seq, view)
        else:
            start = _parse_when(request.arg("startDateTime"))
            end = _parse_when(request.arg("endDateTime"))
            if start is None or end is None or end <= start:
                return _graph_error(
                    400,
                    "ErrorInvalidParameter",
                    "startDateTime and endDateTime are required ISO 8601 instants, start first.",
                )
            seq = self.world.seq
            series = self.world.series_of(email)
            view, entries = {}, []
            for s in series:
                now = self._series_view(email, start, end, s)
                entries += [entry for _, entry in now.values()]
                if now:
                    view[s.uid] = _pack(now)
            final = DeltaState(email, start, end, seq, view)
        if tz is not None:
            entries = [self._in_zone(e, tz) for e in entries]
        pending = PendingRound(email, entries, 0, final, tz)
        return self._page(email, pending, size)

    def _page(self, email: str, pending: PendingRound, size: int) -> Response:
        page = pending.entries[pending.offset : pending.offset + size]
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#Collection(event)",
            "value": page,
        }
        base = f"{self.graph_url}/users/{quote(email, safe='')}/calendarView/delta"
        token = secrets.token_urlsafe(16)
        with self._state_lock:
            if pending.offset + size < len(pending.entries):
                self._pending[token] = PendingRound(
                    email, pending.entries, pending.offset + size, pending.final, pending.tz
                )
                body["@odata.nextLink"] = f"{base}?$skiptoken={token}"
            else:
                self._deltas[token] = pending.final
                body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return Response(200, body)

    def _in_zone(self, entry: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
        if "@removed" in entry:
            return entry
        out = dict(entry)
        for key in ("start", "end"):
            utc = _parse_when(entry[key]["dateTime"])
            assert utc is not None
            out[key] = graph_time(utc, tz)
        return out

    def _series_view(
        self, email: str, start: datetime, end: datetime, s: Series
    ) -> dict[int, tuple[int, dict[str, Any]]]:
        """One series' entries in a mailbox's window: {key of the original start: (fingerprint,
        entry)}. The fingerprint is Python's hash of the entry's JSON: a change detector for
        state that lives and dies with this process."""
        out: dict[int, tuple[int, dict[str, Any]]] = {}
        taken_off = email in s.removed
        for o in self.world.occurrences(s, start, end):
            cancelled = o.cancelled or taken_off
            if cancelled and s.organizer == email:
                continue  # the organizer's calendar view no longer has it
            entry = self._entry(email, s, o, cancelled)
            out[_key(o.original_start)] = (hash(json.dumps(entry, sort_keys=True)), entry)
        return out

    def _entry(self, email: str, s: Series, o: Occurrence, cancelled: bool) -> dict[str, Any]:
        recurring = s.recurrence is not None
        own = next((g for g in o.guests if g.email == email), None)
        if email == s.organizer:
            own_status = {"response": "organizer", "time": NEVER}
        else:
            own_status = _status(own)
        organizer = self.world.person(s.organizer)
        return {
            "id": occurrence_id(email, s, o.original_start),
            "type": ("exception" if o.moved else "occurrence") if recurring else "singleInstance",
            "seriesMasterId": master_id(email, s.uid) if recurring else None,
            "iCalUId": occurrence_ical_uid(s, o.original_start),
            "originalStart": instant(o.original_start) if recurring else None,
            "subject": "stand-in subject (cadence never stores it)",
            "start": graph_time(o.start),
            "end": graph_time(o.end),
            "isAllDay": s.all_day,
            "isCancelled": cancelled,
            "isOrganizer": email == s.organizer,
            "showAs": "oof" if s.event_type == "outOfOffice" else "busy",
            "lastModifiedDateTime": instant(o.updated),
            "responseStatus": own_status,
            "organizer": {
                "emailAddress": {
                    "address": s.organizer,
                    "name": organizer.name if organizer else s.organizer,
                }
            },
            "attendees": [_attendee(g) for g in o.guests if g.email != s.organizer],
        }

    # -- single events and series masters ---------------------------------------------------------

    def _event(self, email: str, ident: str) -> Response:
        decoded = _unb64(ident)
        missing = _graph_error(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
        if not decoded or len(decoded) != 3 or decoded[0] != email:
            return missing
        _, uid, which = decoded
        s = self.world.series.get(uid)
        if s is None or not s.visible_to(email):
            return missing
        if which == "M":
            return Response(200, self._master(email, s))
        original = s.start if which == "S" else _parse_when(which)
        if original is None or not (which == "S" or s.is_occurrence(original)):
            return missing
        o = self.world.occurrence(s, original)
        cancelled = o.cancelled or email in s.removed
        if cancelled and s.organizer == email:
            return missing
        return Response(200, self._entry(email, s, o, cancelled))

    def _master(self, email: str, s: Series) -> dict[str, Any]:
        mid = master_id(email, s.uid)
        first = self.world.occurrence(s, s.start)
        entry = self._entry(email, s, first, s.cancelled)
        cancelled = sorted(t for t, c in s.changes.items() if c.cancelled)
        entry.update(
            id=mid,
            type="seriesMaster",
            seriesMasterId=None,
            originalStart=None,
            iCalUId=global_object_id(s.uid),
            start=graph_time(s.start),
            end=graph_time(s.start + s.duration),
            lastModifiedDateTime=instant(s.updated),
            recurrence=graph_recurrence(s),
            cancelledOccurrences=[
                f"OID.{mid}.{t.astimezone(UTC).date().isoformat()}" for t in cancelled
            ],
        )
        return entry


def _status(guest: Guest | None) -> dict[str, str]:
    if guest is None:
        return {"response": "none", "time": NEVER}
    return {"response": RESPONSE_NAMES[guest.response], "time": instant(guest.response_at)}


def _attendee(g: Guest) -> dict[str, Any]:
    return {
        "type": "resource" if g.resource else "optional" if g.optional else "required",
        "status": _status(g),
        "emailAddress": {"address": g.email, "name": g.email.split("@")[0]},
    }
