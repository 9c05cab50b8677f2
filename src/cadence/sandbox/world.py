"""The in-memory world the calendar stand-ins serve: people, and their meetings as series.

Both stand-ins (Google Calendar, Microsoft Graph) render the same world in their API's shapes, so a
test can put half the people on each side and compare what the two connectors store. Nothing here
knows about HTTP.

A meeting is a :class:`Series`: one iCalendar UID, an organizer, attendees (people, rooms and other
resources) with their responses, a first start, a duration, timed or all-day, an event type, and
either a recurrence (:class:`Recurrence`, an RRULE) or none (a one-off). What happens to single
occurrences is kept as :class:`InstanceChange` exceptions keyed by the occurrence's original start:
cancelled at time T, moved to another start and end, an attendee's response at T.

Every mutation bumps a change sequence and records which occurrence (``uid``, ``original_start``)
or which whole series (``original_start`` ``None``) changed, so a stand-in can answer an
incremental sync with "what changed since sequence N". Each change is also filed under every
person whose calendar holds (or held) the series, so that "what changed in this mailbox since N"
(:meth:`World.changes_for`) costs a binary search and that mailbox's own changes, not a scan of
everyone's: a night of 100,000 mailboxes asks it 100,000 times. The world is thread-safe (one
lock) because a stand-in serves many requests at once while a test mutates it; its clock is
injectable so tests decide what "now" is.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from dateutil import rrule

from cadence.normalised import EVENT_TYPES, RESPONSES, normalise_email

SIDES = frozenset({"google", "outlook"})
FREQS: dict[str, Literal[1, 2, 3]] = {"MONTHLY": 1, "WEEKLY": 2, "DAILY": 3}  # dateutil's
WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}

Clock = Callable[[], datetime]
CUT_OFF_HORIZON = timedelta(days=400)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until a test moves it (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    manager: str | None = None
    side: str = "google"  # which stand-in holds their mailbox: google | outlook
    suspended: bool = False
    # What the directory says of where they work, as the stand-ins serve it: a code ("DE",
    # "US-CA": Graph's usageLocation and state, a Google address's countryCode and region) or a
    # name ("Germany": Graph's free-text country, a Google address without a code); the time zone
    # as their calendar or mailbox settings say it (IANA for Google, a Windows name for Graph).
    country: str | None = None
    timezone: str | None = None

    def country_parts(self) -> tuple[str | None, str | None, str | None]:
        """(code, subdivision, name) of what the directory says of their country."""
        if self.country is None:
            return None, None, None
        code, _, sub = self.country.partition("-")
        if len(code) == 2 and code.isalpha() and code.isupper():
            return code, sub or None, None
        return None, None, self.country


@dataclass(frozen=True)
class Recurrence:
    """An RRULE of the kinds cadence meets: daily, weekly on some days, monthly; UNTIL or COUNT."""

    freq: str = "WEEKLY"
    interval: int = 1
    byday: tuple[str, ...] = ()
    until: datetime | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.freq not in FREQS:
            raise ValueError(f"unsupported FREQ {self.freq!r}")
        if any(d not in WEEKDAYS for d in self.byday):
            raise ValueError(f"bad BYDAY {self.byday!r}")

    def rrule_line(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(self.byday))
        if self.until is not None:
            parts.append("UNTIL=" + self.until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        return "RRULE:" + ";".join(parts)


@dataclass(frozen=True)
class Guest:
    """An attendee of a series: a person, or a room/resource (``resource=True``)."""

    email: str
    response: str = "needsAction"
    response_at: datetime | None = None
    optional: bool = False
    resource: bool = False


@dataclass(frozen=True)
class InstanceChange:
    """What happened to one occurrence (keyed by its original start)."""

    cancelled: bool = False
    cancelled_at: datetime | None = None
    start: datetime | None = None  # moved: the new start and end
    end: datetime | None = None
    responses: tuple[tuple[str, str, datetime], ...] = ()  # (email, response, at)
    updated: datetime | None = None


@dataclass
class Series:
    uid: str
    organizer: str
    guests: list[Guest]
    start: datetime  # first occurrence (UTC); for all-day, midnight UTC of the day
    duration: timedelta
    all_day: bool = False
    event_type: str = "default"
    recurrence: Recurrence | None = None
    created: datetime | None = None
    updated: datetime | None = None
    cancelled: bool = False
    cancelled_at: datetime | None = None
    removed: set[str] = field(default_factory=set)  # attendees taken off: they see it cancelled
    changes: dict[datetime, InstanceChange] = field(default_factory=dict)

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None

    def participants(self) -> set[str]:
        """The people whose calendars hold this series (organizer and non-resource guests)."""
        return {self.organizer} | {g.email for g in self.guests if not g.resource}

    def visible_to(self, email: str) -> bool:
        return email in self.participants() or email in self.removed

    def original_starts(self, start: datetime, end: datetime) -> list[datetime]:
        """Original starts of the occurrences whose original span overlaps [start, end)."""
        if self.recurrence is None:
            return [self.start] if self.start < end and self.start + self.duration > start else []
        r = self.recurrence
        rule = rrule.rrule(
            FREQS[r.freq],
            dtstart=self.start,
            interval=r.interval,
            byweekday=[WEEKDAYS[d] for d in r.byday] or None,
            until=r.until,
            count=r.count,
        )
        return rule.between(start - self.duration, end, inc=False)

    def is_occurrence(self, original_start: datetime) -> bool:
        return original_start in self.original_starts(
            original_start, original_start + timedelta(microseconds=1)
        )


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series as it stands now (exceptions applied)."""

    series: Series
    original_start: datetime
    start: datetime
    end: datetime
    cancelled: bool
    cancelled_at: datetime | None
    guests: tuple[Guest, ...]
    updated: datetime | None

    @property
    def moved(self) -> bool:
        return self.start != self.original_start


@dataclass(frozen=True)
class Change:
    seq: int
    uid: str
    original_start: datetime | None  # None: the whole series changed
    at: datetime


class World:
    """People and series, with a change log; every method is safe to call from any thread."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.people: dict[str, Person] = {}
        self.series: dict[str, Series] = {}
        self.log: list[Change] = []
        self._by_person: dict[str, set[str]] = {}
        self._changes_of: dict[str, list[Change]] = {}  # person -> their series' changes, by seq
        self._sorted_people: dict[str, list[Person]] = {}  # side -> people_on(side), until a change
        self._lock = threading.RLock()

    # -- people -------------------------------------------------------------------------------

    def add_person(
        self,
        email: str,
        name: str,
        manager: str | None = None,
        side: str = "google",
        suspended: bool = False,
        *,
        country: str | None = None,
        timezone: str | None = None,
    ) -> Person:
        if side not in SIDES:
            raise ValueError(f"side must be one of {sorted(SIDES)}")
        p = Person(
            normalise_email(email),
            name,
            normalise_email(manager) if manager else None,
            side,
            suspended,
            country,
            timezone,
        )
        with self._lock:
            self.people[p.email] = p
            self._sorted_people.clear()
        return p

    def person(self, email: str) -> Person | None:
        return self.people.get(normalise_email(email))

    def people_on(self, side: str) -> list[Person]:
        """The people on one side, by address (kept between calls: directory listings page
        through it, a page a request)."""
        with self._lock:
            if side not in self._sorted_people:
                on = (p for p in self.people.values() if p.side == side)
                self._sorted_people[side] = sorted(on, key=_email)
            return list(self._sorted_people[side])

    # -- change log ---------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        with self._lock:
            return len(self.log)

    def changes_since(self, seq: int) -> list[Change]:
        with self._lock:
            return self.log[seq:]

    def changes_for(self, email: str, since: int, upto: int | None = None) -> list[Change]:
        """The changes to series in ``email``'s calendar (as participant, or taken off) with a
        sequence in (``since``, ``upto``], oldest first."""
        with self._lock:
            changes = self._changes_of.get(normalise_email(email), [])
            first = bisect.bisect_right(changes, since, key=_seq)
            last = len(changes) if upto is None else bisect.bisect_right(changes, upto, key=_seq)
            return changes[first:last]

    def _record(self, uid: str, original_start: datetime | None, at: datetime) -> None:
        change = Change(len(self.log) + 1, uid, original_start, at)
        self.log.append(change)
        s = self.series[uid]
        for email in s.participants() | s.removed:
            self._changes_of.setdefault(email, []).append(change)

    # -- series -------------------------------------------------------------------------------

    def add_series(
        self,
        uid: str,
        organizer: str,
        attendees: Iterable[str | Guest],
        start: datetime,
        duration: timedelta,
        recurrence: Recurrence | None = None,
        *,
        all_day: bool = False,
        event_type: str = "default",
        at: datetime | None = None,
    ) -> Series:
        """Add a series (or, without ``recurrence``, a one-off); the organizer accepts it."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        at = at or self.clock()
        organizer = normalise_email(organizer)
        guests = [
            replace(g, email=normalise_email(g.email))
            if isinstance(g, Guest)
            else Guest(normalise_email(g))
            for g in attendees
        ]
        if all(g.email != organizer for g in guests):
            guests.insert(0, Guest(organizer, "accepted", at))
        for g in guests:
            if g.response not in RESPONSES:
                raise ValueError(f"unknown response {g.response!r}")
        s = Series(
            uid=uid,
            organizer=organizer,
            guests=guests,
            start=start.astimezone(UTC),
            duration=duration,
            all_day=all_day,
            event_type=event_type,
            recurrence=recurrence,
            created=at,
            updated=at,
        )
        with self._lock:
            if uid in self.series:
                raise ValueError(f"series {uid!r} exists")
            self.series[uid] = s
            for email in s.participants():
                self._by_person.setdefault(email, set()).add(uid)
            self._record(uid, None, at)
        return s

    def add_one_off(
        self,
        uid: str,
        organizer: str,
        attendees: Iterable[str | Guest],
        start: datetime,
        duration: timedelta,
        *,
        all_day: bool = False,
        event_type: str = "default",
        at: datetime | None = None,
    ) -> Series:
        return self.add_series(
            uid,
            organizer,
            attendees,
            start,
            duration,
            None,
            all_day=all_day,
            event_type=event_type,
            at=at,
        )

    def series_of(self, email: str) -> list[Series]:
        """Every series the person's calendar holds (or held, if they were taken off)."""
        with self._lock:
            return [self.series[u] for u in sorted(self._by_person.get(normalise_email(email), ()))]

    def _get(self, uid: str) -> Series:
        try:
            return self.series[uid]
        except KeyError:
            raise KeyError(f"no series {uid!r}") from None

    def _change(self, s: Series, original_start: datetime) -> InstanceChange:
        if not s.is_occurrence(original_start):
            raise ValueError(f"{original_start.isoformat()} is not an occurrence of {s.uid}")
        return s.changes.get(original_start, InstanceChange())

    def cancel_instance(
        self, uid: str, original_start: datetime, at: datetime | None = None
    ) -> None:
        """The organizer cancels one occurrence."""
        at = at or self.clock()
        with self._lock:
            s = self._get(uid)
            c = self._change(s, original_start)
            s.changes[original_start] = replace(c, cancelled=True, cancelled_at=at, updated=at)
            self._record(uid, original_start, at)

    def cancel_series(
        self, uid: str, at: datetime | None = None, from_start: datetime | None = None
    ) -> None:
        """The organizer deletes the series, or (``from_start``) ends it before that occurrence."""
        at = at or self.clock()
        with self._lock:
            s = self._get(uid)
            if from_start is None or s.recurrence is None or from_start <= s.start:
                s.cancelled, s.cancelled_at = True, at
            else:
                # Occurrences cut off by the shortened series are shown to syncs as cancelled,
                # as Google does after an UNTIL is added.
                cut = s.original_starts(from_start, from_start + CUT_OFF_HORIZON)
                for t in cut:
                    c = s.changes.get(t, InstanceChange())
                    s.changes[t] = replace(c, cancelled=True, cancelled_at=at, updated=at)
                s.recurrence = replace(
                    s.recurrence, until=from_start - timedelta(seconds=1), count=None
                )
            s.updated = at
            self._record(uid, None, at)

    def decline(
        self,
        uid: str,
        email: str,
        original_start: datetime | None = None,
        at: datetime | None = None,
        response: str = "declined",
    ) -> None:
        """An attendee answers one occurrence, or (no ``original_start``) the whole series."""
        if response not in RESPONSES:
            raise ValueError(f"unknown response {response!r}")
        at = at or self.clock()
        email = normalise_email(email)
        with self._lock:
            s = self._get(uid)
            if all(g.email != email for g in s.guests):
                raise ValueError(f"{email} is not invited to {uid}")
            if original_start is None:
                s.guests = [
                    replace(g, response=response, response_at=at) if g.email == email else g
                    for g in s.guests
                ]
                s.updated = at
            else:
                c = self._change(s, original_start)
                kept = tuple(r for r in c.responses if r[0] != email)
                s.changes[original_start] = replace(
                    c, responses=(*kept, (email, response, at)), updated=at
                )
            self._record(uid, original_start, at)

    def move_instance(
        self,
        uid: str,
        original_start: datetime,
        new_start: datetime,
        new_end: datetime | None = None,
        at: datetime | None = None,
    ) -> None:
        """The organizer moves one occurrence (a one-off: its only one) to another time."""
        at = at or self.clock()
        with self._lock:
            s = self._get(uid)
            c = self._change(s, original_start)
            end = new_end or new_start + s.duration
            s.changes[original_start] = replace(c, start=new_start, end=end, updated=at)
            self._record(uid, original_start, at)

    def remove_attendee(self, uid: str, email: str, at: datetime | None = None) -> None:
        """The organizer takes someone off the series: it leaves their calendar (as cancelled)."""
        at = at or self.clock()
        email = normalise_email(email)
        with self._lock:
            s = self._get(uid)
            s.guests = [g for g in s.guests if g.email != email]
            s.removed.add(email)
            s.updated = at
            self._record(uid, None, at)

    # -- reading ------------------------------------------------------------------------------

    def occurrence(self, s: Series, original_start: datetime) -> Occurrence:
        """One occurrence with its exception applied."""
        with self._lock:
            c = s.changes.get(original_start, InstanceChange())
            responses = {e: (r, t) for e, r, t in c.responses}
            guests = tuple(
                replace(g, response=responses[g.email][0], response_at=responses[g.email][1])
                if g.email in responses
                else g
                for g in s.guests
            )
            cancelled = s.cancelled or c.cancelled
            updated = max(t for t in (s.updated, c.updated) if t is not None)
            return Occurrence(
                series=s,
                original_start=original_start,
                start=c.start or original_start,
                end=c.end or original_start + s.duration,
                cancelled=cancelled,
                cancelled_at=c.cancelled_at if c.cancelled else s.cancelled_at,
                guests=guests,
                updated=updated,
            )

    def occurrences(self, s: Series, start: datetime, end: datetime) -> list[Occurrence]:
        """Occurrences of ``s`` whose actual span (original, if cancelled) overlaps [start, end)."""
        with self._lock:
            # Exceptions count too: a moved occurrence may come from outside the range, and a
            # cut-off one is no longer produced by the rule.
            originals = set(s.original_starts(start, end)) | set(s.changes)
            out = []
            for t in sorted(originals):
                o = self.occurrence(s, t)
                if o.end > start and o.start < end:
                    out.append(o)
            return out

    def instances(self, email: str, start: datetime, end: datetime) -> list[Occurrence]:
        """Every occurrence in a person's calendar overlapping [start, end), by original start."""
        with self._lock:
            found = [o for s in self.series_of(email) for o in self.occurrences(s, start, end)]
        return sorted(found, key=lambda o: (o.original_start, o.series.uid))


def all_day_start(day: date) -> datetime:
    """The UTC midnight an all-day series is stored at."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _email(p: Person) -> str:
    return p.email


def _seq(c: Change) -> int:
    return c.seq
