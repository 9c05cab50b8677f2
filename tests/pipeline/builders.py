"""Build calendar events as the connectors store them, and people rows, for pipeline tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from cadence.config import Config, parse_config
from cadence.normalised import Attendee, Event
from cadence.store.models import Alias, Person
from cadence.store.upsert import save_events

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday, noon
SYNC = AS_OF - timedelta(days=200)  # the mailboxes' first sync
MGR, REP, BOSS = "mia@acme.test", "rob@acme.test", "dana@acme.test"


def at(days: float, hour: int = 10) -> datetime:
    """``days`` before as-of's date at ``hour`` UTC (negative: in the future)."""
    return AS_OF.replace(hour=hour) - timedelta(days=days)


def add_people(
    engine: Engine,
    rows: Iterable[tuple[str, str, str | None]],
    aliases: dict[str, str] | None = None,
) -> None:
    """(email, name, manager_email) rows, and ``aliases`` (alias -> email)."""
    people = [{"email": e, "name": n, "manager_email": m, "team": None} for e, n, m in rows]
    with engine.begin() as conn:
        if people:
            conn.execute(insert(Person), people)
        if aliases:
            conn.execute(
                insert(Alias),
                [{"alias": a, "email": e} for a, e in aliases.items()],
            )


def small_org(engine: Engine) -> None:
    """dana manages mia; mia manages rob."""
    add_people(engine, [(BOSS, "Dana", None), (MGR, "Mia", BOSS), (REP, "Rob", MGR)])


@dataclass
class Meeting:
    """One occurrence of a 1:1 (or any meeting) as both calendars hold it."""

    uid: str
    original_start: datetime
    people: Sequence[str] = (MGR, REP)
    organizer: str = MGR
    start: datetime | None = None
    minutes: int = 30
    recurrence: str | None = None
    status: str = "confirmed"
    updated: datetime | None = None
    declined: dict[str, datetime | None] = field(default_factory=dict)
    rooms: Sequence[str] = ()
    all_day: bool = False
    event_type: str = "default"
    calendars: Sequence[str] | None = None  # default: every person's
    graph: bool = False  # Graph's ids: an iCalUId per occurrence, a series id per mailbox

    def copies(self, source: str = "g") -> list[Event]:
        start = self.start or self.original_start
        series = self.recurrence is not None
        attendees = tuple(
            Attendee(
                email=p,
                response="declined" if p in self.declined else "accepted",
                is_organizer=p == self.organizer,
                response_at=self.declined.get(p),
            )
            for p in self.people
        ) + tuple(Attendee(email=r, response="accepted", is_resource=True) for r in self.rooms)
        suffix = self.original_start.strftime("%Y%m%dT%H%M%SZ")
        source = "m365" if self.graph else source
        return [
            Event(
                source=source,
                mailbox=mailbox,
                event_id=f"{self.uid}_{suffix}_{mailbox}"
                if self.graph
                else (f"{self.uid}_{suffix}" if series else self.uid),
                status=self.status,
                ical_uid=f"{self.uid}_{suffix}" if self.graph and series else self.uid,
                series_id=(f"{self.uid}_{mailbox}" if self.graph else self.uid) if series else None,
                original_start=self.original_start if series else start,
                start=start,
                end=start + timedelta(minutes=self.minutes),
                all_day=self.all_day,
                event_type=self.event_type,
                organizer=self.organizer,
                recurrence=self.recurrence,
                updated=self.updated,
                attendees=attendees,
            )
            for mailbox in (self.calendars or self.people)
        ]


def weekly(uid: str, first: datetime, count: int, **kw: object) -> list[Meeting]:
    rule = kw.pop("recurrence", "RRULE:FREQ=WEEKLY;BYDAY=MO")
    return [
        Meeting(uid, first + timedelta(weeks=i), recurrence=rule, **kw)  # type: ignore[arg-type]
        for i in range(count)
    ]


def store(
    engine: Engine, meetings: Iterable[Meeting], seen_at: datetime = SYNC, first_sync: bool = True
) -> None:
    save(engine, [e for m in meetings for e in m.copies()], seen_at, first_sync)


def save(engine: Engine, events: list[Event], seen_at: datetime, first_sync: bool) -> None:
    with engine.begin() as conn:
        save_events(conn, events, seen_at=seen_at, first_sync=first_sync)


def changed(m: Meeting, **kw: object) -> Meeting:
    return replace(m, **kw)  # type: ignore[arg-type]


def config(**health: object) -> Config:
    return parse_config({"health": dict(health)} if health else {})


def team(manager: str, *names: str) -> list[tuple[str, str, str | None]]:
    """People rows for :func:`add_people`: each of ``names`` (email ``name@acme.test``, lower
    case) reporting to ``manager``, so a small org reads as its tree."""
    return [(f"{name.lower()}@acme.test", name, manager) for name in names]
