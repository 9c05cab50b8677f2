"""Every value a calendar sends fits its column, the same way on SQLite and on PostgreSQL.

Whoever sends an invitation chooses its iCalendar UID, often its event id, and its guests'
addresses, at any length and with any characters. PostgreSQL refuses a value longer than its
column, a NUL character, and (like SQLite) a lone surrogate that no UTF-8 can encode; SQLite would
store them all. Refusing one row fails the whole page, so one hostile invitation would fail its
mailbox every night. Instead every value is stored, as it is when a column can hold it, or else
as a replacement that keeps its identity (docs/store.md, "Values no column can hold"):

- a value is stored as it is when it holds no NUL and no lone surrogate and its UTF-8 form is
  shorter than its column's length;
- any other value becomes its first characters (those two kinds dropped), then ``~`` and its
  SHA-256 in hex, cut so that the whole is exactly the column's length in UTF-8 bytes. The same
  value always becomes the same replacement (a re-sync merges with the stored row, and two
  mailboxes' copies of one meeting still share their UID), and two different values never
  share one. A value stored as it is is shorter than its column and a replacement exactly as
  long, so the two never meet, but for one case: a replacement handed back to the store (a
  stored copy's id, which a connector names again to cancel it) is kept as it is. Someone who
  sends another invitation's replacement is taken to mean that invitation, exactly as if they
  had sent its id.
- a column without a length (the recurrence rule) keeps the whole value, the two kinds of
  characters dropped.

Bytes rather than characters bound a replacement because PostgreSQL limits an index entry (the
attendees' key holds an event id and an email) in bytes. Checking a page costs a few passes of C
code per column (:func:`fitted_events`): the rare page with a value to replace is rebuilt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import chain
from operator import attrgetter
from typing import Any

from sqlalchemy import String, Table

from cadence.normalised import Attendee, Event
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow

# A SHA-256 in hex is 64 characters; a column too short for it and a prefix keeps what fits.
HASH_CHARS = 64
_HEX_TAIL = re.compile(r"~[0-9a-f]+")


def _limits(table: Table, names: Sequence[str]) -> dict[str, int | None]:
    """The most each column can hold (``None``: no limit), by the model's own types."""
    types = {n: table.c[n].type for n in names}
    return {n: t.length if isinstance(t, String) else None for n, t in types.items()}


# What a connector's Event and Attendee carry that a calendar (so a sender) chooses. Source and
# mailbox are the configuration's and the org chart's, and key every other table too.
EVENT_LIMITS = _limits(
    EventRow.__table__,  # type: ignore[arg-type]
    ["event_id", "series_id", "ical_uid", "event_type", "status", "organizer", "recurrence"],
)
ATTENDEE_LIMITS = _limits(AttendeeRow.__table__, ["email", "response"])  # type: ignore[arg-type]
EVENT_ID_LIMIT = EVENT_LIMITS["event_id"]


def _clean(value: str) -> str:
    """``value`` without the characters no backend stores (NUL, lone surrogates)."""
    return value.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")


def _byte_length(value: str) -> int | None:
    """The UTF-8 length of ``value``, or ``None`` when it holds a NUL or a lone surrogate."""
    if "\x00" in value:
        return None
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def is_replacement(value: str, limit: int | None) -> bool:
    """Whether ``value`` is a replacement this module made for a column of ``limit``."""
    if limit is None or _byte_length(value) != limit:
        return False
    tail = min(HASH_CHARS, limit - 1) + 1
    return _HEX_TAIL.fullmatch(value[-tail:]) is not None


def stored_form(value: str, limit: int | None) -> str:
    """What a column of ``limit`` (``None``: no limit) stores for ``value`` (module docstring)."""
    size = _byte_length(value)
    if size is not None and (limit is None or size < limit or is_replacement(value, limit)):
        return value
    if limit is None:
        return _clean(value)
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    suffix = "~" + digest[: min(HASH_CHARS, limit - 1)]
    room = limit - len(suffix)
    # Whole characters only, and padded so that every replacement is exactly limit bytes long.
    head = _clean(value).encode("utf-8")[:room].decode("utf-8", "ignore")
    return head + "~" * (room - len(head.encode("utf-8"))) + suffix


def _all_fit(values: Iterable[str | None], limit: int | None) -> bool:
    """Whether every value is stored as it is; C-speed passes over the column (no Python loop
    per value) unless it holds characters outside ASCII."""
    present = list(filter(None, values))
    if not present:
        return True
    joined = "".join(present)
    if "\x00" in joined:
        return False
    if joined.isascii():
        return limit is None or max(map(len, present)) < limit
    try:
        longest = max(map(len, map(str.encode, present)))
    except UnicodeEncodeError:
        return False
    return limit is None or longest < limit


def _changes(record: Event | Attendee, limits: dict[str, int | None]) -> dict[str, Any]:
    """The fields of ``record`` whose stored form differs from what the calendar gave."""
    changes: dict[str, Any] = {}
    for name, limit in limits.items():
        value = getattr(record, name)
        if isinstance(value, str) and (stored := stored_form(value, limit)) != value:
            changes[name] = stored
    return changes


def _fitted(e: Event) -> Event:
    changes = _changes(e, EVENT_LIMITS)
    if e.attendees:
        attendees = tuple(
            replace(a, **c) if (c := _changes(a, ATTENDEE_LIMITS)) else a for a in e.attendees
        )
        if attendees != e.attendees:
            changes["attendees"] = attendees
    return replace(e, **changes) if changes else e


def fitted_events(events: Sequence[Event]) -> Sequence[Event]:
    """``events`` with every value in its stored form: the same sequence when all of them fit
    (the common case, checked column by column), else a copy with the offenders replaced."""
    listed = list(chain.from_iterable(filter(None, map(attrgetter("attendees"), events))))
    if all(
        _all_fit(map(attrgetter(name), events), limit) for name, limit in EVENT_LIMITS.items()
    ) and all(
        _all_fit(map(attrgetter(name), listed), limit) for name, limit in ATTENDEE_LIMITS.items()
    ):
        return events
    return [_fitted(e) for e in events]


def stored_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each event or series id as the store keeps it -> the id as the calendar gives it."""
    return {stored_form(i, EVENT_ID_LIMIT): i for i in ids}
