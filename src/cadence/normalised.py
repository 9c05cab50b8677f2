"""The normalised records: the events every connector yields and the store saves, and the
people every directory (or the org CSV) gives.

Both connectors map their API's shapes onto these records so that the store and the pipeline
cannot tell a Google event from a Microsoft one. Titles, descriptions and locations have no field
here on purpose: cadence never needs them, so it never keeps them.

Conventions every connector follows:

- Emails are normalised with :func:`normalise_email`.
- Times are timezone-aware UTC datetimes.
- ``None`` means "this copy does not say" (a sparse cancelled instance, a removed occurrence): the
  store then keeps what an earlier sync knew. ``attendees=None`` keeps the stored attendees;
  an empty tuple says there are none.
- ``original_start`` is the instant the occurrence was first planned for: Google's
  ``originalStartTime`` or Graph's ``originalStart`` for a series' occurrence, the ``start`` for a
  one-off (the store keeps the first one it saw, so a moved one-off shows as rescheduled).
- ``status`` is ``confirmed``, ``tentative`` or ``cancelled``.
- ``event_type`` is Google's vocabulary (``default``, ``outOfOffice``, ``focusTime``,
  ``workingLocation``, ``fromGmail``, ``birthday``); Graph's ``showAs: oof`` maps to
  ``outOfOffice``.
- ``recurrence`` is the series' RFC 5545 RRULE/EXRULE/RDATE/EXDATE lines joined by newlines, on
  every occurrence of a series (Graph's patterns are converted); ``None`` for a one-off.
- Attendee ``response`` is Google's vocabulary: ``needsAction``, ``declined``, ``tentative``,
  ``accepted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RESPONSES = frozenset({"needsAction", "declined", "tentative", "accepted"})
STATUSES = frozenset({"confirmed", "tentative", "cancelled"})
EVENT_TYPES = frozenset(
    {"default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"}
)


def normalise_email(email: str) -> str:
    """Compare emails as docs/metrics.md says: trimmed, case-insensitive."""
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    response: str = "needsAction"
    is_organizer: bool = False
    is_resource: bool = False
    optional: bool = False
    # When the source says the response was given (Graph ``status.time``; for Google, the copy's
    # ``updated`` at the sync that first saw this response).
    response_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Event:
    source: str
    mailbox: str
    event_id: str
    status: str
    ical_uid: str | None = None
    series_id: str | None = None
    original_start: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool | None = None
    event_type: str | None = None
    organizer: str | None = None
    recurrence: str | None = None
    updated: datetime | None = None
    attendees: tuple[Attendee, ...] | None = None


@dataclass(frozen=True, slots=True)
class OrgPerson:
    """One person of the org chart, as the org CSV or a directory (Google, Microsoft) gives it.

    ``email`` and ``manager_email`` are normalised; ``manager_email`` is ``None`` for the top.
    ``source`` is the NAME of the ``[sources.NAME]`` whose calendar holds their mailbox.
    ``country`` (ISO 3166-1 alpha-2, optionally with a subdivision: ``DE``, ``US-CA``) and
    ``timezone`` (an IANA name) say where they work, so that a 1:1 missed on their public holiday
    or away time can be told apart; ``None`` when nobody said.
    """

    email: str
    name: str
    manager_email: str | None = None
    team: str | None = None
    source: str | None = None
    aliases: tuple[str, ...] = ()
    country: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """What an earlier sync stored of one event copy, as much as a connector needs to decide
    what a listing that says little means (a sparse cancelled instance, a removed occurrence).
    """

    event_id: str
    status: str
    organizer: str | None = None
    series_id: str | None = None
    original_start: datetime | None = None
    start: datetime | None = None
