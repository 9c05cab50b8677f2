"""Microsoft Graph events and series masters, mapped onto cadence's normalised records.

Graph's vocabulary becomes the one :mod:`cadence.normalised` fixes (Google's), so the pipeline
cannot tell the two sources apart:

- ``isCancelled`` -> status ``cancelled``; anything else is ``confirmed`` (``showAs`` is the
  mailbox owner's free/busy, not the event's status);
- ``showAs: oof`` -> event_type ``outOfOffice``, else ``default``;
- attendee ``status.response``: ``none``/``notResponded`` -> ``needsAction``,
  ``organizer``/``accepted`` -> ``accepted``, ``tentativelyAccepted`` -> ``tentative``,
  ``declined`` -> ``declined``; ``status.time`` is the response's time (Graph sends
  ``0001-01-01`` for "never": that is ``None``);
- the organizer, whom Graph leaves out of ``attendees``, is listed as an accepted attendee
  flagged ``is_organizer``, as Google lists them;
- the series master's ``recurrence`` (pattern + range) becomes RFC 5545 RRULE text.

Graph times come in the zone the ``Prefer: outlook.timezone`` header asked for (cadence asks for
UTC); a copy in another zone is converted with its IANA name. All-day events start at midnight of
their date, taken as UTC, as Google's ``start.date`` is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cadence.errors import SyncError
from cadence.normalised import Attendee, Event, normalise_email

RESPONSES = {
    "none": "needsAction",
    "notresponded": "needsAction",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyaccepted": "tentative",
    "declined": "declined",
}
DAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
INDEX = {"first": "1", "second": "2", "third": "3", "fourth": "4", "last": "-1"}
# Graph writes "never" as the year 1.
NEVER_YEAR = 1
_FRACTION = re.compile(r"\.(\d+)")


# Exchange's GlobalObjectId (MS-OXOCAL 2.2.1.27), which Graph shows hex-encoded as ``iCalUId``:
# a class id, the occurrence's date in bytes 16-19 (zero on the series), a creation time, a size,
# then data. A meeting that came from another system (a Google invitation) carries its original
# iCalendar UID in that data, after the marker ``vCal-Uid`` and the version 1.
GLOBAL_OBJECT_CLASS = bytes.fromhex("040000008200E00074C5B7101A82E008")
VCAL_UID = b"vCal-Uid\x01\x00\x00\x00"


def series_uid(ical_uid: str | None) -> str | None:
    """The iCalendar UID every copy of a series shares, whichever service holds the copy.

    Graph's ``iCalUId`` is Exchange's GlobalObjectId in hex, with each occurrence's date written
    into it. Without that date it is the UID Exchange sends out for the series; when the series
    came from elsewhere, the UID it came with is inside it and is what the other side knows.
    Anything else (not a GlobalObjectId) is taken as it is.
    """
    if not ical_uid or len(ical_uid) < 80:
        return ical_uid
    try:
        raw = bytes.fromhex(ical_uid)
    except ValueError:
        return ical_uid
    if raw[:16] != GLOBAL_OBJECT_CLASS:
        return ical_uid
    data = raw[40 : 40 + int.from_bytes(raw[36:40], "little")]
    if data.startswith(VCAL_UID):
        embedded = data[len(VCAL_UID) :].split(b"\x00", 1)[0]
        try:
            return embedded.decode("utf-8")
        except UnicodeDecodeError:
            return ical_uid
    return (raw[:16] + bytes(4) + raw[20:]).hex().upper()


@lru_cache(maxsize=8192)  # the same instants recur on every attendee and every page
def parse_instant(value: str | None) -> datetime | None:
    """A Graph DateTimeOffset (``2026-11-23T10:00:00.1234567Z``) as an aware UTC datetime."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Graph sends up to 7 fractional digits; Python takes at most 6.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year == NEVER_YEAR:
        return None
    return parsed.astimezone(UTC)


def parse_datetime_tz(value: Mapping[str, Any] | None, where: str) -> datetime | None:
    """A Graph ``dateTimeTimeZone`` (``{"dateTime": ..., "timeZone": ...}``) in UTC."""
    if not value or not value.get("dateTime"):
        return None
    local = parse_instant(str(value["dateTime"]).rstrip("Z"))
    if local is None:
        return None
    zone = str(value.get("timeZone") or "UTC")
    if zone.upper() in {"UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"}:
        return local
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SyncError(f"time zone {zone!r} is not an IANA name", where=where) from exc
    return local.replace(tzinfo=tz).astimezone(UTC)


def map_response(status: Mapping[str, Any] | None) -> tuple[str, datetime | None]:
    """A Graph ``responseStatus`` as (normalised response, time it was given)."""
    if not status:
        return "needsAction", None
    response = RESPONSES.get(str(status.get("response") or "none").lower(), "needsAction")
    return response, parse_instant(status.get("time"))


def _email(value: Mapping[str, Any] | None) -> str | None:
    address = ((value or {}).get("emailAddress") or {}).get("address")
    return normalise_email(address) if address else None


def map_attendees(raw: Mapping[str, Any], organizer: str | None) -> tuple[Attendee, ...]:
    attendees: dict[str, Attendee] = {}
    for a in raw.get("attendees") or []:
        email = _email(a)
        if not email:
            continue
        response, at = map_response(a.get("status"))
        kind = str(a.get("type") or "required").lower()
        attendees[email] = Attendee(
            email=email,
            response=response,
            is_organizer=email == organizer,
            is_resource=kind == "resource",
            optional=kind == "optional",
            response_at=at,
        )
    if organizer:
        existing = attendees.get(organizer)
        attendees[organizer] = Attendee(
            email=organizer,
            response=existing.response if existing else "accepted",
            is_organizer=True,
            response_at=existing.response_at if existing else None,
        )
    return tuple(sorted(attendees.values(), key=lambda a: a.email))


def recurrence_to_rrule(recurrence: Mapping[str, Any] | None) -> str | None:
    """A Graph ``patternedRecurrence`` as one RFC 5545 ``RRULE:`` line.

    A range's ``endDate`` is a date with no time (Graph's series end "on" that day): it becomes
    ``UNTIL=YYYYMMDD``, date-only, so no time zone is invented for it.
    """
    if not recurrence or not recurrence.get("pattern"):
        return None
    pattern, rng = recurrence["pattern"], recurrence.get("range") or {}
    kind = str(pattern.get("type") or "")
    interval = int(pattern.get("interval") or 1)
    days = [DAYS[d.lower()] for d in pattern.get("daysOfWeek") or [] if d.lower() in DAYS]
    index = INDEX.get(str(pattern.get("index") or "first").lower(), "1")
    parts: list[str]
    if kind == "daily":
        parts = ["FREQ=DAILY"]
    elif kind == "weekly":
        parts = ["FREQ=WEEKLY", f"BYDAY={','.join(days)}"] if days else ["FREQ=WEEKLY"]
    elif kind == "absoluteMonthly":
        parts = ["FREQ=MONTHLY", f"BYMONTHDAY={int(pattern.get('dayOfMonth') or 1)}"]
    elif kind == "relativeMonthly":
        parts = ["FREQ=MONTHLY", *_relative_days(days, index)]
    elif kind == "absoluteYearly":
        parts = [
            "FREQ=YEARLY",
            f"BYMONTH={int(pattern.get('month') or 1)}",
            f"BYMONTHDAY={int(pattern.get('dayOfMonth') or 1)}",
        ]
    elif kind == "relativeYearly":
        parts = ["FREQ=YEARLY", f"BYMONTH={int(pattern.get('month') or 1)}"]
        parts += _relative_days(days, index)
    else:
        raise SyncError(f"unknown recurrence pattern type {kind!r}")
    if interval != 1:
        parts.insert(1, f"INTERVAL={interval}")
    range_type = str(rng.get("type") or "noEnd")
    if range_type == "endDate" and rng.get("endDate"):
        parts.append(f"UNTIL={date.fromisoformat(str(rng['endDate'])).strftime('%Y%m%d')}")
    elif range_type == "numbered" and int(rng.get("numberOfOccurrences") or 0) > 0:
        parts.append(f"COUNT={int(rng['numberOfOccurrences'])}")
    return "RRULE:" + ";".join(parts)


def _relative_days(days: list[str], index: str) -> list[str]:
    """``index`` of the listed weekdays: one day is ``BYDAY=2TU``; several need ``BYSETPOS``."""
    if len(days) == 1:
        return [f"BYDAY={index}{days[0]}"]
    return [f"BYDAY={','.join(days)}", f"BYSETPOS={index}"]


@dataclass(frozen=True, slots=True)
class Series:
    """What a series master tells about its occurrences, read once per master."""

    recurrence: str | None  # RRULE text
    ical_uid: str | None  # the series' UID (see :func:`series_uid`)
    cancelled_dates: frozenset[str]  # YYYY-MM-DD of the occurrences it lists as cancelled

    def cancels(self, original_start: datetime | None) -> bool:
        return original_start is not None and original_start.date().isoformat() in (
            self.cancelled_dates
        )


def read_master(master: Mapping[str, Any]) -> Series:
    """A ``seriesMaster`` event; ``cancelledOccurrences`` entries are ``OID.<id>.<date>``."""
    return Series(
        recurrence=recurrence_to_rrule(master.get("recurrence")),
        ical_uid=series_uid(master.get("iCalUId")),
        cancelled_dates=frozenset(
            str(oid).rsplit(".", 1)[-1] for oid in master.get("cancelledOccurrences") or []
        ),
    )


def map_event(
    raw: Mapping[str, Any],
    *,
    source: str,
    mailbox: str,
    series: Series | None = None,
) -> Event:
    """One calendarView entry (not an ``@removed`` one) as a normalised event.

    ``series`` is what the entry's series master says: its recurrence, its UID, and the
    occurrences it lists as cancelled (cancelled even where this copy does not say so).
    """
    where = f"mailbox {mailbox}, event {raw.get('id')}"
    organizer = _email(raw.get("organizer"))
    start = parse_datetime_tz(raw.get("start"), where)
    kind = str(raw.get("type") or "singleInstance")
    original = (
        parse_instant(raw.get("originalStart")) if kind in {"occurrence", "exception"} else None
    )
    all_day = bool(raw.get("isAllDay"))
    return Event(
        source=source,
        mailbox=mailbox,
        event_id=str(raw["id"]),
        status="cancelled"
        if raw.get("isCancelled") or (series is not None and series.cancels(original))
        else "confirmed",
        # The series' UID, as Google gives it: with the original start it names the occurrence
        # in every calendar, whichever service holds it.
        ical_uid=(series.ical_uid if series else None) or series_uid(raw.get("iCalUId")),
        series_id=raw.get("seriesMasterId"),
        original_start=original,
        start=start,
        end=parse_datetime_tz(raw.get("end"), where),
        all_day=all_day,
        event_type="outOfOffice" if str(raw.get("showAs") or "").lower() == "oof" else "default",
        organizer=organizer,
        recurrence=series.recurrence if series else None,
        updated=parse_instant(raw.get("lastModifiedDateTime")),
        attendees=map_attendees(raw, organizer),
    )
