"""A stand-in for Google's OAuth token endpoint, Calendar v3 and the Admin SDK Directory.

It serves a :class:`cadence.sandbox.world.World` the way Google documents its APIs (what is
known of them is in docs/google.md), so the real google-auth and google-api-python-client can be
pointed at it:

- ``POST /token``: the JWT-bearer grant of a service account. The assertion's RS256 signature is
  checked against the key :meth:`GoogleStandIn.write_key` made, and its audience, issuer, expiry,
  scope and subject. A subject that is not delegated, or a scope the
  admin did not grant (``delegated_scopes``), gets ``401 unauthorized_client``; one that is
  not a (non-suspended) user of the world gets ``400 invalid_grant``, as Google answers.
- ``GET /calendar/v3/calendars/{id}/events``: ``singleEvents``, ``showDeleted``, ``timeMin``
  (bounds the end), ``timeMax`` (bounds the start), ``maxResults`` (default 250, at most 2500),
  ``pageToken``, ``syncToken`` (alone: combining it with a time bound is a 400). Pages are
  followed with ``nextPageToken``; the last page carries ``nextSyncToken``. Cancelled instances
  are sparse (``id``, ``recurringEventId``, ``originalStartTime``, ``status``). A sync token
  replays every change since it was issued, within its window; :meth:`GoogleStandIn.expire_tokens`
  makes tokens answer ``410``.
- ``GET /calendar/v3/calendars/{id}/events/{seriesId}``: the series with its ``recurrence``.
- ``GET /calendar/v3/calendars/{id}``: the calendar with its ``timeZone`` (an IANA name; absent
  when the world gives the person none), to its owner only.
- ``GET /admin/directory/v1/users``: the Google-side people, with ``relations`` of type manager
  and a work address (``countryCode`` and ``region``, or only a ``country`` name), paged (at
  most 500).
- No or an unknown bearer token: ``401``; a token of another user, or without the scope: ``403``.
- Over the stand-in's quota (``quota_per_minute``, see :mod:`cadence.sandbox.server` for the
  bucket's rule): ``403`` with Google's ``usageLimits`` / ``rateLimitExceeded`` error body and no
  ``Retry-After`` (Google gives none; clients back off on their own). Every API call is charged,
  Calendar and Directory alike; the token endpoint is OAuth's, not an API's, and is free.

Call kinds for faults and counters: ``token``, ``events.list``, ``events.get``,
``calendars.get``, ``users.list``;
the mailbox is the calendar id (or the token's subject for the token endpoint). Paths are routed
as Google's front end does: ``..`` resolved, then each segment decoded once, so a calendar id
holding ``/`` (sent as ``%2F``) is one calendar id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cadence.normalised import normalise_email
from cadence.sandbox.server import Request, Response, StandIn, path_segments
from cadence.sandbox.tls import write_private
from cadence.sandbox.world import Occurrence, Series, World

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALENDAR_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/calendar",
        "https://www.googleapis.com/auth/calendar.readonly",
        "https://www.googleapis.com/auth/calendar.events.readonly",
    }
)
DIRECTORY_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/admin.directory.user",
        "https://www.googleapis.com/auth/admin.directory.user.readonly",
    }
)
CALENDAR_PREFIX = ("calendar", "v3", "calendars")  # then {calendarId}/events[/{eventId}]
USERS_PATH = "/admin/directory/v1/users"
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a secret


def google_error(code: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    """An error body in Google's JSON shape (what googleapiclient's HttpError parses)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
        }
    }


def rate_limited(reason: str = "rateLimitExceeded") -> dict[str, Any]:
    """The 403 body of a rate limit (``rateLimitExceeded``, ``userRateLimitExceeded``,
    ``quotaExceeded``), for faults."""
    return google_error(403, reason, "Rate Limit Exceeded", "usageLimits")


@lru_cache(maxsize=1 << 16)
def event_id(uid: str) -> str:
    """A Google-style event id (base32hex characters) for a series UID."""
    return hashlib.sha1(uid.encode()).hexdigest()[:26]  # noqa: S324 - an id, not security


def instance_id(s: Series, original_start: datetime) -> str:
    if s.recurrence is None:
        return event_id(s.uid)
    stamp = original_start.strftime("%Y%m%d" if s.all_day else "%Y%m%dT%H%M%SZ")
    return f"{event_id(s.uid)}_{stamp}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Formatting times is most of the stand-in's work on a big world; the same instants recur in
# every attendee's calendar, so they are cached.
@lru_cache(maxsize=1 << 17)
def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@lru_cache(maxsize=1 << 17)
def _when(t: datetime, all_day: bool) -> dict[str, str]:  # read-only: shared between answers
    if all_day:
        return {"date": t.date().isoformat()}
    return {"dateTime": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "UTC"}


def _parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("no offset")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class _Token:
    subject: str
    scopes: frozenset[str]
    expires: float


class _Bad(Exception):
    """An answer other than 200, raised from deep inside a handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class GoogleStandIn(StandIn):
    def __init__(
        self,
        world: World,
        *,
        latency: float = 0.0,
        undelegated: set[str] | None = None,
        client_email: str = "cadence@cadence-test.iam.gserviceaccount.com",
        quota_per_minute: float | None = None,
        quota_burst: float | None = None,
    ) -> None:
        super().__init__(
            latency=latency, quota_per_minute=quota_per_minute, quota_burst=quota_burst
        )
        self.world = world
        self.undelegated = {normalise_email(e) for e in undelegated or ()}
        # The scopes the domain's admin granted the service account (domain-wide delegation).
        self.delegated_scopes = set(CALENDAR_SCOPES | DIRECTORY_SCOPES)
        self.client_email = client_email
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        self._tokens: dict[str, _Token] = {}
        self._token_lock = threading.Lock()
        self._generation = 0  # bumped by expire_tokens(): older sync tokens answer 410
        self._expired_for: set[str] = set()
        self.users_page_limit = 500  # users.list gives at most this many a page
        # How a deleted recurring series is listed (unconfirmed which Google does): as each of
        # its instances cancelled ("instances"), or as the series alone ("series").
        self.series_deletion = "instances"

    # -- set-up helpers -------------------------------------------------------------------------

    @property
    def calendar_endpoint(self) -> str:
        """The ``api_endpoint`` a config points at this stand-in's Calendar API."""
        return self.url + "/calendar/v3/"

    @property
    def directory_endpoint(self) -> str:
        return self.url + "/"

    def write_key(self, path: Path) -> Path:
        """Write a service-account JSON key file whose ``token_uri`` is this stand-in."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = {
            "type": "service_account",
            "project_id": "cadence-test",
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": self.url + "/auth",
            "token_uri": self.url + TOKEN_PATH,
        }
        # A real private key (the stand-in checks its signatures): readable by its owner alone.
        return write_private(path, json.dumps(key).encode("utf-8"))

    def expire_tokens(self, mailbox: str | None = None) -> None:
        """Make sync tokens issued so far answer 410 (for one mailbox, or all)."""
        with self._token_lock:
            if mailbox is None:
                self._generation += 1
            else:
                self._expired_for.add(normalise_email(mailbox))

    # -- routing ------------------------------------------------------------------------------

    def classify(self, request: Request) -> tuple[str, str | None]:
        segments = request.segments
        if segments == path_segments(TOKEN_PATH):
            return "token", None
        if segments == path_segments(USERS_PATH):
            return "users.list", None
        if segments[:3] == CALENDAR_PREFIX and len(segments) == 4:
            return "calendars.get", normalise_email(segments[3])
        if segments[:3] == CALENDAR_PREFIX and len(segments) in (5, 6):
            mailbox = normalise_email(segments[3])
            if segments[4] == "events":
                return "events.list" if len(segments) == 5 else "events.get", mailbox
        return "other", None

    def charges_quota(self, request: Request, kind: str) -> bool:
        return kind != "token"

    def quota_refusal(self, retry_after: float) -> Response:
        return Response(403, rate_limited("rateLimitExceeded"))

    def route(self, request: Request) -> Response:
        try:
            kind, mailbox = self.classify(request)
            if kind == "token" and request.method == "POST":
                return self._token(request)
            if request.method != "GET" or kind in ("other", "token"):
                return Response(404, google_error(404, "notFound", "Not Found"))
            if kind == "users.list":
                self._authorise(request, DIRECTORY_SCOPES, None)
                return self._users(request)
            assert mailbox is not None
            subject = self._authorise(request, CALENDAR_SCOPES, mailbox)
            if kind == "events.list":
                return self._list(request, subject)
            if kind == "calendars.get":
                return self._calendar(subject)
            return self._get(request, subject)
        except _Bad as bad:
            return bad.response

    # -- token endpoint -----------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

        def refuse(status: int, error: str, description: str) -> Response:
            return Response(status, {"error": error, "error_description": description})

        if form.get("grant_type") != JWT_GRANT or "assertion" not in form:
            return refuse(400, "unsupported_grant_type", "Invalid grant_type.")
        try:
            head_b64, claims_b64, sig_b64 = form["assertion"].split(".")
            header = json.loads(_unb64url(head_b64))
            claims = json.loads(_unb64url(claims_b64))
            self._key.public_key().verify(
                _unb64url(sig_b64),
                f"{head_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, InvalidSignature):
            return refuse(400, "invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        if header.get("alg") != "RS256" or header.get("kid") not in (None, self.key_id):
            return refuse(400, "invalid_grant", "Invalid JWT Signature.")
        # google-auth addresses the assertion to Google's token endpoint whatever the token_uri.
        audiences = {GOOGLE_TOKEN_AUDIENCE, self.url + TOKEN_PATH}
        if claims.get("aud") not in audiences or claims.get("iss") != self.client_email:
            return refuse(400, "invalid_grant", "Invalid JWT: audience or issuer.")
        if not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) + 300):
            return refuse(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return refuse(400, "invalid_scope", "Empty or missing scope not allowed.")
        subject = normalise_email(str(claims.get("sub") or ""))
        person = self.world.person(subject) if subject else None
        if subject in self.undelegated or not scopes <= self.delegated_scopes:
            return refuse(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        if person is None or person.suspended or person.side != "google":
            return refuse(400, "invalid_grant", "Invalid email or User ID")
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._token_lock:
            self._tokens[token] = _Token(subject, scopes, now + 3600)
        return Response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _authorise(self, request: Request, allowed: frozenset[str], mailbox: str | None) -> str:
        auth = request.headers.get("authorization", "")
        with self._token_lock:
            token = self._tokens.get(auth.removeprefix("Bearer ").strip())
        if not auth.startswith("Bearer ") or token is None or token.expires < time.time():
            raise _Bad(
                Response(
                    401,
                    google_error(401, "authError", "Invalid Credentials"),
                    {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                )
            )
        if not token.scopes & allowed:
            raise _Bad(
                Response(
                    403,
                    google_error(
                        403, "insufficientPermissions", "Request had insufficient scopes."
                    ),
                )
            )
        if mailbox is not None and mailbox not in ("primary", token.subject):
            if self.world.person(mailbox) is None:
                raise _Bad(Response(404, google_error(404, "notFound", "Not Found")))
            raise _Bad(
                Response(
                    403,
                    google_error(403, "forbidden", "You don't have access to this calendar."),
                )
            )
        return token.subject

    # -- events.list --------------------------------------------------------------------------

    def _list(self, request: Request, mailbox: str) -> Response:
        def bad(message: str) -> _Bad:
            return _Bad(Response(400, google_error(400, "invalid", message)))

        max_results = int(request.arg("maxResults") or 250)
        if not 1 <= max_results <= 2500:
            raise bad("Invalid maxResults")
        single = request.arg("singleEvents") == "true"
        show_deleted = request.arg("showDeleted") == "true"
        page_token, sync_token = request.arg("pageToken"), request.arg("syncToken")
        if page_token:
            state = self._decode(page_token, mailbox, bad)
        elif sync_token:
            if any(request.arg(k) for k in ("timeMin", "timeMax", "updatedMin", "orderBy", "q")):
                raise bad("Sync token cannot be combined with timeMin, timeMax or updatedMin.")
            state = self._decode(sync_token, mailbox, bad)
            self._check_fresh(state, mailbox)
            state = {**state, "since": state["seq"], "seq": self.world.seq, "offset": 0}
        else:
            try:
                tmin = _parse_time(request.arg("timeMin") or "1970-01-01T00:00:00Z")
                tmax = _parse_time(request.arg("timeMax") or "2100-01-01T00:00:00Z")
            except ValueError:
                raise bad("Bad time format: RFC 3339 with an offset is required.") from None
            state = {
                "mailbox": mailbox,
                "tmin": tmin.isoformat(),
                "tmax": tmax.isoformat(),
                "seq": self.world.seq,
                "since": None,
                "offset": 0,
                "gen": self._generation,
            }
        if not single:
            raise bad("this stand-in serves singleEvents=true only")
        items = self._items(mailbox, state, show_deleted or state["since"] is not None)
        offset = state["offset"]
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": mailbox,
            "timeZone": "UTC",
            "updated": _rfc3339(self.world.clock()),
            "accessRole": "owner",
            "items": items[offset : offset + max_results],
        }
        if offset + max_results < len(items):
            body["nextPageToken"] = self._encode({**state, "offset": offset + max_results})
        else:
            body["nextSyncToken"] = self._encode(
                {k: state[k] for k in ("mailbox", "tmin", "tmax", "seq", "gen")}
            )
        return Response(200, body)

    def _encode(self, state: dict[str, Any]) -> str:
        return _b64url(json.dumps(state, separators=(",", ":")).encode())

    def _decode(self, token: str, mailbox: str, bad: Any) -> dict[str, Any]:
        try:
            state = json.loads(_unb64url(token))
        except ValueError:
            raise bad("Invalid page or sync token.") from None
        if not isinstance(state, dict) or state.get("mailbox") != mailbox:
            raise bad("Invalid page or sync token.")
        state.setdefault("since", None)
        state.setdefault("offset", 0)
        return state

    def _check_fresh(self, state: dict[str, Any], mailbox: str) -> None:
        with self._token_lock:
            gone = state.get("gen") != self._generation or mailbox in self._expired_for
            self._expired_for.discard(mailbox)
        if gone:
            message = "Sync token is no longer valid, a full sync is required."
            raise _Bad(Response(410, google_error(410, "fullSyncRequired", message, "calendar")))

    def _items(self, mailbox: str, state: dict[str, Any], show_deleted: bool) -> list[dict]:
        tmin, tmax = _parse_time(state["tmin"]), _parse_time(state["tmax"])
        world = self.world
        if state["since"] is None:
            occurrences = world.instances(mailbox, tmin, tmax)
        else:
            touched: dict[str, set[datetime] | None] = {}
            for change in world.changes_for(mailbox, state["since"], state["seq"]):
                starts = touched.get(change.uid, set())
                if change.original_start is None or starts is None:
                    touched[change.uid] = None
                else:
                    touched[change.uid] = starts | {change.original_start}
            occurrences = []
            for uid, wanted in sorted(touched.items()):
                s = world.series[uid]
                if not s.visible_to(mailbox):
                    continue
                found = world.occurrences(s, tmin, tmax)
                occurrences.extend(o for o in found if wanted is None or o.original_start in wanted)
            occurrences.sort(key=lambda o: (o.original_start, o.series.uid))
        items = []
        deleted: set[str] = set()
        for o in occurrences:
            s = o.series
            if s.cancelled and self.series_deletion == "series" and s.recurrence is not None:
                if s.uid not in deleted:  # the deleted series as one item, not its instances
                    deleted.add(s.uid)
                    items.append(
                        {
                            "kind": "calendar#event",
                            "id": event_id(s.uid),
                            "status": "cancelled",
                            "updated": _rfc3339(s.cancelled_at or self.world.clock()),
                        }
                    )
                continue
            items.append(self._instance(o, mailbox))
        return [i for i in items if show_deleted or i["status"] != "cancelled"]

    def _instance(self, o: Occurrence, mailbox: str) -> dict[str, Any]:
        s = o.series
        iid = instance_id(s, o.original_start)
        cancelled = o.cancelled or mailbox not in s.participants()
        if cancelled and s.recurrence is not None:
            return {
                "kind": "calendar#event",
                "id": iid,
                "status": "cancelled",
                "recurringEventId": event_id(s.uid),
                "originalStartTime": _when(o.original_start, s.all_day),
            }
        item: dict[str, Any] = {
            "kind": "calendar#event",
            "id": iid,
            "status": "cancelled" if cancelled else "confirmed",
            "iCalUID": s.uid,
            "created": _rfc3339(s.created or o.start),
            "updated": _rfc3339(o.updated or o.start),
            "eventType": s.event_type,
        }
        if cancelled:  # a deleted one-off: what Google keeps of it
            return item
        item.update(
            start=_when(o.start, s.all_day),
            end=_when(o.end, s.all_day),
            organizer={"email": s.organizer, **({"self": True} if s.organizer == mailbox else {})},
            attendees=[self._attendee(g, s, mailbox) for g in o.guests],
        )
        if s.recurrence is not None:
            item["recurringEventId"] = event_id(s.uid)
            item["originalStartTime"] = _when(o.original_start, s.all_day)
        return item

    @staticmethod
    def _attendee(g: Any, s: Series, mailbox: str) -> dict[str, Any]:
        a: dict[str, Any] = {"email": g.email, "responseStatus": g.response}
        if g.email == s.organizer:
            a["organizer"] = True
        if g.email == mailbox:
            a["self"] = True
        if g.resource:
            a["resource"] = True
        if g.optional:
            a["optional"] = True
        return a

    # -- events.get ---------------------------------------------------------------------------

    def _get(self, request: Request, mailbox: str) -> Response:
        wanted = request.segments[-1]
        for s in self.world.series_of(mailbox):
            if event_id(s.uid) != wanted:
                continue
            first = self.world.occurrence(s, s.start)
            body: dict[str, Any] = {
                "kind": "calendar#event",
                "id": wanted,
                "status": "cancelled" if s.cancelled else "confirmed",
                "iCalUID": s.uid,
                "created": _rfc3339(s.created or s.start),
                "updated": _rfc3339(s.updated or s.start),
                "eventType": s.event_type,
                "start": _when(s.start, s.all_day),
                "end": _when(s.start + s.duration, s.all_day),
                "organizer": {"email": s.organizer},
                "attendees": [self._attendee(g, s, mailbox) for g in first.guests],
            }
            if s.recurrence is not None:
                body["recurrence"] = [s.recurrence.rrule_line()]
            return Response(200, body)
        return Response(404, google_error(404, "notFound", "Not Found"))

    # -- calendars.get ------------------------------------------------------------------------

    def _calendar(self, mailbox: str) -> Response:
        person = self.world.person(mailbox)
        body: dict[str, Any] = {"kind": "calendar#calendar", "id": mailbox, "summary": mailbox}
        if person is not None and person.timezone is not None:
            body["timeZone"] = person.timezone
        return Response(200, body)

    # -- users.list ---------------------------------------------------------------------------

    def _users(self, request: Request) -> Response:
        if request.arg("customer") is None and request.arg("domain") is None:
            return Response(400, google_error(400, "badRequest", "Bad Request"))
        max_results = min(int(request.arg("maxResults") or 100), self.users_page_limit)
        offset = int(request.arg("pageToken") or 0)
        people = self.world.people_on("google")
        users = []
        for p in people[offset : offset + max_results]:
            user: dict[str, Any] = {
                "kind": "admin#directory#user",
                "id": event_id(p.email),
                "primaryEmail": p.email,
                "name": {"fullName": p.name},
                "suspended": p.suspended,
                "orgUnitPath": "/",
            }
            if p.manager:
                user["relations"] = [{"value": p.manager, "type": "manager"}]
            code, sub, name = p.country_parts()
            if code is not None:
                address = {"type": "work", "primary": True, "countryCode": code}
                user["addresses"] = [address | ({"region": sub} if sub else {})]
            elif name is not None:
                user["addresses"] = [{"type": "work", "country": name}]
            users.append(user)
        body: dict[str, Any] = {"kind": "admin#directory#users", "users": users}
        if offset + max_results < len(people):
            body["nextPageToken"] = str(offset + max_results)
        return Response(200, body)
