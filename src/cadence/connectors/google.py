"""Google Workspace: Calendar v3 events of every mailbox, and the Admin SDK Directory.

A service-account key with domain-wide delegation impersonates each mailbox in turn
(``with_subject``); the token request goes to the key's ``token_uri``. The key file is read and
checked when the connector is built (:func:`load_service_account`), so a wrong file is a
configuration error before any mailbox is read, not a failure of each. Each worker thread owns one
``httplib2.Http`` (it is not thread-safe) wrapped in ``google_auth_httplib2.AuthorizedHttp``, and
one ``googleapiclient`` service per mailbox built from the discovery documents shipped with the
library (``static_discovery=True``: no network), pointed at ``api_endpoint`` when set.

Listing: ``events.list`` with ``singleEvents`` and ``showDeleted``; a full round bounds it with
``timeMin``/``timeMax``, an incremental one passes the saved ``syncToken`` alone (Google refuses
the two together); ``nextSyncToken`` comes on the last page only; ``410`` raises
:class:`TokenExpired`. A series' ``recurrence`` is only on the series, so each series is fetched
once per run (``events.get(recurringEventId)``) and cached for every thread. A sparse cancelled
instance (only ``id``, ``recurringEventId``, ``originalStartTime``) keeps what the store knew of
it (the job's :class:`~cadence.connectors.base.StoredCopies` says whether it knew it); one never
seen before takes its organizer, attendees and times from the series.

Calendar and event ids go to the library as they are: it percent-encodes each path parameter as
one segment (``/`` included), exactly as :func:`~cadence.connectors.base.path_segment` does for
Graph, so only :func:`~cadence.connectors.base.one_segment` is applied here.

Failures are classified by :func:`classify`, the one map from the client libraries' errors to
cadence's: 429, 403 ``rateLimitExceeded``/``userRateLimitExceeded``, 5xx, dropped connections,
timeouts and unreadable bodies are retried; 403 ``quotaExceeded`` is retried with the long
backoff; 401/403 on a mailbox and a refused token are :class:`AuthError` saying what to check.
No message names the mailbox: the sync job does.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from cadence.config import Config, GoogleSource
from cadence.connectors.base import (
    DirectoryListing,
    MailboxJob,
    Page,
    RunCache,
    Throttle,
    no_throttle,
    one_segment,
    rfc3339_utc,
)
from cadence.connectors.keyfiles import key_file_error, read_key_file, rsa_key_problem
from cadence.connectors.places import Unfilled, country_of, iana_zone
from cadence.connectors.retry import (
    MalformedAnswer,
    Retryable,
    RetryPolicy,
    Verdict,
    parse_retry_after,
)
from cadence.errors import AuthError, ConfigError, SyncError, TokenExpired
from cadence.normalised import Attendee, Event, OrgPerson, StoredCopy, normalise_email

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"
PAGE_SIZE = 2500  # the most events.list gives a page: fewest requests
DIRECTORY_PAGE_SIZE = 500
RATE_LIMITS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
DEFAULT_TIMEOUT = 60.0


def _parse_when(value: dict[str, str] | None) -> tuple[datetime | None, bool | None]:
    """(UTC instant, all-day?) of a Google ``start``/``end``/``originalStartTime``."""
    if not value:
        return None, None
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"]).astimezone(UTC), False
    if "date" in value:
        day = datetime.fromisoformat(value["date"])
        return day.replace(tzinfo=UTC), True
    return None, None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _error_reason(exc: HttpError) -> str:
    """The first ``errors[].reason`` of a Google error body ('' when there is none)."""
    try:
        body = json.loads(exc.content.decode("utf-8"))
        return str(body["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


def _answer(body: Any) -> dict[str, Any]:
    # googleapiclient hands back the raw text when a body is not JSON.
    if not isinstance(body, dict):
        raise MalformedAnswer(f"not a JSON object: {str(body)[:60]!r}")
    return body


class _Series:
    """What every instance of a series shares, from ``events.get``."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.ical_uid: str | None = item.get("iCalUID")
        self.recurrence: str | None = "\n".join(item.get("recurrence") or []) or None
        start, all_day = _parse_when(item.get("start"))
        end, _ = _parse_when(item.get("end"))
        self.all_day = all_day
        self.duration = end - start if start and end else None
        self.event_type: str = item.get("eventType", "default")
        organizer = item.get("organizer", {}).get("email")
        self.organizer = normalise_email(organizer) if organizer else None
        self.item = item


# Other kinds of Google credential files, and what they are.
_NOT_A_SERVICE_ACCOUNT = {
    "authorized_user": "a user's OAuth credentials (gcloud auth application-default login)",
    "external_account": "a workload identity federation configuration",
    "impersonated_service_account": "an impersonation configuration",
}


def load_service_account(config: Config, source: GoogleSource) -> service_account.Credentials:
    """The credentials of ``service_account_file``: a Google service account's JSON key, with
    the fields domain-wide delegation needs, checked before any mailbox is read."""
    key = "service_account_file"
    path, data = read_key_file(config, source, key)

    def bad(why: str) -> ConfigError:
        return key_file_error(
            config, source.name, key, path, f"is not a service account's JSON key: {why}"
        )

    try:
        info = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(info, dict):
        raise bad(f"a JSON {type(info).__name__} where an object is expected")
    for field in ("type", "client_email", "private_key", "token_uri"):
        if field not in info:
            raise bad(f'"{field}" is missing')
        if not isinstance(info[field], str) or not info[field].strip():
            raise bad(f'"{field}" is not a text value')
        if field == "type" and info["type"] != "service_account":
            what = _NOT_A_SERVICE_ACCOUNT.get(info["type"], f'"type" is {info["type"]!r}')
            raise bad(
                f'{what}, not "type": "service_account"; create a key for the service account'
            )
    if urlsplit(info["token_uri"]).scheme not in ("https", "http"):
        raise bad('"token_uri" is not an http(s) URL')
    problem = rsa_key_problem(info["private_key"].encode("utf-8"))
    if problem is not None:
        raise bad(f'"private_key" {problem}')
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[CALENDAR_SCOPE])
    except (ValueError, KeyError, TypeError) as exc:  # google-auth's own checks, after ours
        raise bad(type(exc).__name__) from None


class GoogleConnector:
    """One Google source: a reader per worker thread, and its Directory."""

    def __init__(
        self,
        config: Config,
        source: GoogleSource,
        retry: RetryPolicy,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.source = source
        self.retry = retry
        self.timeout = timeout
        self.page_size = page_size
        self.workers = source.concurrency or config.sync.concurrency
        self._credentials = load_service_account(config, source)
        self.series_cache: RunCache[str, _Series] = RunCache()
        # Every API call (token requests aside: they are OAuth's, not the Calendar quota's).
        self.throttle: Throttle = no_throttle

    def open_worker(self) -> GoogleReader:
        return GoogleReader(self)

    def fetch_directory(self, skip: Callable[[str], bool] | None = None) -> DirectoryListing:
        """Every user of the Directory (``users.list``, ``projection=full``), suspended ones left
        out, with the manager from ``relations[type=manager]``, the country from an address's
        ``countryCode`` (and ``region``) and the time zone of their primary calendar
        (``calendars.get`` as that user: one request per user, and the token it needs)."""
        if not self.source.admin_email:
            raise ConfigError(
                f"[sources.{self.source.name}] admin_email is required to read the Directory"
            )
        reader = GoogleReader(self)
        try:
            return reader.directory(skip)
        finally:
            reader.close()

    def series(self, series_id: str, fetch: Callable[[], dict[str, Any]]) -> _Series:
        """The series ``series_id``, fetched by the first thread that needs it, then cached."""
        futures, mine = self.series_cache.claim([series_id])
        future = futures[series_id]
        if mine:
            try:
                future.set_result(_Series(fetch()))
            except BaseException as exc:
                self.series_cache.forget(series_id)  # let a later mailbox try again
                future.set_exception(exc)
        return future.result()


class _CountingHttp(httplib2.Http):
    """An ``httplib2.Http`` that counts its requests (token requests included)."""

    requests = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        return super().request(*args, **kwargs)


class GoogleReader:
    """One worker thread's connection; reads one mailbox at a time.

    The client is built once per thread (building parses the discovery document); each mailbox
    swaps in its own impersonated credentials.
    """

    def __init__(self, connector: GoogleConnector) -> None:
        self.connector = connector
        self._http = _CountingHttp(timeout=connector.timeout)
        self._services: dict[str, tuple[Any, google_auth_httplib2.AuthorizedHttp]] = {}

    @property
    def requests(self) -> int:
        return self._http.requests

    def close(self) -> None:
        self._http.close()

    def _resource(self, api: str, version: str, name: str, subject: str, scopes: list[str]) -> Any:
        """The API's ``name`` resource (``events``, ``users``) acting as ``subject``."""
        creds = self.connector._credentials.with_scopes(scopes).with_subject(subject)
        key = f"{api}.{name}"
        if key not in self._services:
            source = self.connector.source
            authed = google_auth_httplib2.AuthorizedHttp(creds, http=self._http)
            endpoint = source.api_endpoint if api == "calendar" else source.directory_endpoint
            service = build(
                api,
                version,
                http=authed,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": endpoint} if endpoint else None,
            )
            # Building a resource object costs milliseconds: once per thread, not per mailbox.
            self._services[key] = (getattr(service, name)(), authed)
        resource, authed = self._services[key]
        authed.credentials = creds
        return resource

    def _send(self, request: Any) -> dict[str, Any]:
        """One try of an API call, within the source's budget."""
        self.connector.throttle(1)
        return _answer(request.execute(num_retries=0))

    def _execute(self, request: Any, sync_token: bool = False) -> dict[str, Any]:
        return self.connector.retry.call(
            lambda: self._send(request), lambda exc: classify(exc, sync_token)
        )

    def _fetch_series(self, events: Any, series_id: str, mailbox: str) -> dict[str, Any]:
        """The series as ``events.get`` gives it; ``{}`` when it is gone (404/410)."""

        def gone(exc: BaseException) -> bool:
            return isinstance(exc, HttpError) and exc.status_code in (404, 410)

        calendar, event = one_segment(mailbox), one_segment(series_id)
        try:
            return self.connector.retry.call(
                lambda: self._send(events.get(calendarId=calendar, eventId=event)),
                lambda exc: None if gone(exc) else classify(exc),
            )
        except HttpError as exc:
            if gone(exc):
                return {}
            raise

    # -- events -------------------------------------------------------------------------------

    def pages(self, job: MailboxJob) -> Iterator[Page]:
        events = self._resource("calendar", "v3", "events", job.mailbox, [CALENDAR_SCOPE])
        params: dict[str, Any] = {
            "calendarId": one_segment(job.mailbox),
            "singleEvents": True,
            "showDeleted": True,
            "maxResults": self.connector.page_size,
        }
        if job.token:
            params["syncToken"] = job.token
        else:
            params["timeMin"] = rfc3339_utc(job.window.start)
            params["timeMax"] = rfc3339_utc(job.window.end)
        page_token: str | None = None
        while True:
            request = events.list(**params, **({"pageToken": page_token} if page_token else {}))
            body = self._execute(request, sync_token=bool(job.token))
            items = body.get("items", [])
            page_token = body.get("nextPageToken")
            token = None if page_token else body.get("nextSyncToken")
            if not page_token and not token:
                raise SyncError("the last page carried no nextSyncToken")
            yield Page(self._normalise(items, job, events), token)
            if token:
                return

    def _normalise(self, items: list[dict[str, Any]], job: MailboxJob, events: Any) -> list[Event]:
        sparse = [i["id"] for i in items if i.get("status") == "cancelled" and "start" not in i]
        known = job.stored.copies(sparse) if sparse else {}
        # A sparse cancelled item outside any series is a deleted one-off, or a deleted series
        # itself (Google may list the series rather than its instances: unconfirmed).
        loose = {i["id"] for i in items if i["id"] in sparse and not i.get("recurringEventId")}
        deleted_series = job.stored.series_copies(loose - known.keys()) if loose else {}
        out: list[Event] = []
        for item in items:
            if item["id"] in deleted_series:
                out.extend(_cancel_series(item, deleted_series[item["id"]], job))
                continue
            if item["id"] in loose and item["id"] not in known:
                continue  # a one-off deleted before cadence ever saw it: nothing to keep
            series = None
            series_id = item.get("recurringEventId")
            if series_id:
                series = self.connector.series(
                    series_id,
                    partial(self._fetch_series, events, series_id, job.mailbox),
                )
            out.append(to_event(item, job.source, job.mailbox, series, item["id"] in known))
        return out

    # -- directory ----------------------------------------------------------------------------

    def directory(self, skip: Callable[[str], bool] | None = None) -> DirectoryListing:
        source = self.connector.source
        unfilled = Unfilled()
        admin = normalise_email(source.admin_email)
        users = self._resource("admin", "directory_v1", "users", admin, [DIRECTORY_SCOPE])
        people = []
        page_token: str | None = None
        while True:
            request = users.list(
                customer=source.customer,
                maxResults=DIRECTORY_PAGE_SIZE,
                projection="full",
                **({"pageToken": page_token} if page_token else {}),
            )
            try:
                body = self._execute(request)
            except SyncError as exc:
                raise exc.about(admin) from exc.__cause__
            for user in body.get("users", []):
                if user.get("suspended"):
                    continue
                managers = [r for r in user.get("relations", []) if r.get("type") == "manager"]
                email = normalise_email(user["primaryEmail"])
                people.append(
                    OrgPerson(
                        email=email,
                        name=(user.get("name") or {}).get("fullName") or email,
                        manager_email=normalise_email(managers[0]["value"]) if managers else None,
                        source=source.name,
                        aliases=tuple(normalise_email(a) for a in user.get("aliases", [])),
                        country=_address_country(user, email, unfilled),
                    )
                )
            page_token = body.get("nextPageToken")
            if not page_token:
                break
        # Whose calendar cadence must never read (opted out, forgotten) is not asked its zone.
        read = [p.email for p in people if skip is None or not skip(p.email)]
        zones = _calendar_zones(self.connector, read, unfilled)
        return DirectoryListing([replace(p, timezone=zones.get(p.email)) for p in people], unfilled)

    def _calendar_zone(self, email: str, unfilled: Unfilled) -> str | None:
        """The time zone of ``email``'s primary calendar, read as them (``calendars.get``)."""
        calendars = self._resource("calendar", "v3", "calendars", email, [CALENDAR_SCOPE])
        try:
            body = self._execute(calendars.get(calendarId=one_segment(email)))
        except SyncError as exc:
            unfilled.add("timezone", "whose calendar could not be read", email, str(exc))
            return None
        said = body.get("timeZone")
        zone = iana_zone(said) if isinstance(said, str) else None
        if zone is None:
            reason = (
                "whose calendar has no IANA timeZone" if said else "whose calendar has no timeZone"
            )
            unfilled.add("timezone", reason, email, said if isinstance(said, str) else None)
        return zone


def _calendar_zones(
    connector: GoogleConnector, emails: list[str], unfilled: Unfilled
) -> dict[str, str | None]:
    """Each user's calendar time zone, read by as many threads as a sync of the source uses
    (each with its reader: an ``httplib2.Http`` is not thread-safe), since every user costs a
    token and a request, one after the other."""
    workers = max(1, min(connector.workers, len(emails)))
    shares = [emails[i::workers] for i in range(workers)]

    def read(share: list[str]) -> list[str | None]:
        reader = GoogleReader(connector)
        try:
            return [reader._calendar_zone(email, unfilled) for email in share]
        finally:
            reader.close()

    with ThreadPoolExecutor(workers) as pool:
        found = list(pool.map(read, shares))
    return {
        email: zone
        for share, zones in zip(shares, found, strict=True)
        for email, zone in zip(share, zones, strict=True)
    }


def _address_country(user: dict[str, Any], email: str, unfilled: Unfilled) -> str | None:
    """The country of the user's primary address, else of a work address, else of any; the
    Directory's ``locations`` name buildings and desks, never a country."""
    addresses = [
        a for a in user.get("addresses") or [] if isinstance(a, dict) and a.get("countryCode")
    ]
    if not addresses:
        unfilled.add("country", "without an address with a countryCode", email)
        return None
    best = min(addresses, key=lambda a: (not a.get("primary"), a.get("type") != "work"))
    code, region = str(best["countryCode"]), str(best.get("region") or "")
    found = country_of(code, region)
    if found is None:
        unfilled.add("country", "whose countryCode the holidays package does not know", email, code)
    return found


def _cancel_series(item: dict[str, Any], stored: list[StoredCopy], job: MailboxJob) -> list[Event]:
    """A deleted series listed as itself: every stored occurrence is cancelled, exactly as if
    Google had listed each instance cancelled, so either listing gives the same rows."""
    updated = _parse_time(item.get("updated"))
    return [
        Event(
            source=job.source,
            mailbox=job.mailbox,
            event_id=copy.event_id,
            status="cancelled",
            series_id=item["id"],
            original_start=copy.original_start,
            updated=updated,
        )
        for copy in stored
        if copy.status != "cancelled"
    ]


def to_event(
    item: dict[str, Any], source: str, mailbox: str, series: _Series | None, known: bool
) -> Event:
    """One ``events.list`` item as a normalised :class:`Event` (see its conventions)."""
    status = item.get("status", "confirmed")
    original_start, original_all_day = _parse_when(item.get("originalStartTime"))
    start, all_day = _parse_when(item.get("start"))
    end, _ = _parse_when(item.get("end"))
    updated = _parse_time(item.get("updated"))
    recurrence = series.recurrence if series else None
    if status == "cancelled" and start is None:
        # Sparse: keep what the store knows; fill a never-seen instance from its series.
        if known or series is None or not series.item:
            return Event(
                source=source,
                mailbox=mailbox,
                event_id=item["id"],
                status="cancelled",
                ical_uid=item.get("iCalUID") or (series.ical_uid if series else None),
                series_id=item.get("recurringEventId"),
                original_start=original_start,
                recurrence=recurrence,
                updated=updated,
            )
        master = series.item
        end_guess = original_start + series.duration if original_start and series.duration else None
        return Event(
            source=source,
            mailbox=mailbox,
            event_id=item["id"],
            status="cancelled",
            ical_uid=series.ical_uid,
            series_id=item.get("recurringEventId"),
            original_start=original_start,
            start=original_start,
            end=end_guess,
            all_day=original_all_day if original_all_day is not None else series.all_day,
            event_type=series.event_type,
            organizer=series.organizer,
            recurrence=recurrence,
            updated=updated,
            attendees=_attendees(master, series.organizer, None),
        )
    organizer = normalise_email(item["organizer"]["email"]) if "organizer" in item else None
    return Event(
        source=source,
        mailbox=mailbox,
        event_id=item["id"],
        status=status,
        ical_uid=item.get("iCalUID"),
        series_id=item.get("recurringEventId"),
        original_start=original_start or start,
        start=start,
        end=end,
        all_day=all_day,
        event_type=item.get("eventType", "default"),
        organizer=organizer,
        recurrence=recurrence,
        updated=updated,
        attendees=None if item.get("attendeesOmitted") else _attendees(item, organizer, updated),
    )


def _attendees(
    item: dict[str, Any], organizer: str | None, updated: datetime | None
) -> tuple[Attendee, ...]:
    """Attendees with the organizer flagged (and added when Google leaves them out); a response
    other than needsAction is timed by the copy's ``updated`` (docs/metrics.md)."""
    out = []
    for a in item.get("attendees", []):
        email = normalise_email(a["email"])
        response = a.get("responseStatus", "needsAction")
        out.append(
            Attendee(
                email=email,
                response=response,
                is_organizer=bool(a.get("organizer")) or email == organizer,
                is_resource=bool(a.get("resource")),
                optional=bool(a.get("optional")),
                response_at=updated if response != "needsAction" else None,
            )
        )
    if organizer and all(a.email != organizer for a in out):
        out.insert(0, Attendee(organizer, "accepted", is_organizer=True, response_at=updated))
    return tuple(out)


def classify(exc: BaseException, sync_token: bool = False) -> Verdict:
    """What a failure of one Google call means: retry (how), or fail the mailbox (why): the one
    map from google-api-python-client's, google-auth's and httplib2's errors to cadence's.

    ``sync_token``: the call carried a saved sync token (or a page token of such a round); a 400
    then means Google no longer accepts it, which a full round fixes just as a 410 does.
    """
    if isinstance(exc, HttpError):
        status = exc.status_code
        reason = _error_reason(exc)
        retry_after = parse_retry_after(exc.resp.get("retry-after"))
        if status == 410:
            return TokenExpired("the sync token expired (410): a full sync follows")
        if status == 400 and sync_token:
            return TokenExpired(f"the sync token was refused (400 {reason})")
        if status == 429 or (status == 403 and reason in RATE_LIMITS):
            return Retryable(
                f"rate limited ({status} {reason or 'Too Many Requests'})", retry_after
            )
        if status == 403 and reason in {"quotaExceeded", "dailyLimitExceeded"}:
            return Retryable(f"quota exceeded (403 {reason})", retry_after, slow=True)
        if status >= 500:
            return Retryable(f"server error {status}", retry_after)
        if status in (401, 403, 404):
            return AuthError(
                f"the calendar cannot be read as this user ({status} "
                f"{reason or exc.reason}): the mailbox is not delegated to the service account "
                "or does not exist"
            )
        return SyncError(f"Google answered {status} {reason}: {exc.reason}")
    if isinstance(exc, auth_exceptions.RefreshError):
        if getattr(exc, "retryable", False):
            return Retryable(f"token endpoint busy: {exc.args[0]}")
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = data.get("error", "")
        said = f" (token endpoint: {error}: {data.get('error_description', '')})" if error else ""
        if error == "unauthorized_client":
            why = (
                "domain-wide delegation is not granted to the service account for the scopes "
                f"cadence asks ({CALENDAR_SCOPE}, and {DIRECTORY_SCOPE} for org pull): see "
                "Admin console > Security > API controls > Domain-wide delegation"
            )
        elif error == "invalid_grant":
            why = "not a (non-suspended) user of the domain, or the key was revoked"
        else:
            why = str(exc.args[0]) if exc.args else "token refused"
        return AuthError(f"cannot impersonate this mailbox: {why}{said}")
    if isinstance(exc, auth_exceptions.TransportError):
        return Retryable(f"token endpoint unreachable: {exc}")
    if isinstance(exc, TimeoutError):
        return Retryable("timed out")
    if isinstance(exc, OSError | http.client.HTTPException | httplib2.HttpLib2Error):
        return Retryable(f"connection failed: {type(exc).__name__}")
    if isinstance(exc, MalformedAnswer):
        return Retryable(f"unreadable answer ({exc})")
    return None
